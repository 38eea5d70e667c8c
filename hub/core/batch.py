"""CSV batches: each line becomes one message through the same validation as a single one.

Good lines are accepted and bad lines reported by line number, field and reason
(never by value: a line may hold a BSN). Lines commit in chunks, and every line
is idempotent on its ``source_ref``, so a batch sent twice stores nothing twice.
"""

from __future__ import annotations

import csv
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from hub.core.context import HubContext
from hub.core.errors import HubProblem, invalid
from hub.core.ingest import store_message, validate_message
from hub.core.models import Batch, BatchError, Partner

CHUNK_LINES = 500
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Line:
    """One line of the file: its cells, or why the csv module could not read it."""

    number: int
    cells: list[str]
    error: str | None = None


def _column_of(field: str, header: tuple[str, ...]) -> str:
    # Report the CSV column a partner can find, not our internal JSON path.
    last = field.rsplit(".", 1)[-1]
    return last if last in header else field


def ingest_batch(*, ctx: HubContext, partner: Partner, lines: Iterable[str],
                 now: datetime) -> Batch:
    """Import a CSV batch for ``partner``; returns the finished batch with its counts.

    Raises :class:`HubProblem` before storing anything when the partner has no
    batch format or the header is wrong.
    """
    fmt = ctx.plugins.catalog.csv_format_for(partner.kind)
    if fmt is None:
        raise HubProblem(403, "No batch format for this partner", [])
    reader = csv.reader(iter(lines))
    try:
        header = tuple(h.strip().lstrip("\ufeff") for h in next(reader))
    except StopIteration:
        raise invalid("header", "the file is empty") from None
    except csv.Error as exc:
        raise invalid("header", f"is not valid CSV ({exc})") from None
    if header != fmt.header:
        raise invalid("header", f"must be {','.join(fmt.header)}")

    with ctx.sessions() as session, session.begin():
        batch = Batch(id=str(uuid.uuid4()), partner_id=partner.id, message_type=fmt.message_type,
                      status="running", total=0, accepted=0, duplicates=0, rejected=0,
                      created_at=now)
        session.add(batch)

    pending: list[_Line] = []

    def flush() -> None:
        with ctx.sessions() as session, session.begin():
            _import_chunk(session=session, ctx=ctx, partner=partner, batch=batch, lines=pending,
                          header=fmt.header, to_message=fmt.to_message, now=now)
            session.merge(batch)
        pending.clear()
        ctx.work_available.set()

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
        if line.error is None and not any(cell.strip() for cell in line.cells):
            continue
        pending.append(line)
        if len(pending) >= CHUNK_LINES:
            flush()
    if pending:
        flush()
    with ctx.sessions() as session, session.begin():
        batch.status, batch.finished_at = "done", ctx.clock()
        session.merge(batch)
    log.info("batch %s from partner %s done: %s lines, %s accepted, %s duplicates, %s rejected",
             batch.id, partner.id, batch.total, batch.accepted, batch.duplicates, batch.rejected)
    return batch


def _import_chunk(*, session: Session, ctx: HubContext, partner: Partner, batch: Batch,
                  lines: list[_Line], header: tuple[str, ...], to_message,
                  now: datetime) -> None:
    for current in lines:
        line, row = current.number, current.cells
        batch.total += 1
        if current.error is not None:
            ctx.metrics.message_in(partner=partner.name, type=batch.message_type,
                                   outcome="rejected", session=session)
            _reject(session, batch, line, "line", f"is not valid CSV ({current.error})")
            continue
        if len(row) != len(header):
            ctx.metrics.message_in(partner=partner.name, type=batch.message_type,
                                   outcome="rejected", session=session)
            _reject(session, batch, line, "line",
                    f"has {len(row)} columns, expected {len(header)}")
            continue
        body = to_message(dict(zip(header, (c.strip() for c in row), strict=True)))
        body["occurred_at"] = now.isoformat()
        try:
            valid = validate_message(ctx=ctx, partner=partner, body=body)
        except HubProblem as problem:
            ctx.metrics.message_in(partner=partner.name, type=batch.message_type,
                                   outcome="rejected", session=session)
            for p in problem.problems[:5]:
                _reject(session, batch, line, _column_of(p.field, header), p.reason, count=False)
            batch.rejected += 1
            continue
        with session.begin_nested():
            result = store_message(session=session, ctx=ctx, partner=partner, valid=valid,
                                   now=now, batch_id=batch.id)
        if result.created:
            batch.accepted += 1
        else:
            batch.duplicates += 1


def _reject(session: Session, batch: Batch, line: int, field: str, reason: str,
            *, count: bool = True) -> None:
    session.add(BatchError(batch_id=batch.id, line=line, field=field, reason=reason))
    if count:
        batch.rejected += 1
