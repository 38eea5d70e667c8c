"""Every client error as application/problem+json (RFC 9457), naming field and reason."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.core.errors import FieldProblem, HubProblem

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


def problem_response(status: int, title: str, problems: list[FieldProblem] | None = None,
                     *, detail: str | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    """A problem+json response; ``errors`` lists each field with its reason."""
    problems = problems or []
    body = {"type": "about:blank", "title": title, "status": status,
            "detail": detail or ("; ".join(f"{p.field}: {p.reason}" for p in problems) or title)}
    if problems:
        body["errors"] = [{"field": p.field, "reason": p.reason} for p in problems]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    @app.exception_handler(HubProblem)
    async def _hub_problem(_request: Request, exc: HubProblem):
        return problem_response(exc.status, exc.title, exc.problems, detail=exc.detail,
                                headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError):
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            if loc and loc[0] in ("body", "query", "path", "header"):
                loc = loc[1:] or loc
            problems.append(FieldProblem(".".join(loc) or "body",
                                         str(err.get("msg", "invalid")).removeprefix(
                                             "Value error, ")))
        return problem_response(422, "Invalid input", problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException):
        return problem_response(exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(OperationalError)
    async def _database_down(_request: Request, exc: OperationalError):
        # The database is away: the partner must retry, and nothing was stored.
        log.error("database unavailable: %s", type(exc.orig).__name__)
        return problem_response(503, "Service unavailable, try again shortly",
                                headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception):
        # Never a stack trace or message data in a response; the log has the type only.
        log.error("unhandled %s", type(exc).__name__, exc_info=False)
        return problem_response(500, "Internal error")
