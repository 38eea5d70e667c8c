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
    """Ready when the database answers; 503 (with what is down) when it does not."""
    try:
        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return JSONResponse({"status": "unavailable", "database": type(exc).__name__},
                            status_code=503, headers={"Retry-After": "5"})
    return JSONResponse({"status": "ready", "database": "ok"})
