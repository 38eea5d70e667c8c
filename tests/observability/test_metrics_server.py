"""serve_metrics: a /metrics listener of its own, for processes without the API (hub worker)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from hub.core.context import HubContext
from hub.core.metrics_server import MetricsServer, serve_metrics
from hub.settings import Settings
from tests.observability.helpers import samples, sqlite_only, value
from tests.utils import loopback
from tests.utils.builders import arrears, operator, partner, person, regisseur, register

TOKEN = "scrape-credential-for-the-worker-0001"


@pytest.fixture
def served(ctx: HubContext) -> Iterator[tuple[HubContext, MetricsServer]]:
    """A worker-like hub (a scrape token, a metrics port picked by the OS) serving metrics."""
    worker_ctx = dataclasses.replace(ctx, settings=ctx.settings.model_copy(
        update={"metrics_token": SecretStr(TOKEN), "metrics_port": 0}))
    server = serve_metrics(worker_ctx)
    try:
        yield worker_ctx, server
    finally:
        server.close()


def test_the_setting_reads_a_port():
    assert Settings(metrics_port="9464").metrics_port == 9464
    assert Settings().metrics_port is None
    with pytest.raises(ValueError, match="metrics_port"):
        Settings(metrics_port=70000)
    with pytest.raises(ValueError, match="metrics_token"):
        Settings(metrics_token="short")


@sqlite_only
def test_a_worker_process_is_scrapeable_with_what_it_routed(served, client, worker):
    worker_ctx, server = served
    register(worker_ctx, person(5301))
    _, woonbron = partner(worker_ctx)
    assert client.post("/api/v1/messages", json=arrears(person(5301), ref="W-1"),
                       headers=woonbron).status_code == 202
    worker.drain()  # routing counts in the hub that routes: this one
    url = f"http://127.0.0.1:{server.port}/metrics"
    r = loopback.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    scraped = samples(r.text)
    assert value(scraped, "wijkhub_messages_out_total", partner="Woonbron",
                 type="signal.arrears.rent", basis="statute", outcome="delivered") == 1
    assert value(scraped, "wijkhub_store_up") == 1
    assert loopback.get(url, headers=operator(worker_ctx)).status_code == 200


@sqlite_only
def test_the_worker_listener_asks_for_the_same_credentials(served, ctx):
    worker_ctx, server = served
    url = f"http://127.0.0.1:{server.port}/metrics"
    missing = loopback.get(url)
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "authorization" in missing.json()["detail"]
    assert loopback.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert loopback.get(url, headers=regisseur(worker_ctx)).status_code == 403


@sqlite_only
def test_no_port_no_listener(ctx):
    with pytest.raises(ValueError, match="HUB_METRICS_PORT"):
        serve_metrics(ctx)


@sqlite_only
def test_closing_frees_the_port(ctx):
    server = serve_metrics(ctx, port=0)
    port = server.port
    server.close()
    with pytest.raises(httpx.TransportError):
        loopback.get(f"http://127.0.0.1:{port}/metrics", timeout=5)


@sqlite_only
def test_the_cli_starts_a_listener_only_when_a_port_is_set(ctx):
    from hub.cli.common import start_metrics_listener

    assert start_metrics_listener(ctx) is None
    with_port = dataclasses.replace(ctx, settings=ctx.settings.model_copy(
        update={"metrics_port": 0}))
    server = start_metrics_listener(with_port)
    try:
        assert loopback.get(f"http://127.0.0.1:{server.port}/metrics").status_code == 401
    finally:
        server.close()
