"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from hub.api.deps import ContextDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(ctx: ContextDep) -> JSONResponse:
    """Ready (200) when the database answers; 503 naming what is down when it does not.

    With RabbitMQ, a broker that is down makes the hub ``degraded`` but still
    ready: ingest goes on (the outbox buffers) and a load balancer that routes on
    this endpoint must keep sending partners here. The body names the broker's
    state, so monitoring sees it.
    """
    checks = {"database": "ok"}
    try:
        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        checks["database"] = type(exc).__name__
    if ctx.transport is not None:
        checks.update(ctx.transport.health())
    if checks["database"] != "ok":
        return JSONResponse({"status": "unavailable", **checks},
                            status_code=503, headers={"Retry-After": "5"})
    degraded = any(state != "ok" for state in checks.values())
    return JSONResponse({"status": "degraded" if degraded else "ready", **checks})
