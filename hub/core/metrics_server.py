"""Who may scrape the metrics, and a separate metrics listener for processes without the API.

The metrics carry no personal data, but they are the operator's view: partners'
names and their volumes per message type. So every metrics endpoint asks for a
bearer credential, the same rule on the API port and on ``HUB_METRICS_PORT``:
an operator token, or the scrape credential ``HUB_METRICS_TOKEN`` that a
Prometheus server keeps in its ``authorization.credentials_file`` (operator
tokens expire; a scrape job needs something long-lived).
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from hub.core.context import HubContext
from hub.core.errors import FieldProblem, HubProblem
from hub.core.identity import IdentityError, verify_token

log = logging.getLogger(__name__)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def authorize_scrape(ctx: HubContext, authorization: str | None) -> None:
    """Return when ``authorization`` may read the metrics; raise a 401/403 problem otherwise."""
    scheme, _, credential = (authorization or "").partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise HubProblem(401, "Not authenticated", [FieldProblem(
            "authorization", "Missing bearer token")], headers=_CHALLENGE)
    expected = ctx.settings.metrics_token
    if expected is not None and hmac.compare_digest(
            credential.encode(), expected.get_secret_value().encode()):
        return
    try:
        principal = verify_token(ctx, credential)
    except IdentityError as exc:
        raise HubProblem(401, "Not authenticated", [FieldProblem(
            "authorization", str(exc))], headers=_CHALLENGE) from None
    if principal.role != "operator":
        raise HubProblem(403, "Only an operator may do this")


class _QuietHandler(WSGIRequestHandler):
    # wsgiref logs every request to stderr in its own format; scrapes are not news.
    def log_message(self, format: str, *args) -> None:
        pass


@dataclass
class MetricsServer:
    """A running metrics listener; ``close()`` stops it."""

    port: int
    _server: ThreadingWSGIServer
    _thread: threading.Thread

    def close(self) -> None:
        """Stop listening and wait for the serving thread to end."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def metrics_wsgi_app(ctx: HubContext):
    """The hub's metrics as a WSGI application, behind :func:`authorize_scrape`."""
    exposition = make_wsgi_app(ctx.metrics.exposed())

    def app(environ, start_response):
        try:
            authorize_scrape(ctx, environ.get("HTTP_AUTHORIZATION"))
        except HubProblem as problem:
            body = json.dumps({"type": "about:blank", "title": problem.title,
                               "status": problem.status, "detail": problem.detail}).encode()
            start_response(f"{problem.status} {problem.title}", [
                ("Content-Type", "application/problem+json"), *problem.headers.items()])
            return [body]
        return exposition(environ, start_response)

    return app


def serve_metrics(ctx: HubContext, port: int | None = None,
                  addr: str | None = None) -> MetricsServer:
    """Serve ``/metrics`` of this process on ``port`` (default ``HUB_METRICS_PORT``; 0 picks a
    free one) in a daemon thread, for processes without the API, such as ``hub worker``.
    """
    port = ctx.settings.metrics_port if port is None else port
    if port is None:
        raise ValueError("no metrics port: set HUB_METRICS_PORT")
    addr = ctx.settings.metrics_addr if addr is None else addr
    server = make_server(addr, port, metrics_wsgi_app(ctx), ThreadingWSGIServer,
                         handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="metrics-server", daemon=True)
    thread.start()
    log.info("metrics listening on %s:%s", addr, server.server_port)
    return MetricsServer(port=server.server_port, _server=server, _thread=thread)
