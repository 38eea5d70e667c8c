"""Outbound messages: the core stores, queues and delivers what plugins send to partners.

A plugin of the test declares an outbound type, sends a status back when an
inbound message changes, and shapes the HTTP request; respx stands in for the
partner's own server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import respx
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from hub import hookimpl
from hub.app import create_app
from hub.core import outbound
from hub.core.context import HubContext
from hub.core.errors import HubProblem
from hub.core.models import AuditEvent, DeadLetter, Message, OutboundMessageRow
from hub.core.types import (
    ItemStatusEvent,
    MessageType,
    OutboundMessage,
    OutboundRequest,
    PartnerInfo,
)
from tests.utils.builders import (
    arrears,
    nuisance,
    operator,
    partner,
    person,
    regisseur,
    register,
    resident,
)

ENDPOINT = "https://woonbron.example/api"


class StatusNote(BaseModel):
    """What the test's status back carries."""

    model_config = ConfigDict(extra="forbid")
    status: str
    note: str | None = None


class StatusBack:
    """A partner plugin that tells its partner what became of each of its signals."""

    def __init__(self) -> None:
        self.events: list[ItemStatusEvent] = []

    @hookimpl
    def wijkhub_message_types(self) -> list[MessageType]:
        return [MessageType(name="test.status", partner_kinds=("woningcorporatie",),
                            category="wonen", data_model=StatusNote, topic="een status",
                            inbound=False, outbound=True)]

    @hookimpl
    def wijkhub_item_status_changed(self, event: ItemStatusEvent) -> list[OutboundMessage]:
        self.events.append(event)
        return [OutboundMessage(partner_id=event.source_partner.id, message_type="test.status",
                                data={"status": event.status, "note": event.note},
                                ref=f"{event.source_ref}:{event.status}")]

    @hookimpl
    def wijkhub_outbound_request(self, envelope, partner) -> OutboundRequest | None:
        if envelope.type != "test.status":
            return None
        return OutboundRequest(path="/status", json={"ref": envelope.ref, **envelope.data},
                               receipt=lambda response: response.json().get("ontvangst"))

    @hookimpl
    def wijkhub_routers(self) -> list[APIRouter]:
        router = APIRouter(prefix="/api/v1/test-status")

        @router.get("/ping")
        def ping() -> dict[str, str]:
            return {"pong": "yes"}

        return [router]


@pytest.fixture
def status_back(ctx: HubContext) -> Iterator[StatusBack]:
    plugin = StatusBack()
    ctx.plugins.register(plugin, name="status-back")
    try:
        yield plugin
    finally:
        ctx.plugins.unregister("status-back")


@pytest.fixture
def api(ctx: HubContext, status_back) -> Iterator[TestClient]:
    """The app built after the plugin registered, so its routers are included."""
    with TestClient(create_app(ctx, run_worker=False), raise_server_exceptions=False) as c:
        yield c


def _rows(ctx: HubContext) -> list[OutboundMessageRow]:
    with ctx.sessions() as session:
        return list(session.scalars(select(OutboundMessageRow)
                                    .order_by(OutboundMessageRow.created_at)))


def _send(ctx: HubContext, partner_id: str, ref: str = "R-1", **data) -> str:
    with ctx.sessions() as session, session.begin():
        row = outbound.send(session, ctx=ctx, partner_id=partner_id, message_type="test.status",
                            data={"status": "taken_up", **data}, ref=ref, actor="anna",
                            role="regisseur", now=ctx.clock())
        return row.id


