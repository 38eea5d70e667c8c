"""One delivery test suite, run on both transports: the embedded queue and RabbitMQ (issue 3)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from pydantic import BaseModel
from sqlalchemy import func, select

from hub import hookimpl
from hub.core.models import DeadLetter, InboxItem, Message, OutboxEntry
from hub.core.source_refs import open_ref
from hub.core.types import MessageType
from tests.utils.builders import arrears, operator, partner, person, register, resident
from tests.utils.statements import counting


class Note(BaseModel):
    """Data of the test type."""

    note: str


class BuggyPlugin:
    """A partner plugin whose routing raises while ``broken`` is set: the poison message."""

    broken = True

    def _key(self, _data):
        if self.broken:
            raise RuntimeError("plugin bug: secret message data must not be logged")
        return None

    @hookimpl
    def wijkhub_message_types(self):
        return [MessageType(name="signal.buggy", partner_kinds=("woningcorporatie",),
                            category="wonen", data_model=Note, topic="een test",
                            repeat_key=self._key)]


@pytest.fixture
def buggy(ctx) -> Iterator[BuggyPlugin]:
    """The buggy plugin, registered for one test."""
    plugin = BuggyPlugin()
    ctx.plugins.register(plugin, name="buggy")
    try:
        yield plugin
    finally:
        ctx.plugins.unregister(name="buggy")


def _buggy_message(who, ref: str) -> dict:
    return {"type": "signal.buggy", "source_ref": ref,
            "subject": {"name": who.name, "postcode": who.postcode,
                        "huisnummer": who.huisnummer},
            "occurred_at": "2026-11-20T08:00:00+00:00", "data": {"note": "geheim"}}


def _count(ctx, model, *where) -> int:
    with ctx.sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def _consent_for_wonen(ctx, client, who) -> str:
    register(ctx, who)
    r = client.post("/api/v1/me/consents", headers=resident(ctx, who), json={
        "source_kinds": ["woningcorporatie"], "categories": ["wonen"], "purpose": "hulp"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_each_message_is_delivered_exactly_once(ctx, client, transport):
    _, woonbron = partner(ctx)
    sent = 30
    ids = set()
    for n in range(sent):
        body = arrears(person(2000 + n), ref=f"D-{n}", tenancy=f"T-{n}")
        for _ in range(2):  # the partner retries: same source_ref, same id, stored once
            r = client.post("/api/v1/messages", json=body, headers=woonbron)
            assert r.status_code == 202, r.text
            ids.add(r.json()["id"])
    transport.drain()
    with ctx.sessions() as session:
        delivered = session.scalars(select(InboxItem.message_id)).all()
        statuses = set(session.scalars(select(OutboxEntry.status)))
    print(f"\n{transport.name}: sent={sent} accepted={len(ids)} delivered={len(set(delivered))} "
          f"lost={len(ids - set(delivered))} doubled={len(delivered) - len(set(delivered))}")
    assert len(ids) == sent
    assert sorted(delivered) == sorted(ids)
    assert statuses == {"done"}


def test_a_redelivered_task_has_no_second_effect(ctx, client, transport):
    _, woonbron = partner(ctx)
    r = client.post("/api/v1/messages", json=arrears(person(3000), ref="R-1"), headers=woonbron)
    assert r.status_code == 202
    transport.drain()
    with ctx.sessions() as session:
        entry_id = session.scalar(select(OutboxEntry.id))
    transport.redeliver(entry_id)
    assert _count(ctx, InboxItem) == 1
    with ctx.sessions() as session:
        assert session.get(OutboxEntry, entry_id).attempts == 1


def test_poison_is_dead_lettered_without_blocking_and_delivered_after_fix_and_replay(
        ctx, client, transport, buggy, caplog):
    started = time.monotonic()
    _, woonbron = partner(ctx)
    who = person(3100)
    _consent_for_wonen(ctx, client, who)
    assert client.post("/api/v1/messages", json=_buggy_message(who, "P-1"),
                       headers=woonbron).status_code == 202
    good = 10
    for n in range(good):
        assert client.post("/api/v1/messages", json=arrears(person(3200 + n), ref=f"G-{n}"),
                           headers=woonbron).status_code == 202
    transport.drain()
    with ctx.sessions() as session:
        poison = _by_ref(ctx, session, "P-1")
    # The good messages went through; the poison one is dead after max_attempts (3).
    assert _count(ctx, InboxItem) == good
    ops = operator(ctx)
    page = client.get("/api/v1/ops/dead-letters", headers=ops).json()
    assert page["total"] == 1
    dead = page["items"][0]
    assert (dead["message_id"], dead["attempts"], dead["source"], dead["replayable"]) == (
        poison.id, 3, transport.name, True)
    assert dead["reason"] == "failed 3 times; last error: RuntimeError"

    buggy.broken = False  # the plugin is fixed
    r = client.post(f"/api/v1/ops/dead-letters/{dead['id']}/replay", headers=ops)
    assert r.status_code == 202, r.text
    assert r.json() == {"id": dead["id"], "message_id": poison.id, "status": "requeued"}
    transport.drain()
    with ctx.sessions() as session:
        assert session.get(Message, poison.id).status == "delivered"
    assert _count(ctx, InboxItem) == good + 1
    # A second replay of the same dead letter is refused, naming why.
    again = client.post(f"/api/v1/ops/dead-letters/{dead['id']}/replay", headers=ops)
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "dead_letter_id"
    assert client.get("/api/v1/ops/dead-letters", headers=ops).json()["total"] == 0
    assert client.get("/api/v1/ops/dead-letters?status=replayed",
                      headers=ops).json()["total"] == 1
    assert "secret message data" not in caplog.text
    print(f"\npoison ({transport.name}): sent={good + 1} accepted={good + 1} "
          f"delivered={_count(ctx, InboxItem)} dead_lettered=1 replayed=1 lost=0 doubled=0 "
          f"seconds={time.monotonic() - started:.1f}")


def test_a_replay_never_undoes_a_revocation(ctx, client, transport, buggy):
    _, woonbron = partner(ctx)
    who = person(3300)
    consent_id = _consent_for_wonen(ctx, client, who)
    assert client.post("/api/v1/messages", json=_buggy_message(who, "V-1"),
                       headers=woonbron).status_code == 202
    transport.drain()
    assert _count(ctx, DeadLetter) == 1
    r = client.post(f"/api/v1/me/consents/{consent_id}/revoke", headers=resident(ctx, who))
    assert r.status_code == 200, r.text
    buggy.broken = False
    with ctx.sessions() as session:
        dead_id = session.scalar(select(DeadLetter.id))
    assert client.post(f"/api/v1/ops/dead-letters/{dead_id}/replay",
                       headers=operator(ctx)).status_code == 202
    transport.drain()
    with ctx.sessions() as session:
        message = _by_ref(ctx, session, "V-1")
    # Decided again against today's consent: held, not delivered.
    assert message.status == "held"
    assert _count(ctx, InboxItem) == 0


def test_a_consent_change_reaches_the_workers_listeners(ctx, client, transport):
    heard: list[str] = []
    transport.worker_ctx.consent_listeners.append(heard.append)
    who = person(3400)
    _consent_for_wonen(ctx, client, who)
    subject = ctx.pseudonyms.subject(who.bsn)
    transport.wait_for(lambda: subject in heard, "the worker never heard of the change")
    assert who.bsn not in heard


def test_the_dead_letter_api_is_for_operators_only(ctx, client, transport):
    who = person(3500)
    for headers in ({}, resident(ctx, who)):
        r = client.get("/api/v1/ops/dead-letters", headers=headers)
        assert r.status_code in (401, 403)
        assert r.headers["content-type"] == "application/problem+json"
    ops = operator(ctx)
    assert client.post("/api/v1/ops/dead-letters/99/replay", headers=ops).status_code == 404
    bad = client.get("/api/v1/ops/dead-letters?status=lost", headers=ops)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "status"


def _by_ref(ctx, session, source_ref: str):
    # The reference is stored sealed (issue 13, item 10): open each to find it.
    return next(m for m in session.scalars(select(Message)) if open_ref(ctx, m) == source_ref)


def test_a_batch_with_one_poisoned_message_delivers_the_other_49(ctx, client, transport,
                                                                 buggy):
    # Issue 14: routing goes in batches (the embedded worker's HUB_ROUTE_BATCH, the
    # broker worker's prefetch window), each message in a savepoint of its own.
    _, woonbron = partner(ctx)
    who = person(3400)
    _consent_for_wonen(ctx, client, who)
    if transport.name == "rabbitmq":
        transport._stop_worker()  # let the whole lot wait in the queue: full windows
    for n in range(49):
        if n == 24:
            assert client.post("/api/v1/messages", json=_buggy_message(who, "P-1"),
                               headers=woonbron).status_code == 202
        assert client.post("/api/v1/messages", json=arrears(person(3500 + n), ref=f"B-{n}"),
                           headers=woonbron).status_code == 202
    if transport.name == "rabbitmq":
        transport.wait_for(lambda: _count(ctx, OutboxEntry, OutboxEntry.status == "pending")
                           == 0, "the relay did not publish everything")
    with counting(transport.worker_ctx.engine) as counts:
        if transport.name == "rabbitmq":
            transport.restart()
        transport.drain()
    assert _count(ctx, InboxItem) == 49
    assert _count(ctx, Message, Message.status == "delivered") == 49
    with ctx.sessions() as session:
        poison = _by_ref(ctx, session, "P-1")
        assert session.get(Message, poison.id).status == "accepted"
    page = client.get("/api/v1/ops/dead-letters", headers=operator(ctx)).json()
    assert page["total"] == 1
    assert (page["items"][0]["message_id"], page["items"][0]["attempts"],
            page["items"][0]["replayable"]) == (poison.id, 3, True)
    # Fifty messages, far fewer transactions than fifty (one per batch, one per failure).
    assert counts.commits < 25, counts.commits
