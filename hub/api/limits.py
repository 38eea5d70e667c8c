"""Request size limits, enforced while the body streams in, before anything is parsed."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.core.errors import FieldProblem, HubProblem


def _too_large(limit: int) -> HubProblem:
    return HubProblem(413, "Request body too large",
                      [FieldProblem("body", f"must be at most {limit} bytes")])


class BodyLimit:
    """Refuse bodies above a limit with 413; CSV batches get their own, larger limit."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, batch_max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.batch_max_bytes = batch_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.batch_max_bytes if scope["path"].endswith("/batch") else self.max_bytes
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
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


async def _send_problem(send: Send, problem: HubProblem) -> None:
    body = json.dumps({"type": "about:blank", "title": problem.title, "status": problem.status,
                       "detail": problem.detail,
                       "errors": [{"field": p.field, "reason": p.reason}
                                  for p in problem.problems]}).encode()
    await send({"type": "http.response.start", "status": problem.status,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
