"""The ``X-Correlation-ID`` header: taken from the caller when safe, made up otherwise.

asgi-correlation-id's middleware does the work; the hub gives it its own rule
for what is safe (:func:`hub.core.correlation.is_acceptable`: no personal data
can hide in an id that reaches the logs) and its own id generator. The id is
bound for the whole request, so every log line of it carries the id and
ingest stores it with the message, and it is echoed in the response, also on
errors, so a partner can quote it to the operator.
"""

from __future__ import annotations

from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI

from hub.core import correlation

HEADER = "X-Correlation-ID"


def install(app: FastAPI) -> None:
    """Add the middleware; call it last, so it is outermost and every answer gets the id."""
    app.add_middleware(CorrelationIdMiddleware, header_name=HEADER,
                       validator=correlation.is_acceptable, generator=correlation.new_id)
