"""The FastAPI application: a thin factory that wires the core to HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hub.api import audit as audit_api
from hub.api import (
    caseload,
    consents,
    correlation,
    docs_ui,
    health,
    households,
    inbox,
    me,
    metrics,
    openapi,
    ops,
    outreach,
    partners,
    plan,
    problems,
    security,
    withholdings,
)
from hub.api.limits import BodyLimit
from hub.api.request_metrics import RequestMetrics
from hub.api.routing import APP_DEPENDENCIES, include
from hub.core.context import HubContext
from hub.core.transport import build_transport
from hub.web import install as install_screens


def create_app(ctx: HubContext, *, run_worker: bool | None = None,
               worker_process: bool = False) -> FastAPI:
    """Build the app for a hub; with ``run_worker`` the embedded queue drains in-process,
    or with ``worker_process`` too in a child process that the app starts and stops."""
    run_worker = ctx.settings.worker_enabled if run_worker is None else run_worker

    # Embedded: the worker (when asked), a thread or a child process. RabbitMQ: the outbox
    # relay, never consumers.
    transport = build_transport(ctx, run_worker=run_worker, worker_process=worker_process)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        ctx.transport = transport
        transport.start()
        try:
            yield
        finally:
            transport.stop()
            ctx.transport = None

    # docs_url/redoc_url None: FastAPI's pages load from a CDN; docs_ui serves /docs locally.
    app = FastAPI(title="Wijkhub", version="0.1.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  # FastAPI's native OpenTelemetry off: the hub's metrics are Prometheus
                  # (hub.api.request_metrics) and its logs its own. Left on, FastAPI asks
                  # OpenTelemetry for its providers on every request (issue 14), and a
                  # configured exporter would ship paths that hold ids to a collector.
                  telemetry={"tracing": False, "metrics": False, "logs": False},
                  # Every route, also a plugin's: no control character in a path or query.
                  dependencies=list(APP_DEPENDENCIES),
                  description="The road between a neighbourhood's partners and the "
                              "Sociaal wijkteam, gated by the resident's consent.")
    app.state.hub = ctx
    problems.install(app)
    app.add_middleware(BodyLimit, max_bytes=ctx.settings.max_body_bytes,
                       batch_max_bytes=ctx.settings.max_batch_bytes,
                       fhir_max_bytes=ctx.settings.max_fhir_bytes)
    app.add_middleware(RequestMetrics, metrics=ctx.metrics)
    security.install(app, ctx)  # after the other middleware: its headers wrap them all
    # Outermost, so every answer (also a 413 or a problem) carries the correlation id.
    correlation.install(app)
    for module in (health, partners, plan, inbox, caseload, households, withholdings, me, ops,
                   outreach):
        include(app, module.router)
    include(app, outreach.me_router)
    include(app, metrics.router)
    audit_api.install(app)
    include(app, consents.router)
    include(app, consents.fhir_router)
    # Partners' own ingress (a FHIR endpoint, a Wmo desk's routes): the same core behind it.
    for plugin_router in ctx.plugins.routers():
        include(app, plugin_router)
    openapi.install(app)
    docs_ui.install(app)
    consents.install_openapi(app)
    # The screens (/mijn, /werkplek, /beheer): pages, not API; not in the OpenAPI document.
    install_screens(app)
    return app
