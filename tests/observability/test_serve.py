"""``hub serve`` as operators run it: JSON logs, one correlation id, a metrics port."""

from __future__ import annotations

import json

import pytest

from hub.core.context import build_context
from hub.core.migrate import upgrade
from hub.settings import Settings
from tests.observability.helpers import samples, value
from tests.system.test_crash import Server, _free_port
from tests.utils import loopback
from tests.utils.builders import arrears, partner, person, register
from tests.utils.waiting import wait_until

pytestmark = pytest.mark.slow
TOKEN = "scrape-credential-for-hub-serve-0001"

CID = "5e7e5e7e-0a0b-4c0c-9d9d-0a0b0c0d0e01"  # an opaque id, as a partner sends it


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_hub_serve_logs_json_with_one_id_and_serves_metrics(tmp_path, database_url):
    data_dir = tmp_path / "data"
    ctx = build_context(Settings(data_dir=data_dir, database_url=database_url))
    upgrade(ctx.engine)
    anna = person(5401)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    ctx.dispose()

    server = Server(data_dir, database_url, tmp_path / "hub.log")
    metrics_port = _free_port()
    server.env.update({"HUB_LOG_FORMAT": "json", "HUB_METRICS_TOKEN": TOKEN,
                       "HUB_METRICS_PORT": str(metrics_port)})
    server.start()
    scrape = f"http://127.0.0.1:{metrics_port}/metrics"
    try:
        r = loopback.post(f"{server.url}/api/v1/messages", json=arrears(anna, ref="S-1"),
                       headers={**woonbron, "X-Correlation-ID": CID}, timeout=10)
        assert r.status_code == 202, r.text
        message_id = r.json()["id"]
        def delivered() -> float:  # the in-process worker routes it; wait for it
            scraped = samples(loopback.get(scrape, headers={"Authorization": f"Bearer {TOKEN}"},
                                        timeout=5).text)
            return value(scraped, "wijkhub_messages_out_total", partner="Woonbron",
                         type="signal.arrears.rent", basis="statute", outcome="delivered")

        assert wait_until(delivered, "the message was not delivered") == 1
        assert loopback.get(scrape, timeout=5).status_code == 401
    finally:
        server.stop()

    lines = [json.loads(line) for line in (tmp_path / "hub.log").read_text().splitlines()]
    assert any(rec["logger"].startswith("uvicorn") for rec in lines)  # uvicorn's lines too
    about = [rec for rec in lines if message_id in rec["message"]]
    assert [(rec["logger"], rec["correlation_id"]) for rec in about] == [
        ("hub.core.ingest", CID), ("hub.core.router", CID)]
    assert anna.name not in (tmp_path / "hub.log").read_text()
