"""Group commit on the way in (issue 14): concurrent messages share one transaction.

The committer is driven from threads, as concurrent requests' threadpool workers
drive it; ``ctx`` runs each test on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from hub import hookimpl
from hub.core.errors import HubProblem, invalid
from hub.core.group_commit import Unavailable
from hub.core.ingest import store_many, validate_message
from hub.core.models import Household, Message, OutboxEntry, Partner
from tests.utils.builders import arrears, partner, person
from tests.utils.statements import counting
from tests.utils.waiting import PATIENCE_SECONDS, wait_until


@pytest.fixture
def woonbron(ctx) -> tuple[Partner, dict]:
    """A housing corporation: its row and its API headers."""
    partner_id, headers = partner(ctx)
    with ctx.sessions() as session:
        row = session.get(Partner, partner_id)
        session.expunge(row)
    return row, headers


@pytest.fixture
def grouping(ctx) -> Iterator[None]:
    """Groups of up to 8, the leader waiting (at most 100 ms) until its group is full."""
    before = ctx.settings
    ctx.settings = before.model_copy(update={"ingest_group_ms": 100, "ingest_group_size": 8})
    try:
        yield
    finally:
        ctx.settings = before


def _stored(ctx, message_id: str) -> bool:
    with ctx.sessions() as session:
        return session.get(Message, message_id) is not None


def _send_concurrently(ctx, row, bodies) -> list:
    """Hand every body to the committer from its own thread; returns receipts or errors."""
    results: list = [None] * len(bodies)
    start = threading.Barrier(len(bodies))

    def send(n: int) -> None:
        valid = validate_message(ctx=ctx, partner=row, body=bodies[n])
        start.wait()
        try:
            accepted = ctx.ingest.accept(partner=row, valid=valid, body=bodies[n],
                                         now=ctx.clock())
            # Durable when the receipt comes: another session sees it at once.
            results[n] = (accepted, _stored(ctx, accepted.id))
        except Exception as exc:
            results[n] = exc

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_messages_share_transactions_and_each_is_durable_at_its_receipt(
        ctx, woonbron, grouping):
    row, _ = woonbron
    bodies = [arrears(person(8000 + n), ref=f"G-{n}") for n in range(16)]
    with counting(ctx.engine) as counts:
        results = _send_concurrently(ctx, row, bodies)
    assert all(durable for _, durable in results), results
    assert len({accepted.id for accepted, _ in results}) == 16
    # Sixteen messages, fewer transactions and fewer INSERTs than sixteen.
    assert counts.commits < 16, counts.commits
    if ctx.engine.dialect.name == "postgresql":
        # One statement per group stores its messages and queues them (unnest, issue 14).
        assert 1 <= counts.statements["WITH"] < 16, counts.statements
        assert counts.statements["INSERT INTO messages"] == 0, counts.statements
        assert counts.statements["INSERT INTO outbox"] == 0, counts.statements
    else:
        assert 1 <= counts.statements["INSERT INTO messages"] < 16, counts.statements
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxEntry)) == 16


def _await_concurrently(ctx, row, bodies, *, threads_seen: list[int] | None = None) -> list:
    """Await every body's acceptance on one event loop; returns receipts or errors."""
    import asyncio

    async def send(body):
        valid = validate_message(ctx=ctx, partner=row, body=body)
        accepted = await ctx.ingest.accept_async(partner=row, valid=valid, body=body,
                                                 now=ctx.clock())
        return accepted, _stored(ctx, accepted.id)

    async def watch(tasks) -> None:
        while not all(t.done() for t in tasks):
            threads_seen.append(threading.active_count())
            await asyncio.sleep(0.005)

    async def main():
        if threads_seen is not None:
            threads_seen.append(threading.active_count())  # the baseline: first
        tasks = [asyncio.ensure_future(send(b)) for b in bodies]
        if threads_seen is not None:
            await watch(tasks)
        return await asyncio.gather(*tasks, return_exceptions=True)

    # A loop of its own on a thread of its own: the calling thread may already run one
    # (Playwright's sync API keeps a loop running while the session's browser is open).
    outcome: list = []
    runner = threading.Thread(target=lambda: outcome.append(asyncio.run(main())), daemon=True)
    runner.start()
    runner.join(PATIENCE_SECONDS)  # bounded: a caller nobody commits must fail, not hang
    assert outcome, "the event loop's thread failed or never got its receipts (see stderr)"
    return outcome[0]


