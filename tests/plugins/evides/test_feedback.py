"""Evides hears back what became of its signals, through the core's outbound delivery."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from sqlalchemy import select

from hub.core import outbound
from hub.core.context import build_context
from hub.core.migrate import upgrade
from hub.core.models import DeadLetter, OutboundMessageRow
from hub.core.plugins import load_plugins
from tests.plugins.evides.test_evides import ANNA, water
from tests.utils.builders import partner, regisseur, register, resident

ENDPOINT = "https://api.evides.example/wijkhub"
REF = "W/2026/001"  # a slash in the partner's own reference: quoted in the path
FEEDBACK_URL = f"{ENDPOINT}/arrears/W%2F2026%2F001/feedback"


def _rows(ctx) -> list[OutboundMessageRow]:
    with ctx.sessions() as session:
        return list(session.scalars(select(OutboundMessageRow)
                                    .order_by(OutboundMessageRow.created_at)))


def _delivered_signal(ctx, client, worker, *, endpoint: str | None = ENDPOINT) -> str:
    register(ctx, ANNA)
    _, evides = partner(ctx, "Evides", kind="evides", endpoint=endpoint)
    r = client.post("/api/v1/messages", json=water(ANNA, ref=REF), headers=evides)
    assert r.status_code == 202, r.text
    worker.drain()
    (item,) = client.get("/api/v1/inbox", headers=regisseur(ctx)).json()["items"]
    return item["id"]


@respx.mock
def test_taken_up_and_closed_reach_evides_without_the_closing_note(ctx, client, worker):
    route = respx.post(FEEDBACK_URL).mock(return_value=httpx.Response(201, json={"id": "EV-9"}))
    item_id = _delivered_signal(ctx, client, worker)
    assert _rows(ctx) == []  # "delivered" is not told: the sender learns nothing new from it
    staff = regisseur(ctx)
    assert client.post(f"/api/v1/inbox/{item_id}/take-up", headers=staff).status_code == 200
    assert client.post(f"/api/v1/inbox/{item_id}/close", headers=staff,
                       json={"summary": "Schuldhulp gestart bij Anna"}).status_code == 200
    worker.drain()
    bodies = [json.loads(call.request.read()) for call in route.calls]
    assert [(b["source_ref"], b["status"]) for b in bodies] == \
        [(REF, "taken_up"), (REF, "closed")]
    assert all("Schuldhulp" not in json.dumps(b) and ANNA.name not in json.dumps(b)
               for b in bodies)
    rows = _rows(ctx)
    assert [call.request.headers["idempotency-key"] for call in route.calls] == \
        [row.id for row in rows]
    with ctx.sessions() as session:
        states = [outbound.status(session, message_id=row.id) for row in rows]
    assert [(s.status, s.receipt) for s in states] == [("delivered", "EV-9")] * 2


@respx.mock
def test_a_timeout_and_a_5xx_are_retried_and_it_arrives_once(ctx, client, worker, clock):
    route = respx.post(FEEDBACK_URL).mock(side_effect=[
        httpx.ConnectTimeout("slow"), httpx.Response(502), httpx.Response(200, json={})])
    item_id = _delivered_signal(ctx, client, worker)
    client.post(f"/api/v1/inbox/{item_id}/take-up", headers=regisseur(ctx))
    worker.drain()
    clock.advance(seconds=1)
    worker.drain()
    clock.advance(seconds=2)
    worker.drain()
    clock.advance(seconds=60)
    worker.drain()
    assert route.call_count == 3
    (row,) = _rows(ctx)
    with ctx.sessions() as session:
        state = outbound.status(session, message_id=row.id)
    assert (state.status, state.attempts) == ("delivered", 3)


@respx.mock
@pytest.mark.parametrize("answer", [httpx.Response(400), httpx.Response(404)])
def test_evides_refusing_is_dead_at_once_for_the_operator(ctx, client, worker, answer):
    route = respx.post(FEEDBACK_URL).mock(return_value=answer)
    item_id = _delivered_signal(ctx, client, worker)
    client.post(f"/api/v1/inbox/{item_id}/take-up", headers=regisseur(ctx))
    worker.drain()
    assert route.call_count == 1
    (row,) = _rows(ctx)
    with ctx.sessions() as session:
        state = outbound.status(session, message_id=row.id)
        dead = session.scalar(select(DeadLetter).where(DeadLetter.message_id == row.id))
    assert (state.status, state.last_error) == ("failed", f"HTTP {answer.status_code}")
    assert dead is not None and dead.task == "deliver"


@respx.mock
def test_evides_unreachable_until_the_last_attempt_is_dead_lettered(ctx, client, worker, clock):
    route = respx.post(FEEDBACK_URL).mock(side_effect=httpx.ConnectError("refused"))
    item_id = _delivered_signal(ctx, client, worker)
    client.post(f"/api/v1/inbox/{item_id}/take-up", headers=regisseur(ctx))
    for _ in range(ctx.settings.max_attempts + 1):
        worker.drain()
        clock.advance(seconds=3600)
    assert route.call_count == ctx.settings.max_attempts
    (row,) = _rows(ctx)
    with ctx.sessions() as session:
        assert outbound.status(session, message_id=row.id).status == "failed"
        assert session.scalar(select(DeadLetter).where(DeadLetter.message_id == row.id))


def test_without_an_endpoint_nothing_is_pushed(ctx, client, worker):
    item_id = _delivered_signal(ctx, client, worker, endpoint=None)
    client.post(f"/api/v1/inbox/{item_id}/take-up", headers=regisseur(ctx))
    worker.drain()
    assert _rows(ctx) == []


@pytest.fixture
def without_statute(settings, clock):
    """A hub whose municipality has switched early signalling of debts off."""
    context = build_context(settings.model_copy(update={"statute_early_signalling": False}),
                            plugins=load_plugins(), clock=clock)
    upgrade(context.engine)
    try:
        yield context
    finally:
        context.dispose()


@respx.mock
def test_a_refusal_by_the_resident_is_told_as_not_taken_up_only(without_statute,
                                                                 client_factory, worker_for):
    ctx = without_statute
    client, worker = client_factory(ctx), worker_for(ctx)
    route = respx.post(FEEDBACK_URL).mock(return_value=httpx.Response(200, json={}))
    register(ctx, ANNA)
    _, evides = partner(ctx, "Evides", kind="evides", endpoint=ENDPOINT)
    assert client.post("/api/v1/messages", json=water(ANNA, ref=REF),
                       headers=evides).status_code == 202
    worker.drain()
    assert _rows(ctx) == []  # "held" says something about consent: not told
    me = resident(ctx, ANNA)
    (request,) = client.get("/api/v1/me/requests", headers=me).json()
    assert client.post(f"/api/v1/me/requests/{request['id']}/deny",
                       headers=me).status_code == 200
    worker.drain()
    (call,) = route.calls
    assert json.loads(call.request.read())["status"] == "not_taken_up"


def test_evides_cannot_send_its_feedback_type_to_the_hub(ctx, client):
    _, evides = partner(ctx, "Evides", kind="evides", endpoint=ENDPOINT)
    body = {**water(ANNA, ref="F-1"), "type": "feedback.arrears.water",
            "data": {"source_ref": "W-1", "status": "closed"}}
    r = client.post("/api/v1/messages", json=body, headers=evides)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "type"
