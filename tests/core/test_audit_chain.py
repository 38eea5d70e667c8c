"""The audit chain's append path (issue 14): linked at commit, one head update per commit.

Statements are counted with a ``before_cursor_execute`` listener and signatures
with a counting wrapper around ``sign_head``, never by time.
"""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from sqlalchemy import event, select, text

import hub.core.audit as audit
from hub.core.audit import Event, record_event, record_events, verify
from hub.core.models import AuditEvent


class Statements:
    """The SQL an engine sends while it is attached (``with Statements(engine) as s``)."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.sql: list[str] = []

    def _seen(self, _conn, _cursor, statement, _params, _context, _many) -> None:
        self.sql.append(" ".join(statement.split()).lower())

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def count(self, start: str) -> int:
        return sum(1 for s in self.sql if s.startswith(start))


@pytest.fixture
def signatures(monkeypatch) -> list[int]:
    """Each head signature made, by its sequence number."""
    made: list[int] = []
    real = audit.sign_head

    def counting(ring, seq, hash_):
        made.append(seq)
        return real(ring, seq, hash_)

    monkeypatch.setattr(audit, "sign_head", counting)
    return made


def _read(session, ctx, i: int, **extra) -> None:
    record_event(session, ctx=ctx, action="read", actor=f"user-{i}", role="regisseur",
                 data={"item_id": f"item-{i}"}, system="worker", **extra)


def _actors(ctx) -> list[str]:
    with ctx.sessions() as session:
        return list(session.scalars(select(AuditEvent.actor).order_by(AuditEvent.seq)))


def test_a_transaction_of_many_events_costs_one_head_update_and_one_signature(
        ctx, signatures):
    n = 25
    with ctx.sessions() as session, session.begin():
        _read(session, ctx, 0)  # the head row exists from here on
    with Statements(ctx.engine) as seen, ctx.sessions() as session, session.begin():
        for i in range(1, n + 1):  # as a batch of routed messages does: one call each
            _read(session, ctx, i)
    assert signatures == [1, n + 1]
    audit = [s for s in seen.sql if "audit_" in s]
    assert sum(s.startswith("select") for s in audit) == 1  # the head lock
    assert sum("update audit_head" in s for s in audit) == 1
    assert sum("insert into audit_events" in s for s in audit) == 1
    # On PostgreSQL rows and head go in one statement: two round trips in all.
    assert len(audit) == (2 if ctx.engine.dialect.name == "postgresql" else 3)
    verdict = _verify(ctx)
    assert verdict.intact, verdict.reason
    assert (verdict.count, verdict.head_seq) == (n + 1, n + 1)
    assert _actors(ctx) == [f"user-{i}" for i in range(n + 1)]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_batches_of_any_size_append_with_one_fixed_statement(ctx):
    # A statement whose text changes with the batch size is compiled anew for every
    # batch (it was 18 % of routing); one fixed text is compiled once and cached.
    appends = []
    for size in (1, 3, 7):
        with Statements(ctx.engine) as seen, ctx.sessions() as session, session.begin():
            for i in range(size):
                _read(session, ctx, i, client="portaal" if i % 2 else None)
        appends += [s for s in seen.sql if "insert into audit_events" in s]
    assert len(appends) == 3 and len(set(appends)) == 1
    verdict = _verify(ctx)
    assert verdict.intact, verdict.reason
    assert verdict.count == 11


def test_nothing_is_written_before_the_commit(ctx):
    with ctx.sessions() as session, session.begin():
        with Statements(ctx.engine) as seen:
            record_events(session, ctx=ctx, events=[
                Event(action="read", actor="a", role="regisseur"),
                Event(action="read", actor="b", role="regisseur")])
            session.flush()
        # Queued on the session only: the head is not touched (nor locked) yet.
        assert not [s for s in seen.sql if "audit" in s]
    assert _actors(ctx) == ["a", "b"]


def _verify(ctx):
    with ctx.sessions() as session:
        return verify(session, ctx.keys)


def test_a_rolled_back_transaction_leaves_no_event_and_no_head(ctx, signatures):
    with ctx.sessions() as session:
        _read(session, ctx, 1)
        session.rollback()
    with pytest.raises(RuntimeError), ctx.sessions() as session, session.begin():
        _read(session, ctx, 2)
        raise RuntimeError("the action failed")
    assert signatures == []
    assert _actors(ctx) == []
    with ctx.sessions() as session, session.begin():
        _read(session, ctx, 3)
    assert _actors(ctx) == ["user-3"]
    assert _verify(ctx).intact


def test_a_savepoint_keeps_or_drops_its_own_events(ctx):
    with ctx.sessions() as session, session.begin():
        _read(session, ctx, 1)
        with session.begin_nested():
            _read(session, ctx, 2)  # released: commits with the transaction
        try:
            with session.begin_nested():
                _read(session, ctx, 3)
                raise ValueError("rolled back to the savepoint")
        except ValueError:
            pass
        _read(session, ctx, 4)
    assert sorted(_actors(ctx)) == ["user-1", "user-2", "user-4"]
    assert _verify(ctx).intact


def test_concurrent_appenders_never_fork_the_chain(ctx):
    """Several threads, each its own sessions, some transactions rolled back."""
    threads, per_thread, per_tx = 4, 12, 3
    errors: list[BaseException] = []

    def append(n: int) -> None:
        try:
            for i in range(per_thread):
                with ctx.sessions() as session:
                    session.begin()
                    for j in range(per_tx):
                        record_event(session, ctx=ctx, action="read", actor=f"t{n}-{i}-{j}",
                                     role="regisseur", system="worker")
                    if i % 4 == 3:
                        session.rollback()
                    else:
                        session.commit()
        except BaseException as exc:  # collected: an exception in a thread is otherwise lost
            errors.append(exc)

    workers = [threading.Thread(target=append, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    verdict = _verify(ctx)
    assert verdict.intact, verdict.reason
    committed = threads * (per_thread - per_thread // 4) * per_tx
    assert verdict.count == committed
    actors = _actors(ctx)
    assert len(set(actors)) == committed
    assert not [a for a in actors if int(a.split("-")[1]) % 4 == 3]
    # One transaction's events stay together in the chain, in the order recorded.
    for k in range(0, committed, per_tx):
        group = actors[k:k + per_tx]
        assert [a.rsplit("-", 1)[0] for a in group] == [group[0].rsplit("-", 1)[0]] * per_tx
        assert [a.rsplit("-", 1)[1] for a in group] == ["0", "1", "2"]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_an_open_transaction_with_events_does_not_hold_the_head(ctx):
    """The head is locked at commit only: a slow routing transaction blocks no one."""
    with ctx.sessions() as slow:
        slow.begin()
        _read(slow, ctx, 1)
        slow.flush()
        # The other transaction would wait for the head lock if ``slow`` held it; it
        # gives up after lock_timeout instead of hanging the test.
        with ctx.sessions() as fast, fast.begin():
            fast.execute(text("SET LOCAL lock_timeout = '5s'"))
            _read(fast, ctx, 2)
        slow.commit()
    assert _actors(ctx) == ["user-2", "user-1"]
    assert _verify(ctx).intact


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_naive_timestamp_is_refused_on_the_one_statement_path_too(ctx):
    # The unnest statement binds arrays itself; it must refuse what the column type refuses.
    with pytest.raises(ValueError, match="timezone-aware"), ctx.sessions() as session, \
            session.begin():
        record_events(session, ctx=ctx, events=[Event(
            action="read", actor="a", role="regisseur", at=datetime(2026, 1, 1))])
    assert _verify(ctx).count == 0


def test_a_batch_of_events_is_stored_as_recorded_whatever_its_data(ctx):
    # On PostgreSQL the batch travels as one JSON document (json_to_recordset): quotes,
    # backslashes, accents, nested values, SQL NULLs and microseconds come back as given.
    from datetime import UTC

    at = datetime(2026, 11, 20, 8, 30, 15, 123456, tzinfo=UTC)
    odd = {"item_id": 'a"b\\c', "fields": ["naam", "één"], "n": {"x": None, "y": [1, 2.5]}}
    events = [Event(action="disclosure", actor="p-1", role="partner", subject="s" * 64,
                    data=odd, basis="statute:wgs", system="worker", client=None, at=at),
              Event(action="read", actor="r-1", role="regisseur")]
    with ctx.sessions() as session, session.begin():
        record_events(session, ctx=ctx, events=events)
    with ctx.sessions() as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        assert verify(session, ctx.keys).intact
    first, second = rows
    assert (first.action, first.actor, first.role, first.subject, first.data, first.basis,
            first.system, first.client, first.at) == (
        "disclosure", "p-1", "partner", "s" * 64, odd, "statute:wgs", "worker", None, at)
    assert (second.data, second.subject, second.basis) == (None, None, None)
    with ctx.sessions() as session:
        # No data is SQL NULL, not a JSON null, as the ORM's JSON column stores None.
        assert session.scalar(text("SELECT count(*) FROM audit_events WHERE data IS NULL")) == 1
