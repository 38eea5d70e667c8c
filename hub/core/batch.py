"""CSV batches: each line becomes one message through the same validation as a single one.

One machinery for every partner kind that uploads files (housing corporations,
Evides, ...): a plugin only declares its :class:`~hub.core.types.CsvFormat`.

- **Streaming.** The file is read line by line through the csv module from a
  text stream; only one chunk of lines (``HUB_BATCH_CHUNK_LINES``, 500) is in
  memory at a time, so a 100,000-line file costs what a 1,000-line one does.
- **Chunks commit whole.** Each chunk is one transaction: every good line's
  message and outbox row, every refused line's reason, and the batch's counts
  and ``lines_done``. A crash loses at most the chunk in hand, and the counts
  are always exactly what is stored.
- **Idempotent and resumable.** A line is idempotent on (partner, ``source_ref``):
  sent again it is counted as a duplicate, never stored twice. A batch opened
  with the file's checksum (``hub batch import``) is found again when the same
  file is imported again, and continues after its last committed line.
- Good lines are accepted and bad lines reported by line number, field and
  reason (never by value: a line may hold a BSN).
"""

from __future__ import annotations

import csv
import itertools
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from hub.core.context import HubContext
from hub.core.csvdialect import csv_amount, detect_separator, match_header
from hub.core.errors import HubProblem, invalid
from hub.core.ingest import ValidMessage, store_messages, validate_message
from hub.core.models import Batch, BatchError, Partner
from hub.core.store import insert_if_absent
from hub.core.types import CsvFormat

CHUNK_LINES = 500
log = logging.getLogger(__name__)


class BatchConflict(RuntimeError):
    """Another process is importing the same batch: this one stops, storing nothing more."""


@dataclass(frozen=True)
class BatchProgress:
    """Where a batch stands after a committed chunk: counts only, never line contents."""

    batch_id: str
    lines_done: int
    lines_total: int | None
    total: int
    accepted: int
    duplicates: int
    rejected: int


@dataclass(frozen=True)
class _Line:
    """One line of the file: its cells, or why the csv module could not read it."""

    number: int
    cells: list[str]
    error: str | None = None


@dataclass
class OpenBatch:
    """A batch whose header was checked and whose row exists, ready to import.

    ``resumed_from`` is the last line a previous run committed (0 for a new batch).
    """

    batch: Batch
    partner: Partner
    fmt: CsvFormat
    now: datetime
    resumed_from: int
    _reader: Iterator[list[str]]

    @property
    def id(self) -> str:
        """The batch id."""
        return self.batch.id


def _column_of(field: str, header: tuple[str, ...]) -> str:
    # Report the CSV column a partner can find, not our internal JSON path.
    last = field.rsplit(".", 1)[-1]
    return last if last in header else field


def open_batch(*, ctx: HubContext, partner: Partner, lines: Iterable[str], now: datetime,
               checksum: str | None = None, lines_total: int | None = None) -> OpenBatch:
    """Check the partner's format and the file's header, and create the batch row.

    ``lines`` is read lazily (a text stream opened with ``newline=""`` is best).
    With a ``checksum`` (the file's SHA-256) the batch this partner started
    earlier with the same file is continued instead of a new one made; a batch
    that finished is returned as it is. Raises :class:`HubProblem` before
    storing anything when the partner has no batch format or the header is wrong.
    """
    fmt = ctx.plugins.catalog.csv_format_for(partner.kind)
    if fmt is None:
        raise HubProblem(403, "No batch format for this partner", [])
    rest = iter(lines)
    first = next(rest, "")
    if not first.strip():
        raise invalid("header", "the file is empty")
    # The separator Dutch exports use (;), or , or tab: judged by the header line.
    reader = csv.reader(itertools.chain([first], rest), delimiter=detect_separator(first))
    try:
        match_header(next(reader), fmt.header)
    except csv.Error as exc:
        raise invalid("header", f"is not valid CSV ({exc})") from None
    except ValueError as exc:
        raise invalid("header", str(exc)) from None

    with ctx.sessions() as session, session.begin():
        if checksum is not None:
            insert_if_absent(session, Batch.__table__, _new_row(
                partner=partner, fmt=fmt, now=now, checksum=checksum, lines_total=lines_total))
            batch = session.scalar(select(Batch).where(Batch.partner_id == partner.id,
                                                       Batch.source_checksum == checksum))
        else:
            batch = Batch(**_new_row(partner=partner, fmt=fmt, now=now, checksum=None,
                                     lines_total=lines_total))
            session.add(batch)
    return OpenBatch(batch=batch, partner=partner, fmt=fmt, now=now,
                     resumed_from=batch.lines_done, _reader=reader)