def test_awaiting_callers_share_transactions_without_a_thread_each(ctx, woonbron, grouping):
    row, _ = woonbron
    bodies = [arrears(person(8500 + n), ref=f"A-{n}") for n in range(16)]
    seen: list[int] = []
    with counting(ctx.engine) as counts:
        results = _await_concurrently(ctx, row, bodies, threads_seen=seen)
    assert all(durable for _, durable in results), results
    assert len({accepted.id for accepted, _ in results}) == 16
    assert counts.commits < 16, counts.commits
    # Sixteen waiting callers, at most one leader thread besides the loop's.
    before, *during = seen
    assert max(during) <= before + 1, (before, during)


def test_threads_and_awaiting_callers_mix_and_a_refusal_stays_its_own(
        ctx, woonbron, grouping):
    row, _ = woonbron
    ctx.plugins.register(Refuser(), name="refuser")
    awaited: list = []
    try:
        waiter = threading.Thread(target=lambda: awaited.extend(_await_concurrently(
            ctx, row, [arrears(person(8600 + n), ref=("BAD-A" if n == 2 else f"M-A{n}"))
                       for n in range(6)])))
        waiter.start()
        threaded = _send_concurrently(ctx, row, [arrears(person(8610 + n), ref=f"M-T{n}")
                                                 for n in range(6)])
        waiter.join()
    finally:
        ctx.plugins.unregister("refuser")
    assert isinstance(awaited[2], HubProblem) and awaited[2].status == 422
    assert all(r[1] for n, r in enumerate(awaited) if n != 2), awaited
    assert all(durable for _, durable in threaded), threaded
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 11


def test_a_duplicate_in_the_same_group_gets_the_first_id(ctx, woonbron, grouping):
    row, _ = woonbron
    same = arrears(person(8100), ref="D-1")
    results = _send_concurrently(ctx, row, [same, dict(same), arrears(person(8101), ref="D-2")])
    (a, _), (b, _), (c, _) = results
    assert a.id == b.id != c.id
    assert sorted([a.created, b.created]) == [False, True]
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 2


def test_a_group_is_stored_as_given_and_queued_in_its_order(ctx, woonbron):
    # What store_many writes for a group (on PostgreSQL: arrays through unnest, issue 14):
    # every column as given, times in UTC, duplicates once, outbox rows in the rows' order.
    row, _ = woonbron
    bodies = [arrears(person(8400 + n), ref=f"O-{n}") for n in range(5)]
    bodies.insert(3, dict(bodies[1]))  # O-1 again, inside the group
    bodies[4]["occurred_at"] = "2026-11-20T09:30:00+01:00"
    valids = [validate_message(ctx=ctx, partner=row, body=b) for b in bodies]
    received = [ctx.clock() + timedelta(seconds=n) for n in range(len(valids))]
    with ctx.sessions() as session, session.begin():
        receipts = store_many(session=session, ctx=ctx, items=[(row, v) for v in valids],
                              now=ctx.clock(), received=received,
                              correlation_ids=[f"{n:032x}" for n in range(len(valids))])
    assert [r.created for r in receipts] == [True, True, True, False, True, True]
    assert receipts[3].id == receipts[1].id
    with ctx.sessions() as session:
        queued = session.scalars(select(OutboxEntry.message_id).order_by(OutboxEntry.id)).all()
        assert queued == [r.id for r in receipts if r.created]
        for n, receipt in enumerate(receipts):
            if not receipt.created:
                continue
            message = session.get(Message, receipt.id)
            assert (message.type, message.source_partner, message.status) == (
                "signal.arrears.rent", row.id, "accepted")
            assert message.received_at == received[n]
            assert message.correlation_id == f"{n:032x}"
            assert message.occurred_at == valids[n].incoming.occurred_at
            assert message.subject == valids[n].subject and message.batch_id is None
        fifth = session.get(Message, receipts[4].id)
        assert fifth.occurred_at == datetime(2026, 11, 20, 8, 30, tzinfo=UTC)


class Refuser:
    """A plugin that refuses messages whose reference starts with ``BAD``."""

    @hookimpl
    def wijkhub_message_received(self, session, ctx, message):
        if message.source_ref.startswith("BAD"):
            raise invalid("source_ref", "is not one of our tenancies")


def test_a_plugin_refusal_removes_only_that_message_from_the_group(ctx, woonbron, grouping):
    row, _ = woonbron
    ctx.plugins.register(Refuser(), name="refuser")
    try:
        results = _send_concurrently(ctx, row, [arrears(person(8200), ref="OK-1"),
                                                arrears(person(8201), ref="BAD-1"),
                                                arrears(person(8202), ref="OK-2")])
    finally:
        ctx.plugins.unregister("refuser")
    assert isinstance(results[1], HubProblem) and results[1].status == 422
    assert results[0][1] and results[2][1]
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 2
        assert session.scalar(select(func.count()).select_from(OutboxEntry)) == 2


