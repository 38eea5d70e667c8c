"""One correlation id follows a message from the ingest log line to the delivery log line."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from hub.core import correlation
from hub.core.models import Message
from tests.observability.helpers import sqlite_only
from tests.utils.builders import arrears, nuisance, partner, person, register, resident

ANNA = person(5201)
BOB = person(5202)
# Opaque ids a partner may send (issue 13, item 11: never a name or a word).
ERR_CID = "e1e1e1e1-0000-4000-a000-0a0b0c0de001"
ANNA_CID = "c0ffee00-a1a1-4b0b-8c8c-0a0b0c0d0e0f"
HELD_CID = "4e1d4e1d-b0b0-4c0c-9d9d-0a0b0c0d0e01"
APPROVAL_CID = "a9a9a9a9-b0b0-4c0c-9d9d-0a0b0c0d0e09"
BATCH_CID = "ba7c4ba7-c4ba-4c0c-9d9d-0a0b0c0d0e11"
CSV_HEADER = "source_ref,name,birthdate,postcode,huisnummer,bsn,amount_eur,months,since,tenancy_ref"


def _records(caplog, logger: str, message_id: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger and message_id in r.getMessage()]


@pytest.mark.parametrize("given", ["0b6c2f1e-4a2d-4c1e-9f3a-7e6d5c4b3a21", "A" * 64,
                                   "7f3a0b6c2f1e4a2d", "4bf92f3577b34da6-a3ce929d0e0e4736"])
@sqlite_only
def test_a_safe_incoming_id_is_echoed(client, given):
    r = client.get("/healthz", headers={"X-Correlation-ID": given})
    assert r.headers["X-Correlation-ID"] == given


@pytest.mark.parametrize("given", [
    "A" * 65,                     # too long
    "Fatima-el-Amrani",           # a name (issue 13, item 11)
    "corr-anna-1",                # a word and a name
    "req-7f3a.partner:42",        # words, however safe the characters
    "0b6c2f1e-42",                # too short to be opaque
    "has space",                  # unsafe characters
    "naam@example.nl",            # an e-mail address
    "<script>",
    "bsn-111222333",              # could be a BSN
    "0612345678",                 # could be a phone number
    "",
])
@sqlite_only
def test_an_unsafe_or_personal_looking_id_is_replaced(client, given):
    r = client.get("/healthz", headers={"X-Correlation-ID": given})
    echoed = r.headers["X-Correlation-ID"]
    assert echoed != given
    assert correlation.is_acceptable(echoed)


@sqlite_only
def test_every_answer_gets_an_id_also_an_error(client):
    first = client.get("/healthz").headers["X-Correlation-ID"]
    second = client.get("/healthz").headers["X-Correlation-ID"]
    assert correlation.is_acceptable(first) and first != second
    problem = client.post("/api/v1/messages", json={}, headers={"X-Correlation-ID": ERR_CID})
    assert problem.status_code == 401
    assert problem.headers["X-Correlation-ID"] == ERR_CID


def test_one_id_from_ingest_to_delivery(ctx, client, worker, caplog):
    caplog.set_level(logging.INFO)
    register(ctx, ANNA, BOB)
    _, woonbron = partner(ctx)
    first = client.post("/api/v1/messages", json=arrears(ANNA, ref="C-1"),
                        headers={**woonbron, "X-Correlation-ID": ANNA_CID})
    second = client.post("/api/v1/messages", json=arrears(BOB, ref="C-2"), headers=woonbron)
    first_id, second_id = first.json()["id"], second.json()["id"]
    generated = second.headers["X-Correlation-ID"]
    assert correlation.current() is None  # the request's id ended with the request

    worker.drain()  # another context: the worker restores each message's own id

    with ctx.sessions() as session:
        stored = dict(session.execute(select(Message.id, Message.correlation_id)).all())
    assert stored == {first_id: ANNA_CID, second_id: generated}
    for message_id, cid in ((first_id, ANNA_CID), (second_id, generated)):
        (ingest,) = _records(caplog, "hub.core.ingest", message_id)
        (delivery,) = _records(caplog, "hub.core.router", message_id)
        assert "delivered" in delivery.getMessage()
        assert ingest.correlation_id == delivery.correlation_id == cid
    assert correlation.current() is None  # routing did not leak its id into the worker


def test_a_held_message_keeps_its_id_when_consent_releases_it(ctx, client, worker, caplog):
    caplog.set_level(logging.INFO)
    register(ctx, ANNA)
    _, woonbron = partner(ctx)
    sent = client.post("/api/v1/messages", json=nuisance(ANNA, ref="H-1"),
                       headers={**woonbron, "X-Correlation-ID": HELD_CID})
    worker.drain()
    me = resident(ctx, ANNA)
    (request,) = client.get("/api/v1/me/requests", headers=me).json()
    client.post(f"/api/v1/me/requests/{request['id']}/approve",
                headers={**me, "X-Correlation-ID": APPROVAL_CID})
    worker.drain()
    lines = _records(caplog, "hub.core.router", sent.json()["id"])
    assert [("held" in r.getMessage(), r.correlation_id) for r in lines] == [
        (True, HELD_CID), (False, HELD_CID)]


@sqlite_only
def test_batch_lines_carry_the_batch_id(ctx, client, worker, caplog):
    caplog.set_level(logging.INFO)
    register(ctx, ANNA, BOB)
    _, woonbron = partner(ctx)
    lines = [CSV_HEADER] + [
        f"{ref},{who.name},,{who.postcode},{who.huisnummer},,500.00,2,2026-09-01,T-{ref}"
        for ref, who in (("K-1", ANNA), ("K-2", BOB))]
    r = client.post("/api/v1/messages/batch", content="\n".join(lines).encode(), headers={
        **woonbron, "Content-Type": "text/csv", "X-Correlation-ID": BATCH_CID})
    assert r.status_code == 202
    worker.drain()
    with ctx.sessions() as session:
        ids = dict(session.execute(select(Message.id, Message.correlation_id)).all())
    assert list(ids.values()) == [BATCH_CID, BATCH_CID]
    (summary,) = [rec for rec in caplog.records if rec.name == "hub.core.batch"]
    assert summary.correlation_id == BATCH_CID
    for message_id in ids:
        (delivery,) = _records(caplog, "hub.core.router", message_id)
        assert delivery.correlation_id == BATCH_CID


def test_scoped_work_does_not_leak_its_id():
    @correlation.scoped
    def work() -> str | None:
        correlation.adopt("inside")
        return correlation.current()

    with correlation.bound("outside"):
        assert work() == "inside"
        assert correlation.current() == "outside"
    assert correlation.current() is None


def test_the_hub_accepts_its_own_ids_back():
    # Random hex often has eight digits in a row; the hub's own ids never do.
    assert all(correlation.is_acceptable(correlation.new_id()) for _ in range(3000))


@sqlite_only
def test_a_message_stored_outside_a_request_gets_an_id_of_its_own(ctx, worker, caplog):
    from hub.core.identity import add_partner
    from hub.core.ingest import accept_message

    caplog.set_level(logging.INFO)
    register(ctx, ANNA)
    with ctx.sessions() as session, session.begin():  # as an importer would, no HTTP
        woonbron, _ = add_partner(session=session, name="Woonbron", kind="woningcorporatie",
                                  now=ctx.clock())
        accepted = accept_message(session=session, ctx=ctx, partner=woonbron,
                                  body=arrears(ANNA, ref="I-1"), now=ctx.clock())
    worker.drain()
    (ingest,) = _records(caplog, "hub.core.ingest", accepted.id)
    (delivery,) = _records(caplog, "hub.core.router", accepted.id)
    assert correlation.is_acceptable(ingest.correlation_id)
    assert delivery.correlation_id == ingest.correlation_id
    assert correlation.current() is None
