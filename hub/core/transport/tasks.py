"""Doing one unit of queued work: the part both transports share (issue 3).

An outbox row names a task and a message. Whichever transport brought it (the
embedded queue's poll or a RabbitMQ delivery), the same code runs it: lock the
row, run its handler (the router), mark it done, all in one transaction. The
row's status is the idempotency record: a row that is ``done`` is never run
again, so a redelivery after a crash has no second effect.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Row, Select, bindparam, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from hub.core import correlation, deadletters
from hub.core.context import HubContext
from hub.core.ingest import ROUTE_TASK
from hub.core.message_rows import load_messages
from hub.core.metrics import pending_count, truncate_pending
from hub.core.models import Message, OutboxEntry
from hub.core.outbound import DELIVER_TASK, deliver, mark_failed
from hub.core.router import MessageFailed, RoutingError, route_message, route_messages
from hub.core.store import in_list, is_postgres

log = logging.getLogger(__name__)

Handler = Callable[..., object]
HANDLERS: dict[str, Handler] = {ROUTE_TASK: route_message, DELIVER_TASK: deliver}
# What else must change when a task is dead-lettered (in the same transaction).
ON_DEAD: dict[str, Handler] = {DELIVER_TASK: mark_failed}
FINISHED = frozenset({"done", "dead"})


@dataclass(frozen=True)
class Outcome:
    """What became of one attempt: ``done`` (now or before), ``missing`` or ``failed``."""

    status: str
    error: Exception | None = None


@dataclass(frozen=True)
class Failure:
    """A failed attempt as recorded: ``retry`` after ``delay`` seconds, or ``dead``."""

    status: str
    attempts: int
    delay: float = 0.0


def is_infrastructure_error(exc: BaseException) -> bool:
    """True when the database, not the message, is the problem: retry without counting."""
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated


def _claim(session: Session, entry_id: int, skip_locked: bool) -> OutboxEntry | None:
    stmt = select(OutboxEntry).where(OutboxEntry.id == entry_id)
    if skip_locked:
        # The embedded queue's pollers share rows: take only a free, pending one.
        stmt = stmt.where(OutboxEntry.status == "pending")
    if is_postgres(session):
        # A broker delivery waits for the lock instead: skipping could ack a
        # redelivery while the first attempt is still uncommitted, and lose it.
        stmt = stmt.with_for_update(skip_locked=skip_locked)
    return session.scalar(stmt)


@correlation.scoped
def run_task(ctx: HubContext, entry_id: int, *, skip_locked: bool = False) -> Outcome:
    """Run one outbox row's handler and mark it done, in one transaction.

    Never raises for a handler's failure (it is returned), so the caller decides
    between retry and dead letter; ``missing`` means no such row exists.
    """
    now = ctx.clock()
    try:
        with ctx.sessions() as session, session.begin():
            entry = _claim(session, entry_id, skip_locked)
            if entry is None:
                return Outcome("done" if skip_locked else "missing")
            if entry.status in FINISHED:
                return Outcome("done")
            # A column, not the entity: the handler must load the message FOR UPDATE.
            correlation.adopt(session.scalar(
                select(Message.correlation_id).where(Message.id == entry.message_id)))
            handler = HANDLERS.get(entry.task)
            if handler is None:
                raise LookupError(f"no handler for task {entry.task!r}")
            handler(session=session, ctx=ctx, message_id=entry.message_id, now=now)
            entry.status, entry.updated_at = "done", now
            entry.attempts += 1
        return Outcome("done")
    except Exception as exc:
        return Outcome("failed", exc)


_OUTBOX = OutboxEntry.__table__


def _claim_statement(postgres: bool, skip_locked: bool) -> Select:
    # Built once per (dialect, skip_locked), lock included, the ids one parameter
    # (hub.core.store.in_list): building a statement per batch, and its cache key,
    # was a measurable part of a small batch's time (issue 14).
    stmt = (select(_OUTBOX.c.id, _OUTBOX.c.task, _OUTBOX.c.status, _OUTBOX.c.message_id)
            .where(in_list(_OUTBOX.c.id, "ids", postgres=postgres)).order_by(_OUTBOX.c.id))
    if skip_locked:
        stmt = stmt.where(_OUTBOX.c.status == "pending")
    if postgres:
        stmt = stmt.with_for_update(skip_locked=skip_locked)
    return stmt


_CLAIM = {(p, skip): _claim_statement(p, skip) for p in (False, True) for skip in (False, True)}


@functools.lru_cache(maxsize=8)
def due_statement(limit: int, *, locked: bool = False) -> Select:
    """The oldest ``limit`` pending outbox rows due at the parameter ``now``: (id, task,
    message_id), in queue order; with ``locked``, ``FOR UPDATE SKIP LOCKED`` (PostgreSQL).

    Built once per limit and lock, the time a parameter: the embedded worker runs it
    every round and the relay every batch, and a statement built each time (and its
    cache key) is latency a message waits.
    """
    stmt = (select(_OUTBOX.c.id, _OUTBOX.c.task, _OUTBOX.c.message_id)
            .where(_OUTBOX.c.status == "pending",
                   _OUTBOX.c.next_attempt_at <= bindparam(
                       "now", type_=_OUTBOX.c.next_attempt_at.type))
            .order_by(_OUTBOX.c.id).limit(limit))
    return stmt.with_for_update(skip_locked=True) if locked else stmt


# Core on the table, not an ORM bulk UPDATE: the batch's rows are plain rows (no entity
# to synchronise), and the ORM's bulk path was a tenth of a small batch's time.
_MARK_DONE = {p: update(_OUTBOX).where(in_list(_OUTBOX.c.id, "ids", postgres=p))
              .values(status="done", attempts=_OUTBOX.c.attempts + 1,
                      updated_at=bindparam("now", type_=_OUTBOX.c.updated_at.type))
              for p in (False, True)}


def _claim_many(session: Session, entry_ids: list[int], skip_locked: bool) -> list[Row]:
    # One select for the whole batch, locked in id order: two workers whose batches
    # overlap take the row locks in the same order and cannot deadlock on them. Plain
    # rows of the four columns read, not OutboxEntry objects: the rows are marked done
    # with one UPDATE, so an entity per row would only cost (issue 14).
    stmt = _CLAIM[is_postgres(session), skip_locked]
    return list(session.execute(stmt, {"ids": entry_ids}))


class _EntryFailed(Exception):
    """One row of a batch failed in Python: the batch is rolled back and run without it."""

    def __init__(self, entry_id: int, error: Exception) -> None:
        super().__init__(entry_id)
        self.entry_id = entry_id
        self.error = error


def _run_batch(ctx: HubContext, ids: list[int], skip_locked: bool,
               now: datetime) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    if not ids:
        return outcomes
    with ctx.sessions() as session, session.begin():
        entries = _claim_many(session, ids, skip_locked)
        found = {e.id for e in entries}
        for entry_id in ids:
            if entry_id not in found:
                outcomes[entry_id] = Outcome("done" if skip_locked else "missing")
        for entry in entries:
            if entry.status in FINISHED:
                outcomes[entry.id] = Outcome("done")
        todo = [e for e in entries if e.status not in FINISHED]
        routes = [e for e in todo if e.task == ROUTE_TASK]
        # Plain rows, locked on PostgreSQL (hub.core.message_rows): no ORM entity each.
        messages = load_messages(session, [e.message_id for e in routes])
        entry_of: dict[str, int] = {}
        for entry in routes:
            if entry.message_id not in messages:
                raise _EntryFailed(entry.id, RoutingError("message not found"))
            entry_of.setdefault(entry.message_id, entry.id)
        try:
            # Set-based: reads once for the batch, one flush at the end (hub.core.router).
            route_messages(session=session, ctx=ctx, now=now,
                           messages=[messages[e.message_id] for e in routes])
        except MessageFailed as failed:
            if is_infrastructure_error(failed.error):
                raise failed.error from None  # the database, not this message
            raise _EntryFailed(entry_of[failed.message_id], failed.error) from None
        done = [e.id for e in routes]
        # Other tasks (none on the embedded worker's batches) each in a savepoint, after
        # the routing: a routing failure re-runs the batch before any of them ran.
        for entry in todo:
            if entry.task == ROUTE_TASK:
                continue
            mark = pending_count(session)
            try:
                with session.begin_nested():
                    handler = HANDLERS.get(entry.task)
                    if handler is None:
                        raise LookupError(f"no handler for task {entry.task!r}")
                    handler(session=session, ctx=ctx, message_id=entry.message_id, now=now)
            except Exception as exc:
                if is_infrastructure_error(exc):
                    raise
                truncate_pending(session, mark)
                outcomes[entry.id] = Outcome("failed", exc)
                continue
            done.append(entry.id)
        if done:
            session.execute(_MARK_DONE[is_postgres(session)], {"ids": done, "now": now})
    for entry_id in done:
        outcomes[entry_id] = Outcome("done")
    return outcomes


@correlation.scoped
def run_tasks(ctx: HubContext, entry_ids: list[int], *,
              skip_locked: bool = False) -> dict[int, Outcome]:
    """Run a batch of outbox rows in one transaction; returns each row's :class:`Outcome`.

    The routing rows are routed set-based (:func:`hub.core.router.route_messages`):
    what they read is fetched once for the batch, the consent rows of their
    residents are locked in sorted order (two workers never wait on each other in
    opposite orders), every outcome is computed in Python and the writes are
    flushed once; the rows are marked done with one UPDATE, and the batch's audit
    events join the chain at its one commit (one head update, one signature). Rows
    run in id order, which is the order they were queued in, so decisions about one
    resident keep their order.

    A row whose handler raises is returned as ``failed`` (the caller records the
    failure as for :func:`run_task`) and the batch is rolled back and run again
    without it, so nothing of that row is stored and the others commit together.
    When the transaction itself fails (its flush or commit, say), the batch is split
    in halves and each run again, so one bad row never fails the others; when the
    database went away, every row is returned ``failed`` with that error and
    nothing of the batch is stored.
    """
    now = ctx.clock()
    ids = list(dict.fromkeys(entry_ids))
    failed: dict[int, Outcome] = {}
    while True:
        left = [entry_id for entry_id in ids if entry_id not in failed]
        try:
            return {**failed, **_run_batch(ctx, left, skip_locked, now)}
        except _EntryFailed as exc:
            # Rolled back whole; its metrics and audit events went with the transaction.
            failed[exc.entry_id] = Outcome("failed", exc.error)
        except Exception as exc:
            if len(left) > 1 and not is_infrastructure_error(exc):
                # Something no single row raised failed the batch (its flush or commit,
                # a deferred constraint): bisect, so only the row at fault fails.
                half = len(left) // 2
                return {**failed, **run_tasks(ctx, left[:half], skip_locked=skip_locked),
                        **run_tasks(ctx, left[half:], skip_locked=skip_locked)}
            return {**failed, **{entry_id: Outcome("failed", exc) for entry_id in left}}


def _on_dead(session: Session, entry: OutboxEntry, now: datetime) -> None:
    extra = ON_DEAD.get(entry.task)
    if extra is not None:
        extra(session=session, message_id=entry.message_id, now=now)


def retry_delay(ctx: HubContext, attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failure: exponential from the base."""
    return ctx.settings.retry_base_seconds * 2 ** (attempts - 1)