class Writer:
    """A plugin that records every message in a table (households stand in for its own),
    then refuses ``BAD…`` references and fails (a bug) on ``BUG…`` ones."""

    @hookimpl
    def wijkhub_message_received(self, session, ctx, message):
        session.add(Household(id=message.id, address_key=f"plugin:{message.source_ref}",
                              wijk="test"))
        session.flush()
        if message.source_ref.startswith("BAD"):
            raise invalid("source_ref", "is not one of our tenancies")
        if message.source_ref.startswith("BUG"):
            raise RuntimeError("a bug in the plugin")


def _recorded(ctx) -> list[str]:
    with ctx.sessions() as session:
        return sorted(session.scalars(select(Household.address_key)
                                      .where(Household.address_key.like("plugin:%"))))


def test_a_refusal_in_a_group_leaves_nothing_of_that_message_and_keeps_the_others(
        ctx, woonbron, grouping):
    row, _ = woonbron
    ctx.plugins.register(Writer(), name="writer")
    try:
        results = _send_concurrently(ctx, row, [arrears(person(8250), ref="OK-1"),
                                                arrears(person(8251), ref="BAD-1"),
                                                arrears(person(8252), ref="BUG-1"),
                                                arrears(person(8253), ref="OK-2")])
    finally:
        ctx.plugins.unregister("writer")
    assert isinstance(results[1], HubProblem) and results[1].status == 422
    assert isinstance(results[2], RuntimeError)
    assert results[0][1] and results[3][1]
    # What the plugin wrote for the refused messages is gone; for the others it is
    # there once (the group's first, optimistic pass was rolled back whole).
    assert _recorded(ctx) == ["plugin:OK-1", "plugin:OK-2"]
    with ctx.sessions() as session:
        stored = set(session.scalars(select(Message.id)))
        assert stored == {results[0][0].id, results[3][0].id}
        assert session.scalar(select(func.count()).select_from(OutboxEntry)) == 2


def test_a_group_nobody_refuses_costs_no_savepoints(ctx, woonbron, grouping):
    row, _ = woonbron
    ctx.plugins.register(Writer(), name="writer")
    try:
        with counting(ctx.engine) as counts:
            results = _send_concurrently(ctx, row, [arrears(person(8260 + n), ref=f"W-{n}")
                                                    for n in range(4)])
    finally:
        ctx.plugins.unregister("writer")
    assert all(durable for _, durable in results), results
    assert _recorded(ctx) == [f"plugin:W-{n}" for n in range(4)]
    # The plugin wrote for every message, yet no message needed a savepoint.
    assert counts.starting("SAVEPOINT") == 0, counts.statements
    assert counts.starting("RELEASE") == 0, counts.statements


def test_a_failed_commit_fails_every_waiting_request_and_stores_nothing(
        ctx, client, woonbron, grouping):
    row, headers = woonbron

    def mark(conn, cursor, statement, *_) -> None:
        # Anywhere in the statement: on PostgreSQL the INSERT is inside a WITH (unnest).
        if "INSERT INTO messages" in statement:
            conn.info["wrote_messages"] = True

    def boom(conn) -> None:
        # The commit of a transaction that stored messages fails (a full disk, say).
        if conn.info.pop("wrote_messages", False):
            raise RuntimeError("disk full")

    event.listen(ctx.engine, "before_cursor_execute", mark)
    event.listen(ctx.engine, "commit", boom)
    try:
        results = _send_concurrently(ctx, row, [arrears(person(8300 + n), ref=f"F-{n}")
                                                for n in range(4)])
        r = client.post("/api/v1/messages", json=arrears(person(8310), ref="F-10"),
                        headers=headers)
    finally:
        event.remove(ctx.engine, "commit", boom)
        event.remove(ctx.engine, "before_cursor_execute", mark)
    assert all(isinstance(result, Unavailable) for result in results), results
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0
    # The committer is not stuck: the next message is stored.
    r = client.post("/api/v1/messages", json=arrears(person(8311), ref="F-11"), headers=headers)
    assert r.status_code == 202, r.text
    assert _stored(ctx, r.json()["id"])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_key_lookup_of_a_post_never_takes_the_write_lock(ctx, client, woonbron):
    _, headers = woonbron
    with counting(ctx.engine) as counts:
        r = client.post("/api/v1/messages", json=arrears(person(8400), ref="K-1"),
                        headers=headers)
    assert r.status_code == 202, r.text
    # One write transaction (the group's); the key lookup began DEFERRED.
    assert counts.statements["BEGIN IMMEDIATE"] == 1, counts.statements
    assert counts.statements["BEGIN"] >= 1, counts.statements