@respx.mock
def test_a_status_back_is_delivered_once_after_a_timeout_and_a_5xx(ctx, worker, clock,
                                                                     status_back):
    partner_id, _ = partner(ctx, endpoint=ENDPOINT)
    route = respx.post(f"{ENDPOINT}/status").mock(side_effect=[
        httpx.ConnectTimeout("slow"), httpx.Response(503),
        httpx.Response(201, json={"ontvangst": "WB-77"})])
    message_id = _send(ctx, partner_id)
    worker.drain()
    assert route.call_count == 1  # the timeout; the retry waits for its backoff
    clock.advance(seconds=1)
    worker.drain()
    assert route.call_count == 2  # the 503
    clock.advance(seconds=2)
    worker.drain()
    clock.advance(seconds=60)
    worker.drain()  # nothing left to do: delivered once
    assert route.call_count == 3
    keys = {call.request.headers["idempotency-key"] for call in route.calls}
    assert keys == {message_id}  # the partner can recognise the retries
    assert json.loads(route.calls[-1].request.read()) == {
        "ref": "R-1", "status": "taken_up", "note": None}
    with ctx.sessions() as session:
        state = outbound.status(session, message_id=message_id)
    assert (state.status, state.receipt, state.attempts) == ("delivered", "WB-77", 3)


@respx.mock
def test_a_partner_that_refuses_is_dead_at_once_and_replay_sends_again(ctx, worker, client,
                                                                       status_back):
    partner_id, _ = partner(ctx, endpoint=ENDPOINT)
    route = respx.post(f"{ENDPOINT}/status").mock(side_effect=[
        httpx.Response(400), httpx.Response(200, json={"ontvangst": "WB-12"})])
    message_id = _send(ctx, partner_id)
    worker.drain()
    with ctx.sessions() as session:
        state = outbound.status(session, message_id=message_id)
        dead = session.scalar(select(DeadLetter).where(DeadLetter.message_id == message_id))
    assert (state.status, state.last_error) == ("failed", "HTTP 400")
    assert dead.task == "deliver" and "HTTP 400" in dead.reason
    r = client.post(f"/api/v1/ops/dead-letters/{dead.id}/replay", headers=operator(ctx))
    assert r.status_code == 202, r.text
    worker.drain()
    with ctx.sessions() as session:
        state = outbound.status(session, message_id=message_id)
    assert (state.status, state.receipt) == ("delivered", "WB-12")
    assert route.call_count == 2


def test_a_partner_without_an_endpoint_is_dead_at_once(ctx, worker, status_back):
    partner_id, _ = partner(ctx)
    message_id = _send(ctx, partner_id)
    worker.drain()
    with ctx.sessions() as session:
        state = outbound.status(session, message_id=message_id)
    assert (state.status, state.last_error, state.attempts) == (
        "failed", "partner has no endpoint", 1)


@respx.mock
def test_the_default_request_posts_the_envelope_without_the_subject(ctx, worker, status_back):
    ctx.plugins.unregister("status-back")
    ctx.plugins.register(_WithoutShaping(), name="status-back")  # takes the core's default
    partner_id, _ = partner(ctx, endpoint=ENDPOINT)
    route = respx.post(ENDPOINT).mock(return_value=httpx.Response(
        202, headers={"Location": "/ontvangen/9"}))
    message_id = _send(ctx, partner_id)
    worker.drain()
    body = route.calls[0].request.read()
    assert b'"type":"test.status"' in body and b'"id":"' + message_id.encode() in body
    assert b"subject" not in body
    with ctx.sessions() as session:
        assert outbound.status(session, message_id=message_id).receipt == "/ontvangen/9"


class _WithoutShaping(StatusBack):
    """The same partner, but it leaves the request to the core."""

    wijkhub_outbound_request = None


def test_sending_again_with_the_same_ref_returns_the_first_message(ctx, status_back):
    partner_id, _ = partner(ctx, endpoint=ENDPOINT)
    first = _send(ctx, partner_id, ref="same")
    assert _send(ctx, partner_id, ref="same") == first
    assert len(_rows(ctx)) == 1
    with ctx.sessions() as session:
        sealed = session.get(OutboundMessageRow, first).payload_sealed
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "message.sent"))
    assert "taken_up" not in sealed  # the data is sealed at rest
    assert event.data == {"message_id": first, "type": "test.status", "partner": partner_id}


