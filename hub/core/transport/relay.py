"""The transactional outbox relay: outbox rows → RabbitMQ, with asynchronous publisher confirms.

The API only writes to the database (message + outbox row, one transaction).
This relay, running in ``hub serve``, takes a batch of due rows, publishes
them as persistent messages, the rows of one task together up to
``HUB_ROUTE_BATCH`` a message (:func:`task_chunks`), and marks the batch
``sent`` only when the broker confirmed it. It never waits per message: confirms arrive
asynchronously on pika's ``SelectConnection`` and are counted per batch (a
broker ack may cover many messages). If the relay dies between publishing and
marking, the rows are published again; the consumers are idempotent by outbox
row, so the inbox sees each message once.

On PostgreSQL the batch's rows stay locked (``FOR UPDATE SKIP LOCKED``) until
they are marked, so several API processes' relays share the outbox without
publishing the same row twice in the normal case.

A published row is ``sent`` until a worker finishes it. One whose message the
broker lost (a purged queue, a node that lost its data, a worker too old to
read it) would wait for ever; so now and then the relay puts rows ``sent``
longer than ``HUB_RELAY_RESEND_SECONDS`` back to ``pending``, and publishes
them again with the next batch (:func:`resend_stale`).

The relay does not wait for a poll to see new rows (issue 14): every commit
that queued outbox rows wakes it (``ctx.work_available``, in this process; and
``NOTIFY wijkhub_outbox`` from any process, :mod:`hub.core.wakeup`). A wake-up
during a batch is remembered and runs the next batch at once. The timer
(``worker_poll_seconds``) is only the safety net, and there is only ever one.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import datetime, timedelta

import pika
from pika.spec import Basic
from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from hub.core.context import HubContext
from hub.core.models import OutboxEntry
from hub.core.store import in_list, is_postgres
from hub.core.transport import topology
from hub.core.transport.broker import Broker
from hub.core.transport.messages import (
    ConsentChanged,
    TaskRef,
    encode,
    task_body,
    task_properties,
)
from hub.core.transport.tasks import due_statement

log = logging.getLogger(__name__)


_OUTBOX = OutboxEntry.__table__
# Built once per dialect, not per batch: the relay shares the API's process, and building
# a statement and its cache key per batch is time the API loses. Only pending rows are
# marked sent: a consumer may have finished one already.
_MARK_SENT = {p: update(_OUTBOX).where(in_list(_OUTBOX.c.id, "ids", postgres=p),
                                       _OUTBOX.c.status == "pending")
              .values(status="sent", updated_at=bindparam("now", type_=_OUTBOX.c.updated_at.type))
              for p in (False, True)}


# Rows published long ago and never finished go back to the queue (resend_stale). A
# worker holding one (routing it now) keeps its lock until it commits ``done``, and
# PostgreSQL then re-checks the condition: a finished row is never put back.
_STAMP = _OUTBOX.c.updated_at.type
_RESEND = (update(_OUTBOX)
           .where(_OUTBOX.c.status == "sent",
                  _OUTBOX.c.updated_at < bindparam("cutoff", type_=_STAMP))
           .values(status="pending", updated_at=bindparam("now", type_=_STAMP)))


def resend_stale(session: Session, *, now: datetime, older_than: timedelta) -> int:
    """Put rows ``sent`` before ``now - older_than`` and not finished back to ``pending``,
    in the caller's transaction, so the relay publishes them again; how many.

    Safe to repeat: the consumers are idempotent by outbox row, so a message that
    was only slow, not lost, costs its worker one look-up the second time.
    """
    result = session.execute(_RESEND, {"cutoff": now - older_than, "now": now})
    return result.rowcount or 0


def task_chunks(rows: list[tuple[int, str, str]], size: int) -> list[list[TaskRef]]:
    """The due rows ``(id, message_id, task)`` as task messages: per task in queue
    order, at most ``size`` rows each.

    Rows committed together travel together: one worker routes them in one
    transaction, however many workers share the queue, and the broker handles one
    message for them (issue 14: with a message per row, four workers each got
    batches of one or two and spent most of their CPU on what every batch costs).
    """
    by_task: dict[str, list[TaskRef]] = {}
    for entry_id, message_id, task in rows:
        by_task.setdefault(task, []).append(
            TaskRef(outbox_id=entry_id, message_id=message_id, task=task))
    return [refs[start:start + size] for refs in by_task.values()
            for start in range(0, len(refs), size)]


class Relay:
    """Publishes the outbox until ``stop`` is set, reconnecting with backoff."""

    def __init__(self, ctx: HubContext, broker: Broker, stop: threading.Event) -> None:
        self.ctx = ctx
        self.broker = broker
        self.stop = stop
        self.connected = threading.Event()
        self.last_error: str | None = "not connected yet"
        self.events: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._conn: pika.SelectConnection | None = None
        self._channel = None
        self._session: Session | None = None
        self._inflight: dict[int, list[int]] = {}  # delivery tag -> its outbox rows
        self._confirmed: list[int] = []
        self._nacked = 0
        self._tag = 0
        self._batch_open = False
        self._again = False  # woken while a batch was open: run another one at once
        self._woken = False  # a wake-up is on its way to the relay's loop
        self._full = False  # the open batch read as many rows as it may: more may wait
        self._timer = None  # the one pending safety-net poll
        self._next_resend_check: datetime | None = None  # by the hub's clock
        self.published = 0  # for tests and operators: rows confirmed so far
        self.ticks = 0  # for tests: batches finished (committed or rolled back) so far

    # --- the outer loop -----------------------------------------------------

    def run(self) -> None:
        """Thread target: connect, publish, and on any broker failure try again later."""
        delay = 0.2
        log.info("outbox relay started for %s", self.broker.display)
        while not self.stop.is_set():
            try:
                self._declare()
                self._serve()
                delay = 0.2
            except Exception as exc:
                self.last_error = type(exc).__name__
                log.warning("outbox relay: broker unavailable (%s)", self.last_error)
            self.connected.clear()
            self.stop.wait(delay)
            delay = min(delay * 2, self.ctx.settings.broker_reconnect_max_seconds)
        log.info("outbox relay stopped")

    def wake(self) -> None:
        """Let the relay notice ``stop`` or new events now (from any thread).

        Wake-ups that come before the relay got to the first of them are one: a
        commit often sends two (its route's own, the session hook's), and each
        would otherwise start a read of the outbox.
        """
        conn = self._conn
        if conn is not None and not self._woken:
            self._woken = True
            try:
                conn.ioloop.add_callback_threadsafe(self._on_wake)
            except Exception:  # the loop is gone; run() notices stop by itself
                self._woken = False
                log.debug("relay wake-up after its loop ended")

    def _on_wake(self) -> None:
        # Cleared before the tick reads: a commit after this point wakes it again.
        self._woken = False
        self._tick()

    def _declare(self) -> None:
        conn = pika.BlockingConnection(self.broker.parameters)
        try:
            topology.declare(conn.channel(), self.broker, self.ctx.settings)
        finally:
            conn.close()

    def _serve(self) -> None:
        self._tag = 0
        self._conn = pika.SelectConnection(
            self.broker.parameters, on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error, on_close_callback=self._on_closed)
        try:
            self._conn.ioloop.start()
        finally:
            self._abort_batch()
            self._conn, self._timer, self._woken = None, None, False

    # --- connection callbacks (all on the relay's own thread) -----------------

    def _on_open(self, conn) -> None:
        conn.channel(on_open_callback=self._on_channel)

    def _on_open_error(self, conn, error) -> None:
        self.last_error = type(error).__name__
        conn.ioloop.stop()

    def _on_closed(self, conn, reason) -> None:
        self.connected.clear()
        if not self.stop.is_set():
            self.last_error = type(reason).__name__
            log.warning("outbox relay: connection closed (%s)", self.last_error)
        self._abort_batch()
        conn.ioloop.stop()

    def _on_channel(self, channel) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.confirm_delivery(ack_nack_callback=self._on_confirm,
                                 callback=self._on_confirm_mode)

    def _on_channel_closed(self, _channel, reason) -> None:
        self.last_error = type(reason).__name__
        if self._conn is not None and self._conn.is_open:
            self._conn.close()

    def _on_confirm_mode(self, _frame) -> None:
        self.connected.set()
        self.last_error = None
        log.info("outbox relay connected")
        self._tick()

    # --- publishing ------------------------------------------------------------

    def _later(self, seconds: float) -> None:
        if self._conn is None:
            return
        if self._timer is not None:
            # One timer at most: wake-ups would otherwise leave a trail of extra polls.
            self._conn.ioloop.remove_timeout(self._timer)
        self._timer = self._conn.ioloop.call_later(seconds, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._tick()

    def _tick(self) -> None:
        if self._batch_open:
            self._again = True
            return
        if self._conn is None or not self.connected.is_set():
            return
        if self.stop.is_set():
            self._conn.close()
            return
        self._batch_open, self._again = True, False
        self._confirmed, self._nacked = [], 0
        self._publish_events()
        try:
            rows = self._due_rows()
        except Exception as exc:
            # The database is away; ingest answers 503 meanwhile. Try again shortly.
            log.warning("outbox relay: database unavailable (%s)", type(exc).__name__)
            self._close_session(commit=False)
            rows = []
        self._full = len(rows) >= self.ctx.settings.relay_batch_size
        for refs in task_chunks(rows, self.ctx.settings.route_batch):
            first = refs[0]
            self._publish(self.broker.tasks_exchange, f"task.{first.task}", task_body(refs),
                          task_properties(first.outbox_id, first.task, len(refs)),
                          [ref.outbox_id for ref in refs])
        if not self._inflight:
            self._finish_batch()

    def _publish_events(self) -> None:
        while True:
            try:
                subject = self.events.get_nowait()
            except queue.Empty:
                return
            self._publish(self.broker.consent_exchange, "",
                          encode(ConsentChanged(subject=subject)),
                          pika.BasicProperties(content_type="application/json"), [])

    def _publish(self, exchange: str, key: str, body: bytes, props, entry_ids: list[int]) -> None:
        self._channel.basic_publish(exchange, key, body, props)
        self._tag += 1
        self._inflight[self._tag] = entry_ids

    def _due_rows(self) -> list[tuple[int, str, str]]:
        self._session = self.ctx.sessions()
        self._session.begin()
        self._resend_if_due()
        # On PostgreSQL the rows stay locked until marked: relays of other processes skip them.
        stmt = due_statement(self.ctx.settings.relay_batch_size,
                             locked=is_postgres(self._session))
        return [(row.id, row.message_id, row.task)
                for row in self._session.execute(stmt, {"now": self.ctx.clock()})]

    def _resend_if_due(self) -> None:
        # Checked at most every tenth of HUB_RELAY_RESEND_SECONDS (and each minute at most):
        # one small UPDATE, not one per batch.
        now = self.ctx.clock()
        if self._next_resend_check is not None and now < self._next_resend_check:
            return
        window = self.ctx.settings.relay_resend_seconds
        self._next_resend_check = now + timedelta(seconds=min(60.0, window / 10))
        resent = resend_stale(self._session, now=now, older_than=timedelta(seconds=window))
        if resent:
            log.warning("outbox relay: %s rows published over %.0f s ago were never routed "
                        "(their broker messages were lost); publishing them again",
                        resent, window)

    def _on_confirm(self, frame) -> None:
        method = frame.method
        tags = ([t for t in self._inflight if t <= method.delivery_tag] if method.multiple
                else [method.delivery_tag])
        for tag in tags:
            entry_ids = self._inflight.pop(tag, [])
            if isinstance(method, Basic.Ack):
                self._confirmed.extend(entry_ids)
            else:
                self._nacked += 1
        if not self._inflight and self._batch_open:
            self._finish_batch()

    def _finish_batch(self) -> None:
        confirmed = self._confirmed
        if confirmed and self._session is not None:
            try:
                # Only pending rows: a consumer may have finished one already.
                self._session.execute(_MARK_SENT[is_postgres(self._session)],
                                      {"ids": confirmed, "now": self.ctx.clock()})
                self._close_session(commit=True)
                self.published += len(confirmed)
            except Exception as exc:
                # Not marked: they are published again later, which consumers shrug off.
                log.warning("outbox relay: marking failed (%s)", type(exc).__name__)
                self._close_session(commit=False)
        else:
            self._close_session(commit=True)
        self._batch_open = False
        self.ticks += 1
        if self._nacked:
            log.warning("outbox relay: broker refused %s messages; retrying", self._nacked)
        # At once again only when rows may be waiting: the batch was full, or a commit
        # woke the relay meanwhile. Not after every batch: the next read would find
        # nothing, a transaction of the API's process per message on a calm hub.
        busy = (self._full or self._again) and not self._nacked
        self._later(0 if busy else self.ctx.settings.worker_poll_seconds)

    def _close_session(self, *, commit: bool) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        try:
            if commit:
                session.commit()
            else:
                session.rollback()
        except Exception as exc:
            log.warning("outbox relay: database unavailable (%s)", type(exc).__name__)
        finally:
            session.close()

    def _abort_batch(self) -> None:
        self._inflight.clear()
        self._close_session(commit=False)
        self._batch_open = False
