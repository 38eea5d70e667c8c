"""The embedded queue: a worker that drains the outbox table.

Each outbox row is handled in its own transaction together with its effect, so
the worker can be killed at any instant: uncommitted work is simply done again,
and the handlers are idempotent. Failures are retried with exponential backoff
up to ``max_attempts``; then the row is dead-lettered, never dropped.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from hub.core.context import HubContext
from hub.core.ingest import ROUTE_TASK
from hub.core.transport.tasks import (
    HANDLERS,
    due_statement,
    record_failure,
    run_task,
    run_tasks,
)

log = logging.getLogger(__name__)

__all__ = ["HANDLERS", "OutboxWorker"]


class OutboxWorker:
    """Claims due outbox rows and runs their handlers: routing in batches, the rest one by one."""

    def __init__(self, ctx: HubContext) -> None:
        self.ctx = ctx
        self._round_was_full = False  # the last round left due rows behind (its limit)

    def _due(self, limit: int, now: datetime) -> list[tuple[int, str]]:
        with self.ctx.sessions() as session:
            # A read: on SQLite it begins deferred, so it neither waits for an ingest
            # group holding the write lock nor holds up the next one (issue 14). The
            # rows' state is checked again when the routing transaction claims them.
            session.connection(execution_options={"read_only": True})
            return [(row.id, row.task)
                    for row in session.execute(due_statement(limit), {"now": now})]

    def _due_ids(self, limit: int, now: datetime) -> list[int]:
        return [entry_id for entry_id, _ in self._due(limit, now)]

    def process(self, entry_id: int) -> bool:
        """Handle one outbox row; True if it was done (now or by someone before)."""
        # SKIP LOCKED lets several pollers share one PostgreSQL outbox; SQLite ignores it
        # and serialises writers anyway.
        outcome = run_task(self.ctx, entry_id, skip_locked=True)
        if outcome.status == "failed":
            record_failure(self.ctx, entry_id, outcome.error, source="embedded")
            return False
        return True

    def process_batch(self, entry_ids: list[int]) -> int:
        """Route a batch of rows in one transaction; returns how many were done.

        A row that failed is counted towards retry or dead letter on its own,
        exactly as :meth:`process` does; the others are not held back by it.
        """
        done = 0
        for entry_id, outcome in run_tasks(self.ctx, entry_ids, skip_locked=True).items():
            if outcome.status == "failed":
                record_failure(self.ctx, entry_id, outcome.error, source="embedded")
            else:
                done += 1
        return done

    def run_once(self, limit: int | None = None) -> int:
        """Handle every row that is due now (up to ``limit``); returns how many succeeded.

        Routing rows go in batches of ``HUB_ROUTE_BATCH``; other tasks (a delivery
        to a partner waits on its HTTP answer) one per transaction.
        """
        size = self.ctx.settings.route_batch
        limit = limit or max(size, 100)
        due = self._due(limit, self.ctx.clock())
        self._round_was_full = len(due) >= limit
        done = 0
        routes = [entry_id for entry_id, task in due if task == ROUTE_TASK]
        for start in range(0, len(routes), size):
            done += self.process_batch(routes[start:start + size])
        for entry_id, task in due:
            if task != ROUTE_TASK:
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
        """Loop until ``stop`` is set, woken at once by every commit that queues work."""
        log.info("outbox worker started")
        while not stop.is_set():
            # Cleared before the round, not after the wait: a commit that lands while
            # the round runs is still seen by the wait below (issue 14).
            self.ctx.work_available.clear()
            try:
                handled = self.run_once()
            except Exception as exc:
                # A lost database connection must not end the worker; it tries again.
                # The type only: a traceback's messages may quote SQL parameters.
                log.error("outbox worker round failed: %s", type(exc).__name__)
                handled = 0
            if handled == 0 or not self._round_was_full:
                # Woken by the commit that queues work (at once when one came during
                # the round); the timeout is the safety net (a retry coming due). Not
                # another round to find nothing: on SQLite its read would take the
                # write lock that the next ingest group is waiting for.
                self.ctx.work_available.wait(self.ctx.settings.worker_poll_seconds)
        log.info("outbox worker stopped")