@pytest.mark.parametrize(("field", "kwargs"), [
    ("message_type", {"message_type": "signal.arrears.rent"}),  # inbound only
    ("partner_id", {"partner_id": "no-such-partner"}),
    ("data.status", {"data": {"note": "x"}}),
    ("ref", {"ref": ""}),
])
def test_send_refuses_what_cannot_be_sent_naming_the_field(ctx, status_back, field, kwargs):
    partner_id, _ = partner(ctx, endpoint=ENDPOINT)
    args = {"partner_id": partner_id, "message_type": "test.status",
            "data": {"status": "x"}, "ref": "R", **kwargs}
    with ctx.sessions() as session, pytest.raises(HubProblem) as caught:
        outbound.send(session, ctx=ctx, actor="anna", role="regisseur", now=ctx.clock(), **args)
    assert caught.value.problems[0].field == field
    assert _rows(ctx) == []


def test_a_partner_kind_that_does_not_receive_the_type_is_refused(ctx, status_back):
    gp, _ = partner(ctx, name="Huisarts", kind="huisarts", endpoint=ENDPOINT)
    with ctx.sessions() as session, pytest.raises(HubProblem) as caught:
        outbound.send(session, ctx=ctx, partner_id=gp, message_type="test.status",
                      data={"status": "x"}, ref="R", actor="a", role="regisseur",
                      now=ctx.clock())
    assert caught.value.status == 422 and caught.value.problems[0].field == "partner_id"


def test_a_partner_cannot_send_an_outbound_only_type_to_the_hub(api, ctx):
    _, headers = partner(ctx)
    body = {**arrears(person(4), ref="X-1"), "type": "test.status",
            "data": {"status": "taken_up"}}
    r = api.post("/api/v1/messages", headers=headers, json=body)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "type"


@respx.mock
def test_the_sender_hears_each_status_of_its_signal_with_the_closing_note(ctx, api, worker,
                                                                         status_back):
    _, headers = partner(ctx, endpoint=ENDPOINT)
    route = respx.post(f"{ENDPOINT}/status").mock(return_value=httpx.Response(200, json={}))
    who = person(1)
    register(ctx, who)
    r = api.post("/api/v1/messages", headers=headers, json=arrears(who, ref="A-1"))
    assert r.status_code == 202, r.text
    worker.drain()
    staff = regisseur(ctx)
    item_id = api.get("/api/v1/inbox", headers=staff).json()["items"][0]["id"]
    assert api.post(f"/api/v1/inbox/{item_id}/take-up", headers=staff).status_code == 200
    assert api.post(f"/api/v1/inbox/{item_id}/take-up", headers=staff).status_code == 200
    r = api.post(f"/api/v1/inbox/{item_id}/close", headers=staff,
                 json={"summary": "Betalingsregeling getroffen"})
    assert r.status_code == 200, r.text
    worker.drain()
    sent = [json.loads(call.request.read()) for call in route.calls]
    assert [s["status"] for s in sent] == [
        "delivered", "taken_up", "closed"]  # taking up twice told the sender once
    assert sent[-1]["note"] == "Betalingsregeling getroffen"
    assert [e.status for e in status_back.events] == ["delivered", "taken_up", "closed"]
    assert status_back.events[0].data["amount_eur"] == "1250.00"


def test_a_held_message_that_the_resident_refuses_tells_the_sender(ctx, api, worker,
                                                                  status_back):
    _, headers = partner(ctx, endpoint=ENDPOINT)
    who = person(2)
    register(ctx, who)
    assert api.post("/api/v1/messages", headers=headers,
                    json=nuisance(who, ref="N-1")).status_code == 202
    worker.drain()
    me = resident(ctx, who)
    request_id = api.get("/api/v1/me/requests", headers=me).json()[0]["id"]
    assert api.post(f"/api/v1/me/requests/{request_id}/deny", headers=me).status_code == 200
    assert [e.status for e in status_back.events] == ["held", "refused"]
    with ctx.sessions() as session:
        assert session.scalar(select(Message.status)) == "closed"
    assert {outbound.ref_of(ctx, row) for row in _rows(ctx)} == {"N-1:held", "N-1:refused"}


