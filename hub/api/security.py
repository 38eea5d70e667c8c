"""What every response carries and who may call from a browser: security headers, CORS.

Also puts the per-app partner gate (key cache and rate limiter) on ``app.state``.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.core.context import HubContext
from hub.core.partner_keys import KeyVerifier
from hub.core.ratelimit import RateLimiter
from hub.core.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER

# Every response: the API answers JSON about named residents; nothing may be cached,
# framed, sniffed into HTML, or leak its URL (which holds ids) to another site.
HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
# The interactive API documentation (served from the package, hub/api/docs_ui.py) runs
# Swagger UI's inline start-up script.
DOCS_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
            "frame-ancestors 'none'")
DOCS_PATHS = ("/docs",)
HSTS = "max-age=63072000; includeSubDomains"


@dataclass
class PartnerGate:
    """Per app: the cache of verified partner keys and the per-partner rate limiter."""

    keys: KeyVerifier
    limiter: RateLimiter


def security_headers(scope: Scope) -> dict[str, str]:
    """The headers a response to ``scope`` must carry (HSTS only over TLS); a dict of the
    caller's own."""
    return dict(_headers(*_variant(scope)))


def _variant(scope: Scope) -> tuple[bool, bool]:
    # Which of the four header sets: the API docs (their own CSP), and over TLS (HSTS).
    return scope.get("path", "").startswith(DOCS_PATHS), scope.get("scheme") == "https"


@functools.cache
def _headers(docs: bool, tls: bool) -> dict[str, str]:
    headers = dict(HEADERS)
    if docs:
        headers["Content-Security-Policy"] = DOCS_CSP
    if tls:
        headers["Strict-Transport-Security"] = HSTS
    return headers


@functools.cache
def _raw_headers(docs: bool, tls: bool) -> tuple[tuple[bytes, bytes], ...]:
    # As ASGI sends them: lower-case names, bytes. Four variants, made once each rather
    # than encoded again for every response (issue 14).
    return tuple((name.lower().encode(), value.encode())
                 for name, value in _headers(docs, tls).items())


class SecurityHeaders:
    """Adds :func:`security_headers` to every HTTP response that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = _raw_headers(*_variant(scope))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                present = {name.lower() for name, _ in headers}
                message["headers"] = [*headers, *(
                    header for header in extra if header[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class NoTracebacks(logging.Filter):
    """Keeps a record but drops its traceback and exception text, naming only the type.

    Starlette re-raises an unhandled exception after the 500 is sent, and uvicorn
    logs it with its traceback, whose last line is the exception's message: that
    may hold a BSN or message data (issue 5: no secrets in any log line).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite a record that carries an exception; never drop a record."""
        if record.exc_info:
            exc_type = record.exc_info[0]
            name = exc_type.__name__ if exc_type is not None else "exception"
            record.msg = f"{record.getMessage().rstrip()} ({name}; traceback withheld)"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_server_tracebacks() -> None:
    """Install :class:`NoTracebacks` on the server's error logger (once per process)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, NoTracebacks) for f in logger.filters):
        logger.addFilter(NoTracebacks())


def install(app: FastAPI, ctx: HubContext) -> None:
    """Add the partner gate, CORS (only for configured origins) and the security headers.

    Call after every other middleware: the headers then wrap all responses,
    including the body-limit's 413 and CORS pre-flight answers.
    """
    settings = ctx.settings
    quiet_server_tracebacks()
    app.state.partner_gate = PartnerGate(
        keys=KeyVerifier.from_settings(settings, clock=ctx.clock),
        limiter=RateLimiter(rate=settings.partner_rate_per_second,
                            burst=settings.partner_rate_burst, clock=ctx.clock))
    origins = settings.cors_origin_list
    if origins:
        # Tokens travel in the Authorization header, never in cookies: no credentials.
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_credentials=False,
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", SIGNATURE_HEADER,
                                          TIMESTAMP_HEADER],
                           max_age=600)
    app.add_middleware(SecurityHeaders)