def _new_row(*, partner: Partner, fmt: CsvFormat, now: datetime, checksum: str | None,
             lines_total: int | None) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "partner_id": partner.id, "message_type": fmt.message_type,
            "status": "running", "total": 0, "accepted": 0, "duplicates": 0, "rejected": 0,
            "created_at": now, "updated_at": now, "lines_done": 1, "lines_total": lines_total,
            "source_checksum": checksum}


def run_batch(*, ctx: HubContext, opened: OpenBatch,
              progress: Callable[[BatchProgress], None] | None = None,
              chunk_lines: int | None = None) -> Batch:
    """Import the lines after the header (or after ``resumed_from``); returns the batch.

    Commits every ``chunk_lines`` lines (default ``HUB_BATCH_CHUNK_LINES``) and
    calls ``progress`` after each commit. Raises :class:`BatchConflict` when
    another process moved the same batch on in the meantime.
    """
    batch = opened.batch
    if batch.status == "done":
        return batch
    size = chunk_lines or ctx.settings.batch_chunk_lines
    position = batch.lines_done
    pending: list[_Line] = []

    def flush(up_to: int) -> None:
        nonlocal batch, position
        batch = _commit_chunk(ctx=ctx, opened=opened, lines=pending, start=position, end=up_to)
        position = up_to
        pending.clear()
        ctx.work_available.set()
        if progress is not None:
            progress(_progress(batch))

    reader = opened._reader
    line_num = position
    while True:
        # One unreadable line (e.g. a field beyond csv's size limit) is reported as that
        # line; the reader goes on with the next one, so no later line is silently lost.
        try:
            cells = next(reader)  # first: line_num only counts the line once it is read
            line = _Line(reader.line_num, cells)
        except StopIteration:
            break
        except csv.Error as exc:
            line = _Line(reader.line_num, [], error=str(exc))
        line_num = line.number
        if line.number <= position:
            continue  # committed by an earlier run of this batch
        if line.error is None and not any(cell.strip() for cell in line.cells):
            continue
        pending.append(line)
        if len(pending) >= size:
            flush(line.number)
    if pending or line_num > position:
        flush(max(line_num, position))
    batch = _finish(ctx=ctx, opened=opened)
    log.info("batch %s from partner %s done: %s lines, %s accepted, %s duplicates, %s rejected",
             batch.id, opened.partner.id, batch.total, batch.accepted, batch.duplicates,
             batch.rejected)
    return batch


def ingest_batch(*, ctx: HubContext, partner: Partner, lines: Iterable[str], now: datetime,
                 checksum: str | None = None, lines_total: int | None = None,
                 progress: Callable[[BatchProgress], None] | None = None) -> Batch:
    """Open and run a batch in one call (see :func:`open_batch` and :func:`run_batch`)."""
    opened = open_batch(ctx=ctx, partner=partner, lines=lines, now=now, checksum=checksum,
                        lines_total=lines_total)
    return run_batch(ctx=ctx, opened=opened, progress=progress)


def fail_batch(*, ctx: HubContext, batch_id: str) -> None:
    """Mark a batch whose import stopped on an unexpected error as ``failed``.

    What its committed chunks stored stays stored (and counted); the file may be
    sent again: those lines then count as duplicates.
    """
    with ctx.sessions() as session, session.begin():
        batch = _locked(session, batch_id)
        if batch.status == "running":
            batch.status, batch.updated_at = "failed", ctx.clock()


def batch_state(batch: Batch, *, now: datetime, stale_after: float) -> str:
    """``running``, ``done``, ``failed``, or ``interrupted``: running, but no chunk
    committed for a while (the process importing it stopped).

    An interrupted batch's counts are what was stored; the rest of the file was
    not read. Sending or importing the file again is safe (see the module doc).
    """
    if batch.status == "running" and batch.updated_at is not None and \
            now - batch.updated_at > timedelta(seconds=stale_after):
        return "interrupted"
    return batch.status


def batch_progress(batch: Batch) -> float | None:
    """The share of the file's lines done (0.0-1.0), or None when the size is unknown."""
    if batch.status == "done":
        return 1.0
    if not batch.lines_total:
        return None
    return round(min(batch.lines_done / batch.lines_total, 1.0), 4)


