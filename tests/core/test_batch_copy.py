"""A CSV batch's chunk stored in bulk (issue 14): COPY on PostgreSQL, multi-row INSERT on
SQLite; idempotent per (partner, source_ref), in line order, never half stored."""

from __future__ import annotations

import hashlib

import psycopg
import pytest
from sqlalchemy import func, select

from hub.core import batch as core_batch
from hub.core.batch import open_batch, run_batch
from hub.core.ingest import STAGING, store_messages, validate_message
from hub.core.models import BatchError, Message, OutboxEntry, Partner
from hub.core.source_refs import open_ref
from tests.utils.builders import arrears, partner, person
from tests.utils.statements import counting

HEADER = "source_ref,name,birthdate,postcode,huisnummer,bsn,amount_eur,months,since,tenancy_ref"


def _line(ref: str, n: int, amount: str | None = None) -> str:
    amount = f"{n % 500 + 10}.00" if amount is None else amount
    return f"{ref},Bewoner {n},,3317AB,{n % 900 + 1},,{amount},2,2026-08-01,HC-{n}"


@pytest.fixture
def woonbron(ctx) -> Partner:
    """A housing corporation, detached from its session."""
    partner_id, _ = partner(ctx)
    with ctx.sessions() as session:
        row = session.get(Partner, partner_id)
        session.expunge(row)
    return row


def _import(ctx, woonbron, lines: list[str], *, chunk: int, checksum: str | None = None):
    opened = open_batch(ctx=ctx, partner=woonbron, lines=[HEADER, *lines], now=ctx.clock(),
                        checksum=checksum)
    return run_batch(ctx=ctx, opened=opened, chunk_lines=chunk)


def _stored(ctx) -> tuple[int, int, int]:
    """Messages, distinct (partner, source_ref) keys, and outbox rows pointing at a message."""
    with ctx.sessions() as session:
        messages = session.scalar(select(func.count()).select_from(Message))
        distinct = session.scalar(select(func.count(func.distinct(Message.source_ref))))
        queued = session.scalar(select(func.count()).select_from(OutboxEntry).join(
            Message, Message.id == OutboxEntry.message_id))
    return messages, distinct, queued


def _queued_refs(ctx) -> list[str]:
    """The partner's references of the queued messages, in the order the worker takes them."""
    with ctx.sessions() as session:
        messages = session.scalars(select(Message).join(
            OutboxEntry, OutboxEntry.message_id == Message.id).order_by(OutboxEntry.id)).all()
        return [open_ref(ctx, m) for m in messages]


def test_repeats_inside_a_chunk_and_across_chunks_are_stored_once(ctx, woonbron):
    # Chunks of 4 lines: R-2 comes back inside the first chunk, R-1 in the third.
    refs = ["R-0", "R-1", "R-2", "R-2", "R-3", "R-4", "R-5", "R-6", "R-1", "R-7"]
    batch = _import(ctx, woonbron, [_line(ref, n) for n, ref in enumerate(refs)], chunk=4)
    assert (batch.total, batch.accepted, batch.duplicates, batch.rejected) == (10, 8, 2, 0)
    assert _stored(ctx) == (8, 8, 8)
    # The first of each reference is the one stored and queued, in the file's order.
    assert _queued_refs(ctx) == [f"R-{n}" for n in range(8)]

    again = _import(ctx, woonbron, [_line(ref, n) for n, ref in enumerate(refs)], chunk=3)
    assert (again.total, again.accepted, again.duplicates, again.rejected) == (10, 0, 10, 0)
    assert _stored(ctx) == (8, 8, 8)