@pytest.mark.parametrize(("body", "field"), [
    ({"summary": ""}, "summary"), ({"summary": "x" * 2001}, "summary"), ({"other": 1}, "other"),
    ({"summary": 5}, "summary")])
def test_a_bad_closing_summary_is_refused_naming_the_field(ctx, api, worker, body, field):
    _, headers = partner(ctx)
    who = person(3)
    register(ctx, who)
    api.post("/api/v1/messages", headers=headers, json=arrears(who, ref="A-3"))
    worker.drain()
    staff = regisseur(ctx)
    item_id = api.get("/api/v1/inbox", headers=staff).json()["items"][0]["id"]
    r = api.post(f"/api/v1/inbox/{item_id}/close", headers=staff, json=body)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == field
    assert api.get(f"/api/v1/inbox/{item_id}", headers=staff).json()["status"] == "new"


def test_a_plugin_router_is_served_by_the_app(api):
    assert api.get("/api/v1/test-status/ping").json() == {"pong": "yes"}


class QuietPlugin:
    """Hears every status but never reads the partner's reference."""

    def __init__(self) -> None:
        self.statuses: list[str] = []

    @hookimpl
    def wijkhub_item_status_changed(self, event: ItemStatusEvent) -> list[OutboundMessage]:
        self.statuses.append(event.status)
        return []


def _spy_opens(ctx: HubContext, monkeypatch) -> list[str]:
    opened: list[str] = []
    real = ctx.cipher.open

    def spy(token: str, *, context: str):
        opened.append(context.split(":", 1)[0])
        return real(token, context=context)

    monkeypatch.setattr(ctx.cipher, "open", spy)
    return opened


def test_routing_opens_the_source_ref_only_when_a_plugin_reads_it(ctx, worker, monkeypatch):
    # Issue 14: the sealed source_ref was opened for every routed message.
    quiet = QuietPlugin()
    ctx.plugins.register(quiet, name="quiet")
    try:
        _, headers = partner(ctx)
        who = person(4)
        register(ctx, who)
        with TestClient(create_app(ctx, run_worker=False)) as api:
            assert api.post("/api/v1/messages", headers=headers,
                            json=arrears(who, ref="A-4")).status_code == 202
            opened = _spy_opens(ctx, monkeypatch)
            worker.drain()
    finally:
        ctx.plugins.unregister("quiet")
    assert quiet.statuses == ["delivered"]
    assert "message" in opened  # the spy saw routing's opens
    assert "source-ref" not in opened


def test_a_plugin_that_reads_the_source_ref_gets_it_in_clear(ctx, api, worker, status_back,
                                                            monkeypatch):
    _, headers = partner(ctx, endpoint=ENDPOINT)
    who = person(5)
    register(ctx, who)
    assert api.post("/api/v1/messages", headers=headers,
                    json=arrears(who, ref="A-5")).status_code == 202
    opened = _spy_opens(ctx, monkeypatch)
    worker.drain()
    assert opened.count("source-ref") == 1
    assert {outbound.ref_of(ctx, row) for row in _rows(ctx)} == {"A-5:delivered"}


def test_the_event_opens_its_source_ref_once_and_keeps_it_out_of_its_repr():
    calls: list[int] = []

    def open_ref() -> str:
        calls.append(1)
        return "REF-SECRET"

    event = ItemStatusEvent(
        status="delivered", message_id="m-1", message_type="t", data={}, subject=None,
        source_partner=PartnerInfo(id="p", name="P", kind="k", endpoint=None),
        household_id=None, open_source_ref=open_ref)
    assert calls == []
    assert "REF-SECRET" not in repr(event)
    assert event.source_ref == "REF-SECRET"
    assert event.source_ref == "REF-SECRET"
    assert calls == [1]
    with pytest.raises(TypeError):
        ItemStatusEvent(status="x", message_id="m", message_type="t", data={}, subject=None,
                        source_partner=event.source_partner, household_id=None)
