"""``GET /metrics``: this process's metrics in the Prometheus text format (or OpenMetrics)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client.exposition import choose_encoder

from hub.api.deps import ContextDep
from hub.core.metrics_server import authorize_scrape

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response)
def metrics(request: Request, ctx: ContextDep) -> Response:
    """The hub's metrics, for an operator token or the scrape credential (HUB_METRICS_TOKEN).

    Labels name partners (organisations), message types, bases and outcomes, never a person.
    """
    authorize_scrape(ctx, request.headers.get("authorization"))
    # A plain (sync) route: the queue gauges read the store at scrape time.
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    # With hub serve's routing process, its counts too (hub.core.transport.worker_process).
    return Response(encoder(ctx.metrics.exposed()), media_type=content_type)
