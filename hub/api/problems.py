"""Every client error as application/problem+json (RFC 9457), naming field and reason."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    InterfaceError,
    OperationalError,
    StatementError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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

    @app.exception_handler(PoolTimeout)
    async def _pool_exhausted(_request: Request, _exc: PoolTimeout):
        # Every connection is busy (a burst of requests): the partner retries, never a 500
        # (issue 13, item 5).
        log.warning("database connection pool exhausted")
        return problem_response(503, "Service busy, try again shortly",
                                headers={"Retry-After": "2"})

    @app.exception_handler(DataError)
    async def _unstorable(_request: Request, exc: DataError):
        # The last line behind the input checks: a value the database cannot hold (a NUL
        # byte in a text, a number past its range) is the client's, and nothing was stored.
        log.warning("value refused by the database: %s", type(exc.orig).__name__)
        return problem_response(422, "Invalid input", [FieldProblem(
            "body", "holds a value that cannot be stored (a NUL byte or a number out of "
                    "range)")])

    @app.exception_handler(StatementError)
    async def _unbindable(request: Request, exc: StatementError):
        # Before the database: a value its column type cannot bind. A date whose offset
        # carries it past year 9999 in UTC is the one seen (the input checks refuse those
        # by name; this is the net behind them). Anything else stays a 500.
        if not isinstance(exc.orig, OverflowError):
            return await _unexpected(request, exc)
        log.warning("value refused before the database: %s", type(exc.orig).__name__)
        return problem_response(422, "Invalid input", [FieldProblem(
            "body", "holds a date or number outside the range the hub can store")])

    @app.exception_handler(DBAPIError)
    async def _database_connection_lost(request: Request, exc: DBAPIError):
        # A connection that died mid-request (a failover, a restart) is the database being
        # away too: 503 and retry, never a 500 (issue 3). Anything else stays a 500.
        if exc.connection_invalidated or isinstance(exc, InterfaceError):
            return await _database_down(request, exc)
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        # Never a stack trace or message data in a response; the log has the type only.
        log.error("unhandled %s", type(exc).__name__, exc_info=False)
        # Starlette answers this outside every middleware: add the security headers here.
        from hub.api.security import security_headers

        return problem_response(500, "Internal error", headers=security_headers(request.scope))

    # Outside every middleware, whatever order they are added in: see CatchAll.
    build_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: CatchAll(build_stack())


class CatchAll:
    """Keeps every exception from the server, so none is logged with its traceback.

    Starlette's last-resort handler (``_unexpected`` above) answers and then
    re-raises, so that the server logs the traceback, and with it whatever the
    exception's message quotes (a BSN, a name). This wraps the whole app: what
    was answered is swallowed here (``_unexpected`` logged its type); what was
    not is answered with a bare 500 and logged by type.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if not started:
                log.error("unhandled %s", type(exc).__name__)
                await problem_response(500, "Internal error")(scope, receive, send)