def record_failure(ctx: HubContext, entry_id: int, exc: BaseException, *,
                   source: str) -> Failure | None:
    """Count a failed attempt; after ``max_attempts`` the row is dead and in the store.

    Records only the exception's type, or its ``public_reason`` (an HTTP status):
    a plugin's error text may quote message data, which must never reach a log or
    a table in clear. An error marked ``permanent`` is dead at once. Returns None
    when the row is finished already (someone else did it).
    """
    error = getattr(exc, "public_reason", None) or type(exc).__name__
    now = ctx.clock()
    log.warning("outbox entry %s failed: %s", entry_id, error)
    with ctx.sessions() as session, session.begin():
        entry = session.get(OutboxEntry, entry_id, with_for_update=True)
        if entry is None or entry.status in FINISHED:
            return None
        entry.attempts += 1
        entry.last_error = error
        entry.updated_at = now
        ctx.metrics.task_failed(task=entry.task, error=error, session=session)
        if entry.attempts >= ctx.settings.max_attempts or getattr(exc, "permanent", False):
            entry.status = "dead"
            _on_dead(session, entry, now)
            deadletters.record(session=session, key=f"outbox:{entry.id}", source=source,
                               task=entry.task, outbox_id=entry.id,
                               message_id=entry.message_id, attempts=entry.attempts,
                               reason=f"failed {entry.attempts} times; last error: {error}",
                               now=now)
            log.error("outbox entry %s dead-lettered after %s attempts", entry_id,
                      entry.attempts)
            return Failure("dead", entry.attempts)
        delay = retry_delay(ctx, entry.attempts)
        entry.next_attempt_at = now + timedelta(seconds=delay)
        if source != "embedded":
            # The broker's retry queue brings it back; the relay must not publish it again.
            entry.status = "sent"
        return Failure("retry", entry.attempts, delay)


def mark_dead(*, session: Session, entry_id: int, source: str, reason: str,
              now: datetime) -> OutboxEntry | None:
    """Dead-letter an outbox row for ``reason`` in the caller's transaction (unless finished)."""
    entry = session.get(OutboxEntry, entry_id, with_for_update=True)
    if entry is None or entry.status in FINISHED:
        return None
    entry.status, entry.updated_at = "dead", now
    _on_dead(session, entry, now)
    deadletters.record(session=session, key=f"outbox:{entry.id}", source=source,
                       task=entry.task, outbox_id=entry.id, message_id=entry.message_id,
                       attempts=entry.attempts, reason=reason, now=now)
    return entry