@pytest.fixture
def one_by_one(ctx) -> Iterator[list[str]]:
    """Groups of one, no window; the first group's commit waits until a second caller
    queued. Yields the names of the threads that stored each group, in order."""
    committer = ctx.ingest
    before, store = ctx.settings, committer._store
    ctx.settings = before.model_copy(update={"ingest_group_ms": 0, "ingest_group_size": 1})
    stored_by: list[str] = []

    def store_when_another_waits(group, *, careful):
        if not stored_by:
            wait_until(lambda: len(committer._queue) >= 1, "a second caller to queue")
        stored_by.append(threading.current_thread().name)
        return store(group, careful=careful)

    committer._store = store_when_another_waits
    try:
        yield stored_by
    finally:
        del committer._store
        ctx.settings = before


def _accept_on_a_thread(ctx, row, body, results: list) -> threading.Thread:
    def run() -> None:
        valid = validate_message(ctx=ctx, partner=row, body=body)
        accepted = ctx.ingest.accept(partner=row, valid=valid, body=body, now=ctx.clock())
        results.append((accepted, _stored(ctx, accepted.id)))

    thread = threading.Thread(target=run, name="request-thread")
    thread.start()
    return thread


def test_a_thread_leader_hands_the_lead_to_an_awaiting_caller_that_queued_meanwhile(
        ctx, woonbron, one_by_one):
    row, _ = woonbron
    threaded: list = []
    thread = _accept_on_a_thread(ctx, row, arrears(person(8700), ref="H-T"), threaded)
    wait_until(lambda: ctx.ingest._leading, "the thread to lead")
    awaited = _await_concurrently(ctx, row, [arrears(person(8701), ref="H-A")])
    thread.join()
    assert threaded[0][1] and awaited[0][1], (threaded, awaited)
    # The thread committed its own group and handed on; a leader on the awaiting
    # caller's loop committed the second, and nobody is left leading.
    assert one_by_one[0] == "request-thread" and one_by_one[1] != "request-thread"
    assert len(one_by_one) == 2 and not ctx.ingest._leading


def test_an_awaiting_callers_leader_commits_a_thread_that_queued_meanwhile(
        ctx, woonbron, one_by_one):
    row, _ = woonbron
    awaited: list = []
    loop_thread = threading.Thread(target=lambda: awaited.extend(_await_concurrently(
        ctx, row, [arrears(person(8710), ref="H2-A")])))
    loop_thread.start()
    wait_until(lambda: ctx.ingest._leading, "the awaiting caller's leader to start")
    threaded: list = []
    _accept_on_a_thread(ctx, row, arrears(person(8711), ref="H2-T"), threaded).join()
    loop_thread.join()
    assert threaded[0][1] and awaited[0][1], (threaded, awaited)
    # The thread waited for its receipt: the leader (not the thread) stored its group.
    assert "request-thread" not in one_by_one and len(one_by_one) == 2
    assert not ctx.ingest._leading


def test_the_leader_waits_for_others_only_while_others_are_sending(ctx, woonbron, grouping):
    """A message sent alone is not held for the window (it was the largest delay of a
    quiet hub's messages); after a group with company the next leader waits again."""
    row, _ = woonbron
    committer = ctx.ingest
    happened: list[object] = []  # "wait", or the size of a group as it is committed

    class NotedFull(threading.Event):
        def wait(self, timeout=None):
            happened.append("wait")
            return super().wait(timeout)

    commit = committer._commit

    def noted_commit(group) -> None:
        happened.append(len(group))
        commit(group)

    committer._full, committer._commit = NotedFull(), noted_commit

    def alone(n: int) -> None:
        body = arrears(person(8100 + n), ref=f"L-{n}")
        valid = validate_message(ctx=ctx, partner=row, body=body)
        committer.accept(partner=row, valid=valid, body=body, now=ctx.clock())

    try:
        for n in range(3):
            alone(n)
        results = _send_concurrently(ctx, row, [arrears(person(8200 + n), ref=f"C-{n}")
                                                for n in range(16)])
        alone(3)
    finally:
        del committer._commit
    assert all(durable for _, durable in results), results
    # Each group, and whether its leader waited: the first (nothing known of others yet)
    # and every one after a group with company did; none after a group of one.
    groups: list[tuple[int, bool]] = []
    waited = False
    for event_ in happened:
        if event_ == "wait":
            waited = True
        else:
            groups.append((event_, waited))
            waited = False
    assert groups[0][1] and sum(size for size, _ in groups) == 20, groups
    for (before, _), (_, waited) in itertools.pairwise(groups):
        assert waited == (before > 1), groups
    assert [w for _, w in groups[1:3]] == [False, False], groups  # alone after alone
    assert any(before > 1 for before, _ in groups[:-1]), groups  # a wait after company