def test_receipts_name_the_first_id_of_a_repeat_in_the_list_and_in_the_store(ctx, woonbron):
    anna, bob = person(1), person(2)
    with ctx.sessions() as session, session.begin():
        earlier = store_messages(session=session, ctx=ctx, partner=woonbron, now=ctx.clock(),
                                 valids=[validate_message(ctx=ctx, partner=woonbron,
                                                          body=arrears(anna, ref="A"))])
    valids = [validate_message(ctx=ctx, partner=woonbron, body=arrears(who, ref=ref))
              for who, ref in ((bob, "B"), (anna, "A"), (bob, "B"), (anna, "C"))]
    with ctx.sessions() as session, session.begin():
        receipts = store_messages(session=session, ctx=ctx, partner=woonbron, valids=valids,
                                  now=ctx.clock())
    assert [r.created for r in receipts] == [True, False, False, True]
    assert receipts[1].id == earlier[0].id
    assert receipts[2].id == receipts[0].id
    assert len({receipts[0].id, receipts[1].id, receipts[3].id}) == 3
    assert _stored(ctx) == (3, 3, 3)
    assert _queued_refs(ctx) == ["A", "B", "C"]


def test_a_bad_line_in_the_middle_is_named_and_nothing_of_it_is_stored(ctx, woonbron):
    lines = [_line(f"R-{n}", n) for n in range(9)]
    lines[4] = _line("R-4", 4, amount="")  # file line 6 (the header is line 1)
    batch = _import(ctx, woonbron, lines, chunk=3)
    assert (batch.total, batch.accepted, batch.duplicates, batch.rejected) == (9, 8, 0, 1)
    with ctx.sessions() as session:
        errors = [(e.line, e.field) for e in session.scalars(select(BatchError))]
    assert errors == [(6, "amount_eur")]
    assert _stored(ctx) == (8, 8, 8)
    assert _queued_refs(ctx) == [f"R-{n}" for n in range(9) if n != 4]


def test_a_chunk_that_fails_after_storing_leaves_nothing_and_the_file_continues(
        ctx, woonbron, monkeypatch):
    real = core_batch.store_messages
    calls = []

    def fails_in_the_second_chunk(**kwargs):
        receipts = real(**kwargs)  # stored (on PostgreSQL: copied and moved) ...
        calls.append(len(receipts))
        if len(calls) == 2:
            raise RuntimeError("the process dies here")  # ... and rolled back
        return receipts

    lines = [_line(f"R-{n}", n) for n in range(10)]
    checksum = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    monkeypatch.setattr(core_batch, "store_messages", fails_in_the_second_chunk)
    with pytest.raises(RuntimeError):
        _import(ctx, woonbron, lines, chunk=4, checksum=checksum)
    assert _stored(ctx) == (4, 4, 4)  # the first chunk, whole; nothing of the second

    monkeypatch.setattr(core_batch, "store_messages", real)
    batch = _import(ctx, woonbron, lines, chunk=4, checksum=checksum)
    assert (batch.total, batch.accepted, batch.duplicates, batch.rejected) == (10, 10, 0, 0)
    assert _stored(ctx) == (10, 10, 10)
    assert _queued_refs(ctx) == [f"R-{n}" for n in range(10)]


def test_postgres_copies_a_chunk_and_sqlite_inserts_it_in_one_statement(
        ctx, woonbron, monkeypatch):
    copies: list[str] = []
    real_copy = psycopg.Cursor.copy

    def spy(self, statement, *args, **kwargs):
        copies.append(str(statement))
        return real_copy(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", spy)
    with counting(ctx.engine) as counts:
        batch = _import(ctx, woonbron, [_line(f"R-{n}", n) for n in range(12)], chunk=5)
    assert batch.accepted == 12
    if ctx.engine.dialect.name == "postgresql":
        # Three chunks: three COPYs into the staging table, three statements moving them.
        assert len(copies) == 3 and all(f"COPY {STAGING} " in c for c in copies), copies
        assert counts.statements["WITH"] == 3, counts.statements
        assert counts.statements["INSERT INTO messages"] == 0, counts.statements
    else:
        assert copies == []
        assert counts.statements["INSERT INTO messages"] == 3, counts.statements
        assert counts.statements["INSERT INTO outbox"] == 3, counts.statements
    assert _stored(ctx) == (12, 12, 12)
