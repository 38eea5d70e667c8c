"""Request size limits, enforced while the body streams in, before anything is parsed."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from consent.fhir import Issue, operation_outcome
from hub.core.errors import FieldProblem, HubProblem


def _too_large(limit: int) -> HubProblem:
    return HubProblem(413, "Request body too large",
                      [FieldProblem("body", f"must be at most {limit} bytes")])


# The one route that takes a large body: a partner's CSV batch. Matched exactly (method
# and path), never by suffix: ``PATCH /api/v1/me/consents/batch`` once got 64 MiB too
# (issue 13, item 4).
BATCH_ROUTE = ("POST", "/api/v1/messages/batch")
# FHIR endpoints take one referral or one Consent: a few kilobytes, so a far smaller
# limit than the default (a hostile XML body is refused before it is parsed).
FHIR_PREFIXES = ("/fhir/", "/api/v1/fhir/")


class BodyLimit:
    """Refuse bodies above a limit with 413: the CSV batch route has a larger limit,
    FHIR routes a smaller one, everything else ``max_bytes``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, batch_max_bytes: int,
                 fhir_max_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.batch_max_bytes = batch_max_bytes
        self.fhir_max_bytes = fhir_max_bytes or max_bytes

    def limit_for(self, method: str, path: str) -> int:
        """The body limit of one request, by its exact method and path."""
        if (method, path.rstrip("/") or "/") == BATCH_ROUTE:
            return self.batch_max_bytes
        if (path + "/").startswith(FHIR_PREFIXES):
            return self.fhir_max_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            if limit == self.fhir_max_bytes and (scope["path"] + "/").startswith(FHIR_PREFIXES):
                await _send_outcome(send, limit)
            else:
                await _send_problem(send, _too_large(limit))
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Raised inside the route: the problem handler answers 413 and the
                    # route's transaction rolls back, so nothing is half-stored.
                    raise _too_large(limit)
            return message

        await self.app(scope, limited_receive, send)


async def _send_outcome(send: Send, limit: int) -> None:
    # A FHIR client reads an OperationOutcome; the routes answer the same when the body
    # only turns out too large while it streams in.
    body = json.dumps(operation_outcome([Issue("body", f"must be at most {limit} bytes",
                                               "too-costly")])).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/fhir+json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _send_problem(send: Send, problem: HubProblem) -> None:
    body = json.dumps({"type": "about:blank", "title": problem.title, "status": problem.status,
                       "detail": problem.detail,
                       "errors": [{"field": p.field, "reason": p.reason}
                                  for p in problem.problems]}).encode()
    await send({"type": "http.response.start", "status": problem.status,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
