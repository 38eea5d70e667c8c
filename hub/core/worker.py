"""The embedded queue: a worker that drains the outbox table.

Each outbox row is handled in its own transaction together with its effect, so
the worker can be killed at any instant: uncommitted work is simply done again,
and the handlers are idempotent. Failures are retried with exponential backoff
up to ``max_attempts``; then the row is dead-lettered, never dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.context import HubContext
from hub.core.ingest import ROUTE_TASK
from hub.core.models import OutboxEntry
from hub.core.router import route_message

log = logging.getLogger(__name__)

Handler = Callable[..., object]
HANDLERS: dict[str, Handler] = {ROUTE_TASK: route_message}


class OutboxWorker:
    """Claims due outbox rows and runs their handlers, one transaction each."""

    def __init__(self, ctx: HubContext) -> None:
        self.ctx = ctx

    def _due_ids(self, limit: int, now: datetime) -> list[int]:
        with self.ctx.sessions() as session:
            return list(session.scalars(
                select(OutboxEntry.id)
                .where(OutboxEntry.status == "pending", OutboxEntry.next_attempt_at <= now)
                .order_by(OutboxEntry.id).limit(limit)))

    def _claim(self, session: Session, entry_id: int) -> OutboxEntry | None:
        # SKIP LOCKED lets several workers share one PostgreSQL outbox; SQLite ignores it
        # and serialises writers anyway.
        stmt = select(OutboxEntry).where(OutboxEntry.id == entry_id,
                                         OutboxEntry.status == "pending")
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return session.scalar(stmt)

    def process(self, entry_id: int) -> bool:
        """Handle one outbox row; True if it was done (now or by someone before)."""
        now = self.ctx.clock()
        try:
            with self.ctx.sessions() as session, session.begin():
                entry = self._claim(session, entry_id)
                if entry is None:
                    return True
                handler = HANDLERS.get(entry.task)
                if handler is None:
                    raise LookupError(f"no handler for task {entry.task!r}")
                handler(session=session, ctx=self.ctx, message_id=entry.message_id, now=now)
                entry.status, entry.updated_at = "done", now
                entry.attempts += 1
            return True
        except Exception as exc:
            self._record_failure(entry_id, exc, now)
            return False

    def _record_failure(self, entry_id: int, exc: Exception, now: datetime) -> None:
        # Only the exception's type and our own message: a plugin's error text may
        # quote the message data, which must never reach a log or a table in clear.
        error = type(exc).__name__
        log.warning("outbox entry %s failed: %s", entry_id, error)
        with self.ctx.sessions() as session, session.begin():
            entry = session.get(OutboxEntry, entry_id)
            if entry is None or entry.status != "pending":
                return
            entry.attempts += 1
            entry.last_error = error
            entry.updated_at = now
            if entry.attempts >= self.ctx.settings.max_attempts:
                entry.status = "dead"
                log.error("outbox entry %s dead-lettered after %s attempts", entry_id,
                          entry.attempts)
            else:
                delay = self.ctx.settings.retry_base_seconds * 2 ** (entry.attempts - 1)
                entry.next_attempt_at = now + timedelta(seconds=delay)

    def run_once(self, limit: int = 100) -> int:
        """Handle every row that is due now (up to ``limit``); returns how many succeeded."""
        done = 0
        for entry_id in self._due_ids(limit, self.ctx.clock()):
            done += self.process(entry_id)
        return done

    def drain(self, max_rounds: int = 1000) -> int:
        """Run until nothing is due (tests, CLI); returns how many rows succeeded."""
        total = 0
        for _ in range(max_rounds):
            handled = self.run_once()
            total += handled
            if not self._due_ids(1, self.ctx.clock()):
                break
        return total

    def run_forever(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set, waking early when ingest signals new work."""
        log.info("outbox worker started")
        while not stop.is_set():
            try:
                handled = self.run_once()
            except Exception:
                # A lost database connection must not end the worker; it tries again.
                log.exception("outbox worker round failed")
                handled = 0
            if handled == 0:
                self.ctx.work_available.wait(self.ctx.settings.worker_poll_seconds)
                self.ctx.work_available.clear()
        log.info("outbox worker stopped")
