"""The embedded queue's worker: retries with backoff, dead letters, no blocking."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from hub import hookimpl
from hub.core.models import InboxItem, Message, OutboxEntry
from hub.core.source_refs import open_ref
from hub.core.types import MessageType
from tests.utils.builders import arrears, partner, person, register, resident


class Poison(BaseModel):
    """Data of a type whose plugin fails on every message."""

    note: str


def _explode(_data):
    raise RuntimeError("plugin bug: secret message data must not be logged")


class PoisonPlugin:
    """A partner plugin with a bug: routing its messages always raises."""

    @hookimpl
    def wijkhub_message_types(self):
        return [MessageType(name="signal.poison", partner_kinds=("woningcorporatie",),
                            category="wonen", data_model=Poison, topic="een test",
                            repeat_key=_explode)]


@pytest.fixture
def poison(ctx) -> Iterator[None]:
    """The poison plugin, registered for one test."""
    ctx.plugins.register(PoisonPlugin(), name="poison")
    try:
        yield
    finally:
        ctx.plugins.unregister("poison")


def _poison_message(ref: str) -> dict:
    who = person(900)
    return {"type": "signal.poison", "source_ref": ref,
            "subject": {"name": who.name, "postcode": who.postcode,
                        "huisnummer": who.huisnummer},
            "occurred_at": "2026-11-20T08:00:00+00:00", "data": {"note": "x"}}


def test_poison_is_retried_with_backoff_then_dead_lettered(ctx, client, worker, clock, poison,
                                                           caplog):
    _, woonbron = partner(ctx)
    # The resident consents, so routing reaches delivery, where the plugin's bug bites.
    register(ctx, person(900))
    r = client.post("/api/v1/me/consents", headers=resident(ctx, person(900)), json={
        "source_kinds": ["woningcorporatie"], "categories": ["wonen"], "purpose": "hulp"})
    assert r.status_code == 201, r.text
    assert client.post("/api/v1/messages", json=_poison_message("P-1"),
                       headers=woonbron).status_code == 202
    good = arrears(person(901), ref="G-1")
    assert client.post("/api/v1/messages", json=good, headers=woonbron).status_code == 202
    worker.drain()
    with ctx.sessions() as session:
        entries = {e.message_id: e for e in session.scalars(select(OutboxEntry))}
        messages = {open_ref(ctx, m): m for m in session.scalars(select(Message))}
    # The good message is not blocked by the poison one.
    assert entries[messages["G-1"].id].status == "done"
    poisoned = entries[messages["P-1"].id]
    assert (poisoned.status, poisoned.attempts, poisoned.last_error) == (
        "pending", 1, "RuntimeError")
    first_retry = poisoned.next_attempt_at
    assert first_retry == clock() + timedelta(seconds=1)

    clock.advance(seconds=1)
    worker.drain()
    with ctx.sessions() as session:
        poisoned = session.get(OutboxEntry, poisoned.id)
    assert poisoned.attempts == 2
    # Exponential: the second wait (2 s) is twice the first (1 s).
    assert poisoned.next_attempt_at - clock() == timedelta(seconds=2)

    clock.advance(seconds=2)
    worker.drain()
    with ctx.sessions() as session:
        poisoned = session.get(OutboxEntry, poisoned.id)
        items = session.scalars(select(InboxItem)).all()
    assert (poisoned.status, poisoned.attempts) == ("dead", 3)  # max_attempts in the fixture
    assert len(items) == 1
    clock.advance(days=1)
    assert worker.drain() == 0  # dead letters are not retried by themselves
    assert "secret message data" not in caplog.text


def _blocked_in_wait(thread) -> bool:
    """True when ``thread`` is waiting on an Event (the worker between rounds)."""
    import sys

    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        if frame.f_code.co_name == "wait" and "threading" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def _await(condition, what: str) -> None:
    import threading

    for _ in range(10_000):
        if condition():
            return
        threading.Event().wait(0.001)
    raise AssertionError(f"never happened: {what}")


def test_after_a_round_that_was_not_full_the_worker_waits_for_a_commit(ctx, worker):
    """No extra round to find nothing: on SQLite its read takes the write lock (issue 14)."""
    import threading

    stop, rounds = threading.Event(), []

    def round_(limit: int | None = None) -> int:
        rounds.append(limit)
        worker._round_was_full = len(rounds) == 1  # the first round had more than its limit
        if len(rounds) == 3:
            stop.set()
        return 1

    worker.run_once = round_
    ctx.work_available.clear()
    thread = threading.Thread(target=worker.run_forever, args=(stop,))
    thread.start()
    try:
        # A full round goes on at once; the round after it, not full, waits.
        _await(lambda: len(rounds) == 2 and _blocked_in_wait(thread), "the worker waits")
        assert len(rounds) == 2
        ctx.work_available.set()  # what the commit of new outbox rows does
        _await(lambda: len(rounds) == 3, "a round after the commit")
    finally:
        stop.set()
        ctx.work_available.set()
        thread.join(10)
    assert not thread.is_alive()


def test_a_round_knows_whether_it_left_due_rows_behind(ctx, client, worker):
    _, woonbron = partner(ctx)
    for n in range(3):
        assert client.post("/api/v1/messages", json=arrears(person(910 + n), ref=f"F-{n}"),
                           headers=woonbron).status_code == 202
    assert worker.run_once(limit=2) == 2
    assert worker._round_was_full
    assert worker.run_once() == 1
    assert not worker._round_was_full


def test_the_due_rows_are_read_in_queue_order_from_the_index_not_sorted(ctx):
    """A round asks for the oldest n due rows; the queue may hold a million (a batch).

    The database must take them in id order from an index and stop after n: a plan
    that sorts every pending row first costs a round more the longer the queue is.
    """
    from hub.core.transport.tasks import due_statement

    stmt = due_statement(1000)
    with ctx.engine.connect() as conn:
        compiled = stmt.compile(dialect=conn.dialect)
        sql = str(compiled)
        params = compiled.construct_params({"now": ctx.clock()})
        if conn.dialect.name == "postgresql":
            # On an empty table any plan is cheap: rule out the scan, keep the choice
            # between sorting the due rows and reading them in order.
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = "\n".join(row[0] for row in conn.exec_driver_sql(
                "EXPLAIN " + sql, params))
            assert "Sort" not in plan and "ix_outbox_queue" in plan, plan
        else:
            positional = [params[name] for name in compiled.positiontup]
            plan = " ".join(row[3] for row in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + sql, tuple(positional)))
            assert "TEMP B-TREE" not in plan and "ix_outbox_queue" in plan, plan


def test_looking_for_due_rows_does_not_wait_for_a_writer(ctx, client, worker):
    """A round's look for due rows is a read: on SQLite it must not queue for the write
    lock an ingest group holds (nor hold up the next group while it reads)."""
    import threading

    from hub.core import db

    _, woonbron = partner(ctx)
    assert client.post("/api/v1/messages", json=arrears(person(930), ref="G-1"),
                       headers=woonbron).status_code == 202
    gate = db._write_gate(ctx.engine.url.database) if ctx.engine.dialect.name == "sqlite" \
        else None
    found: list = []
    if gate is not None:
        gate.acquire()  # what a committing ingest group holds
    try:
        reader = threading.Thread(target=lambda: found.append(worker._due_ids(10, ctx.clock())))
        reader.start()
        reader.join(10)
        assert not reader.is_alive(), "the due read waited for the writer"
    finally:
        if gate is not None:
            gate.release()
    assert len(found) == 1 and len(found[0]) == 1
