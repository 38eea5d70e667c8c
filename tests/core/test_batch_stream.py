"""The core's batch machinery: streamed, committed per chunk with its counts, resumable."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, text

import hub.api.partners
from hub.core import batch as core_batch
from hub.core.batch import BatchConflict, batch_state, open_batch, run_batch
from hub.core.models import Batch, BatchError, Message, OutboxEntry, Partner
from tests.utils.builders import partner

HEADER = "source_ref,name,birthdate,postcode,huisnummer,bsn,amount_eur,months,since,tenancy_ref"


def _lines(count: int, *, start: int = 0) -> list[str]:
    return [f"R-{n},Bewoner {n},,3317AB,{n % 900 + 1},,{n % 500 + 10}.00,2,2026-08-01,HC-{n}"
            for n in range(start, start + count)]


def _file(count: int) -> list[str]:
    return [HEADER, *_lines(count)]


def _partner_row(ctx, partner_id: str) -> Partner:
    with ctx.sessions() as session:
        row = session.get(Partner, partner_id)
        session.expunge(row)
        return row


def _counts(ctx) -> tuple[int, int, int]:
    with ctx.sessions() as session:
        messages = session.scalar(select(func.count()).select_from(Message))
        distinct = session.scalar(select(func.count(func.distinct(Message.source_ref))))
        outbox = session.scalar(select(func.count()).select_from(OutboxEntry))
    return messages, distinct, outbox


@pytest.fixture
def woonbron(ctx) -> Partner:
    """A housing corporation (any kind with a CSV format uses the same machinery)."""
    partner_id, _ = partner(ctx)
    return _partner_row(ctx, partner_id)


def test_counts_commit_per_chunk_and_another_session_sees_them_while_it_runs(ctx, woonbron):
    seen = []

    def watch(progress) -> None:
        # A separate session, as GET /api/v1/batches/{id} in another request would read.
        with ctx.sessions() as session:
            row = session.get(Batch, progress.batch_id)
            stored = session.scalar(select(func.count()).select_from(Message)
                                    .where(Message.batch_id == row.id))
            seen.append((row.status, row.total, row.accepted, row.lines_done, stored))

    opened = open_batch(ctx=ctx, partner=woonbron, lines=_file(7), now=ctx.clock(),
                        lines_total=8)
    batch = run_batch(ctx=ctx, opened=opened, progress=watch, chunk_lines=3)
    assert seen == [("running", 3, 3, 4, 3), ("running", 6, 6, 7, 6), ("running", 7, 7, 8, 7)]
    assert (batch.status, batch.total, batch.accepted) == ("done", 7, 7)


def test_lines_are_pulled_one_chunk_at_a_time(ctx, woonbron):
    """The core reads its input lazily: when the first chunk commits, the rest is unread."""
    pulled = 0

    def source() -> Iterator[str]:
        nonlocal pulled
        for line in _file(50):
            pulled += 1
            yield line

    at_first_commit = []
    opened = open_batch(ctx=ctx, partner=woonbron, lines=source(), now=ctx.clock())
    run_batch(ctx=ctx, opened=opened, chunk_lines=10,
              progress=lambda p: at_first_commit.append(pulled))
    # header + 10 lines read when the first chunk commits; never the whole file.
    assert at_first_commit[0] == 11
    assert pulled == 51


class Killed(Exception):
    """Stands in for the process dying right after a chunk committed."""


def test_killed_after_a_chunk_the_same_file_continues_and_nothing_doubles(ctx, woonbron):
    lines = _file(23)
    checksum = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    chunks = []

    def die_after_two(progress) -> None:
        chunks.append(progress.lines_done)
        if len(chunks) == 2:
            raise Killed

    first = open_batch(ctx=ctx, partner=woonbron, lines=lines, now=ctx.clock(),
                       checksum=checksum, lines_total=24)
    with pytest.raises(Killed):
        run_batch(ctx=ctx, opened=first, progress=die_after_two, chunk_lines=5)
    assert _counts(ctx) == (10, 10, 10)

    again = open_batch(ctx=ctx, partner=woonbron, lines=lines, now=ctx.clock(),
                       checksum=checksum, lines_total=24)
    assert again.id == first.id
    assert again.resumed_from == 11  # header + two chunks of five
    batch = run_batch(ctx=ctx, opened=again, chunk_lines=5)
    assert (batch.status, batch.total, batch.accepted, batch.duplicates, batch.rejected) == \
        ("done", 23, 23, 0, 0)
    assert _counts(ctx) == (23, 23, 23)

    # A third run of a finished file imports nothing and keeps the counts.
    third = open_batch(ctx=ctx, partner=woonbron, lines=lines, now=ctx.clock(),
                       checksum=checksum)
    assert third.id == first.id and third.batch.status == "done"
    assert run_batch(ctx=ctx, opened=third).total == 23
    assert _counts(ctx) == (23, 23, 23)


def test_refused_lines_of_a_resumed_batch_are_reported_once(ctx, woonbron):
    lines = [HEADER, *_lines(4), "R-x,only,three", *_lines(4, start=10)]
    checksum = "b" * 64

    def die(progress) -> None:
        raise Killed

    with pytest.raises(Killed):
        run_batch(ctx=ctx, opened=open_batch(ctx=ctx, partner=woonbron, lines=lines,
                                             now=ctx.clock(), checksum=checksum),
                  progress=die, chunk_lines=6)
    batch = run_batch(ctx=ctx, opened=open_batch(ctx=ctx, partner=woonbron, lines=lines,
                                                 now=ctx.clock(), checksum=checksum),
                      chunk_lines=6)
    assert (batch.total, batch.accepted, batch.rejected) == (9, 8, 1)
    with ctx.sessions() as session:
        errors = session.scalars(select(BatchError.line).where(BatchError.batch_id == batch.id))
        assert list(errors) == [6]


def test_two_imports_of_one_batch_cannot_both_count(ctx, woonbron):
    lines = _file(6)
    one = open_batch(ctx=ctx, partner=woonbron, lines=lines, now=ctx.clock(), checksum="c" * 64)
    two = open_batch(ctx=ctx, partner=woonbron, lines=lines, now=ctx.clock(), checksum="c" * 64)
    assert one.id == two.id
    run_batch(ctx=ctx, opened=one, chunk_lines=4)
    with pytest.raises(BatchConflict):
        run_batch(ctx=ctx, opened=two, chunk_lines=4)
    with ctx.sessions() as session:
        batch = session.get(Batch, one.id)
        assert (batch.total, batch.accepted, batch.duplicates) == (6, 6, 0)
    assert _counts(ctx) == (6, 6, 6)


def test_a_batch_that_stopped_moving_is_reported_interrupted(ctx, client, clock):
    partner_id, headers = partner(ctx)
    woonbron = _partner_row(ctx, partner_id)

    def die(progress) -> None:
        raise Killed

    opened = open_batch(ctx=ctx, partner=woonbron, lines=_file(5), now=ctx.clock())
    with pytest.raises(Killed):
        run_batch(ctx=ctx, opened=opened, progress=die, chunk_lines=2)
    report = client.get(f"/api/v1/batches/{opened.id}", headers=headers).json()
    assert (report["status"], report["total"], report["lines_done"]) == ("running", 2, 2)
    clock.advance(seconds=ctx.settings.batch_stale_seconds + 1)
    report = client.get(f"/api/v1/batches/{opened.id}", headers=headers).json()
    assert (report["status"], report["accepted"]) == ("interrupted", 2)
    with ctx.sessions() as session:
        assert batch_state(session.get(Batch, opened.id), now=clock(),
                           stale_after=ctx.settings.batch_stale_seconds) == "interrupted"


def test_the_api_reports_counts_while_the_batch_runs(ctx, client, monkeypatch):
    _, headers = partner(ctx)
    reports = []

    def run_and_poll(*, ctx, opened):
        def poll(progress) -> None:
            r = client.get(f"/api/v1/batches/{opened.id}", headers=headers)
            body = r.json()
            reports.append((body["status"], body["total"], body["accepted"],
                            body["lines_done"], body["lines_total"], body["progress"]))
        return core_batch.run_batch(ctx=ctx, opened=opened, progress=poll, chunk_lines=4)

    monkeypatch.setattr(hub.api.partners, "run_batch", run_and_poll)
    monkeypatch.setattr(ctx.settings, "batch_sync_lines", 5)  # 10 lines: after the 202
    body = ("\n".join(_file(10)) + "\n").encode()
    r = client.post("/api/v1/messages/batch", content=body,
                    headers={**headers, "Content-Type": "text/csv"})
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "running"
    assert reports == [("running", 4, 4, 4, 10, round(5 / 11, 4)),
                       ("running", 8, 8, 8, 10, round(9 / 11, 4)),
                       ("running", 10, 10, 10, 10, 1.0)]
    final = client.get(f"/api/v1/batches/{r.json()['batch_id']}", headers=headers).json()
    assert (final["status"], final["progress"]) == ("done", 1.0)


def test_a_body_above_the_spool_threshold_streams_to_disk_and_imports(ctx, client, monkeypatch):
    monkeypatch.setattr(hub.api.partners, "_SPOOL_IN_MEMORY", 1024)
    _, headers = partner(ctx)
    body = ("\n".join(_file(300)) + "\n").encode()
    assert len(body) > 10 * 1024
    r = client.post("/api/v1/messages/batch", content=body,
                    headers={**headers, "Content-Type": "text/csv"})
    report = client.get(f"/api/v1/batches/{r.json()['batch_id']}", headers=headers).json()
    assert (report["status"], report["accepted"], report["lines_total"]) == ("done", 300, 300)


def test_a_bad_byte_late_in_the_file_refuses_it_before_anything_is_stored(ctx, client):
    _, headers = partner(ctx)
    latin1 = b"R-9,J\xe9r\xf4me,,3317AB,1,,1.00,1,2026-08-01,H\n"
    body = ("\n".join(_file(700)) + "\n").encode() + latin1
    r = client.post("/api/v1/messages/batch", content=body,
                    headers={**headers, "Content-Type": "text/csv"})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["body"]
    with ctx.engine.connect() as conn:
        assert conn.execute(text("select count(*) from messages")).scalar_one() == 0
        assert conn.execute(text("select count(*) from batches")).scalar_one() == 0


def test_a_small_batch_is_imported_before_the_answer(ctx, client):
    _, headers = partner(ctx)
    body = ("\n".join(_file(ctx.settings.batch_sync_lines)) + "\n").encode()
    r = client.post("/api/v1/messages/batch", content=body,
                    headers={**headers, "Content-Type": "text/csv"})
    assert (r.status_code, r.json()["status"]) == (202, "done"), r.text
