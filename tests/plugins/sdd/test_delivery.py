"""Delivery of a Wmo request to the desk's own API: retries, then delivered exactly once.

respx stands in for the desk's server only; the hub's worker and outbox are real.
"""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from tests.plugins.sdd.helpers import desk, wmo_request
from tests.utils.builders import operator, person, regisseur, register

DESK = "https://wmo.sdd.example/api"
AANVRAGEN = f"{DESK}/wmo/aanvragen"


@pytest.fixture
def anna(ctx):
    who = person(1)
    register(ctx, who)
    return who


def _file(client, ctx, who) -> str:
    r = client.post("/api/v1/wmo/requests", json=wmo_request(who), headers=regisseur(ctx))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _follow(client, ctx, rid) -> dict:
    r = client.get(f"/api/v1/wmo/requests/{rid}", headers=regisseur(ctx))
    assert r.status_code == 200, r.text
    return r.json()


def test_timeout_then_500_then_201_is_delivered_once(ctx, client, worker, clock, anna):
    desk(ctx, endpoint=DESK)
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post(AANVRAGEN).mock(side_effect=[
            httpx.ReadTimeout("the desk is slow"),
            httpx.Response(500, json={"error": "busy"}),
            httpx.Response(201, json={"reference": "WMO-2026-0815"}),
        ])
        rid = _file(client, ctx, anna)
        assert _follow(client, ctx, rid)["status"] == "queued"

        worker.drain()
        first = _follow(client, ctx, rid)
        assert first["status"] == "queued"
        assert first["delivery"]["attempts"] == 1 and first["delivery"]["last_error"]

        clock.advance(minutes=10)
        worker.drain()
        assert _follow(client, ctx, rid)["delivery"]["attempts"] == 2

        clock.advance(minutes=10)
        worker.drain()
        done = _follow(client, ctx, rid)
        assert done["status"] == "submitted"
        assert done["delivery"]["status"] == "delivered"
        assert done["desk_reference"] == "WMO-2026-0815"

        clock.advance(hours=2)
        worker.drain()  # nothing left to do: no fourth call
        assert route.call_count == 3

    keys = {call.request.headers["Idempotency-Key"] for call in route.calls}
    assert len(keys) == 1  # the same key every time: the desk can drop a repeat
    sent = json.loads(route.calls[-1].request.content)
    assert sent["request_id"] == rid and sent["bsn"] == anna.bsn
    assert sent["provision"] == "01" and sent["provision_name"] == "Hulp bij het huishouden"
    assert sent["wijk"] == "krispijn"


def test_a_desk_that_keeps_failing_shows_as_delivery_failed(ctx, client, worker, clock, anna):
    desk(ctx, endpoint=DESK)
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post(AANVRAGEN).mock(return_value=httpx.Response(503))
        rid = _file(client, ctx, anna)
        for _ in range(ctx.settings.max_attempts + 2):
            worker.drain()
            clock.advance(hours=1)
        assert route.call_count == ctx.settings.max_attempts
    followed = _follow(client, ctx, rid)
    assert followed["status"] == "delivery_failed"
    assert followed["delivery"]["last_error"] == "HTTP 503"
    assert "Versturen naar de Wmo-desk lukt niet" in followed["status_text"]

    # The desk is back: an operator replays the dead letter, and it arrives once.
    dead = client.get("/api/v1/ops/dead-letters", headers=operator(ctx)).json()
    [letter] = [d for d in dead["items"] if d["task"] == "deliver"]
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post(AANVRAGEN).mock(return_value=httpx.Response(201, json={"id": 7}))
        r = client.post(f"/api/v1/ops/dead-letters/{letter['id']}/replay",
                        headers=operator(ctx))
        assert r.status_code == 202, r.text
        worker.drain()
        assert route.call_count == 1
    back = _follow(client, ctx, rid)
    assert back["status"] == "submitted" and back["desk_reference"] == "7"


def test_a_refusing_desk_is_not_retried(ctx, client, worker, clock, anna):
    desk(ctx, endpoint=DESK)
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post(AANVRAGEN).mock(return_value=httpx.Response(422, json={}))
        rid = _file(client, ctx, anna)
        worker.drain()
        clock.advance(hours=1)
        worker.drain()
        assert route.call_count == 1
    assert _follow(client, ctx, rid)["status"] == "delivery_failed"


def test_a_desk_without_endpoint_fails_visibly(ctx, client, worker, anna):
    desk(ctx, endpoint=None)
    with respx.mock(assert_all_mocked=True):
        rid = _file(client, ctx, anna)
        worker.drain()
    assert _follow(client, ctx, rid)["status"] == "delivery_failed"
