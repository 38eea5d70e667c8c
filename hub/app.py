"""The FastAPI application: a thin factory that wires the core to HTTP."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from hub.api import health, inbox, me, openapi, partners, problems
from hub.api.limits import BodyLimit
from hub.core.context import HubContext
from hub.core.worker import OutboxWorker


def create_app(ctx: HubContext, *, run_worker: bool | None = None) -> FastAPI:
    """Build the app for a hub; with ``run_worker`` the embedded queue drains in-process."""
    run_worker = ctx.settings.worker_enabled if run_worker is None else run_worker

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        thread = None
        if run_worker:
            thread = threading.Thread(target=OutboxWorker(ctx).run_forever, args=(stop,),
                                      name="outbox-worker", daemon=True)
            thread.start()
        try:
            yield
        finally:
            stop.set()
            ctx.work_available.set()
            if thread is not None:
                thread.join(timeout=30)

    app = FastAPI(title="Wijkhub", version="0.1.0", lifespan=lifespan,
                  description="The road between a neighbourhood's partners and the "
                              "Sociaal wijkteam, gated by the resident's consent.")
    app.state.hub = ctx
    problems.install(app)
    app.add_middleware(BodyLimit, max_bytes=ctx.settings.max_body_bytes,
                       batch_max_bytes=ctx.settings.max_batch_bytes)
    for module in (health, partners, inbox, me):
        app.include_router(module.router)
    openapi.install(app)
    return app