def _progress(batch: Batch) -> BatchProgress:
    return BatchProgress(batch_id=batch.id, lines_done=batch.lines_done,
                         lines_total=batch.lines_total, total=batch.total,
                         accepted=batch.accepted, duplicates=batch.duplicates,
                         rejected=batch.rejected)


def _locked(session: Session, batch_id: str) -> Batch:
    # FOR UPDATE on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises writers):
    # the chunk's check of lines_done and its update cannot interleave with another run.
    return session.scalars(select(Batch).where(Batch.id == batch_id).with_for_update()
                           .execution_options(populate_existing=True)).one()


def _commit_chunk(*, ctx: HubContext, opened: OpenBatch, lines: list[_Line], start: int,
                  end: int) -> Batch:
    with ctx.sessions() as session, session.begin():
        batch = _locked(session, opened.id)
        if batch.lines_done != start or batch.status == "done":
            raise BatchConflict(f"batch {batch.id} was moved on by another import")
        _import_chunk(session=session, ctx=ctx, partner=opened.partner, batch=batch,
                      lines=lines, fmt=opened.fmt, now=opened.now)
        batch.lines_done, batch.updated_at = end, ctx.clock()
    return batch


def _finish(*, ctx: HubContext, opened: OpenBatch) -> Batch:
    with ctx.sessions() as session, session.begin():
        batch = _locked(session, opened.id)
        batch.status = "done"
        batch.finished_at = batch.updated_at = ctx.clock()
    return batch


def _import_chunk(*, session: Session, ctx: HubContext, partner: Partner, batch: Batch,
                  lines: list[_Line], fmt: CsvFormat, now: datetime) -> None:
    # Every line is checked first; then the chunk's good lines are stored with bulk
    # statements (store_messages: one INSERT … ON CONFLICT DO NOTHING for the messages,
    # one for their outbox rows) and its refused lines with one INSERT, never row by row.
    # The counts go to the batch row once per chunk.
    counts = {"total": len(lines), "accepted": 0, "duplicates": 0, "rejected": 0}
    errors: list[dict[str, Any]] = []
    valids: list[ValidMessage] = []
    occurred = now.isoformat()
    for current in lines:
        valid = _check_line(ctx=ctx, partner=partner, batch=batch, line=current, fmt=fmt,
                            occurred=occurred, errors=errors, session=session)
        if valid is None:
            counts["rejected"] += 1
        else:
            valids.append(valid)
    for receipt in store_messages(session=session, ctx=ctx, partner=partner, valids=valids,
                                  now=now, batch_id=batch.id):
        counts["accepted" if receipt.created else "duplicates"] += 1
    if errors:
        session.execute(insert(BatchError), errors)
    for name, value in counts.items():
        setattr(batch, name, getattr(batch, name) + value)


def _check_line(*, session: Session, ctx: HubContext, partner: Partner, batch: Batch,
                line: _Line, fmt: CsvFormat, occurred: str,
                errors: list[dict[str, Any]]) -> ValidMessage | None:
    """The line's message, checked; or None when refused (its reasons added to ``errors``)."""
    header, number, row = fmt.header, line.number, line.cells

    def reject(field: str, reason: str) -> None:
        ctx.metrics.message_in(partner=partner.name, type=batch.message_type,
                               outcome="rejected", session=session)
        errors.append({"batch_id": batch.id, "line": number, "field": field, "reason": reason})

    if line.error is not None:
        return reject("line", f"is not valid CSV ({line.error})")
    if len(row) != len(header):
        return reject("line", f"has {len(row)} columns, expected {len(header)}")
    try:
        cells = dict(zip(header, (c.strip() for c in row), strict=True))
        # Amounts in euros (the core's *_eur columns) may carry a decimal comma: "98,10".
        body = fmt.to_message({name: csv_amount(value) if name.endswith("_eur") else value
                               for name, value in cells.items()})
    except Exception as exc:
        # A plugin's mapping that fails on one line must not take the chunk down.
        log.warning("batch %s line %s: the format could not map it (%s)", batch.id, number,
                    type(exc).__name__)
        return reject("line", "could not be read")
    body["occurred_at"] = occurred
    try:
        return validate_message(ctx=ctx, partner=partner, body=body)
    except HubProblem as problem:
        ctx.metrics.message_in(partner=partner.name, type=batch.message_type,
                               outcome="rejected", session=session)
        errors.extend({"batch_id": batch.id, "line": number,
                       "field": _column_of(p.field, header), "reason": p.reason}
                      for p in problem.problems[:5])
        return None
