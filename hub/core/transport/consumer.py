"""``hub worker``'s engine: competing consumers on the RabbitMQ topology.

One pika ``BlockingConnection`` on one thread (pika connections are not
thread-safe). A task delivery names one outbox row or, as the relay sends the
rows one commit queued, several (:mod:`hub.core.transport.messages`).
Deliveries are gathered into a batch (what arrived, until it names
``HUB_ROUTE_BATCH`` rows; the prefetch window keeps the next deliveries
arriving meanwhile) and the batch is handled in one database
transaction (:func:`hub.core.transport.tasks.run_tasks`, set-based), then
acked with one ``basic_ack(multiple=True)``, *after* the commit. A crash before
the ack makes the broker deliver the batch again, and the outbox rows, already
``done``, make the second time a no-op.

* a failed attempt goes to the retry queue for its delay (confirmed), then is
  acked; after ``HUB_MAX_ATTEMPTS`` it is dead-lettered into the store; a row of
  a message of several goes to the retry queue alone, its own message;
* a delivery redelivered ``HUB_BROKER_DELIVERY_LIMIT`` times (workers died on
  it) is dead-lettered without another try;
* a message that does not parse is dead-lettered with its reason, never dropped;
* what the broker dead-letters (``<prefix>.dead``) is moved into the store;
* a database outage is waited out in the callback (heartbeats keep flowing),
  without counting as an attempt;
* ``stop`` (SIGTERM) ends the loop after the window in hand is committed and acked;
  unacked prefetched deliveries return to the queue when the connection closes;
* a lost connection is re-opened with exponential backoff.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pika

from hub.core import deadletters
from hub.core.context import HubContext
from hub.core.models import OutboxEntry
from hub.core.transport import call_consent_listeners, topology
from hub.core.transport.broker import Broker
from hub.core.transport.messages import (
    TaskRef,
    Unparseable,
    decode_consent,
    decode_tasks,
    encode,
    task_properties,
)
from hub.core.transport.tasks import (
    HANDLERS,
    is_infrastructure_error,
    mark_dead,
    record_failure,
    run_tasks,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
SOURCE = "rabbitmq"


def _nothing() -> None:
    """The callback :meth:`BrokerWorker.wake` schedules: waking the loop is its only effect."""


class Stopping(Exception):
    """Stop was requested while waiting for the database; leave the delivery unacked."""


class BrokerWorker:
    """Consumes until ``stop`` is set; see the module docstring for what it promises."""

    # How long one wait for deliveries lasts when none come; :meth:`wake` ends it early.
    idle_seconds = 0.5

    def __init__(self, ctx: HubContext, broker: Broker, stop: threading.Event) -> None:
        self.ctx = ctx
        self.broker = broker
        self.stop = stop
        self.connected = threading.Event()
        self.handled = 0  # deliveries acked by this worker
        self._conn: pika.BlockingConnection | None = None
        # (method, props, the rows it names, body)
        self._window: list[tuple[Any, Any, list[TaskRef], bytes]] = []
        self._left_unacked = False  # a delivery was left for redelivery: no multiple acks

    def wake(self) -> None:
        """Return from the wait for deliveries now, so a ``stop`` just set is seen at once.

        Safe from another thread (pika's thread-safe callback writes a byte to the
        loop's socket, under a lock of pika's): a signal handler on the consuming
        thread must call it from a thread of its own. Without it, stopping waits out
        the current half-second wait.
        """
        conn = self._conn
        if conn is not None:
            try:
                conn.add_callback_threadsafe(_nothing)
            except Exception:  # closing or closed: its loop ends by itself
                log.debug("worker: wake-up on a closing connection ignored")

    def check_connection(self) -> None:
        """Open and close one connection: raises pika's error when the broker is unreachable."""
        pika.BlockingConnection(self.broker.parameters).close()

    def run(self) -> None:
        """Consume until stopped; reconnect with backoff whenever the broker goes away."""
        delay = 0.2
        while not self.stop.is_set():
            try:
                self._serve()
                delay = 0.2
            except Exception as exc:
                log.warning("worker: broker unavailable (%s); reconnecting in %.1fs",
                            type(exc).__name__, delay)
            self.connected.clear()
            self.stop.wait(delay)
            delay = min(delay * 2, self.ctx.settings.broker_reconnect_max_seconds)
        log.info("worker stopped after %s deliveries", self.handled)

    def _serve(self) -> None:
        conn = pika.BlockingConnection(self.broker.parameters)
        self._conn = conn
        try:
            channel = conn.channel()
            topology.declare(channel, self.broker, self.ctx.settings)
            channel.confirm_delivery()  # retry publishes are confirmed before the ack
            channel.basic_qos(prefetch_count=self.ctx.settings.broker_prefetch)
            tags = [channel.basic_consume(self.broker.task_queue(task), self._on_task)
                    for task in sorted(HANDLERS)]
            tags.append(channel.basic_consume(self.broker.dead_queue, self._on_dead))
            # One exclusive queue per worker on the fanout: every worker hears every change.
            mine = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
            channel.queue_bind(mine, self.broker.consent_exchange)
            tags.append(channel.basic_consume(mine, self._on_consent, auto_ack=True))
            self.connected.set()
            log.info("worker consuming from %s (prefix %s)", self.broker.display,
                     self.broker.prefix)
            batch = self.batch_size
            while not self.stop.is_set():
                # Deliveries left over from the last turn are routed without waiting.
                conn.process_data_events(time_limit=0 if self._window else self.idle_seconds)
                # Take what else is already here, up to one batch, then route the
                # batch in one transaction.
                while self._window and self._rows_in_window() < batch:
                    before = len(self._window)
                    conn.process_data_events(time_limit=0)
                    if len(self._window) == before:
                        break
                self._flush_window(channel, batch)
            for tag in tags:
                channel.basic_cancel(tag)
        finally:
            # Unacked deliveries go back to the queue when the connection closes.
            self._window, self._left_unacked = [], False
            self._conn = None
            if conn.is_open:
                conn.close()

    # --- deliveries ---------------------------------------------------------------

    def _on_task(self, channel, method, props, body: bytes) -> None:
        try:
            refs = decode_tasks(body)
        except Unparseable as exc:
            why = str(exc)
            self._settle(channel, method, lambda: self._store_unparseable(props, body, why))
            return
        count = int((props.headers or {}).get("x-delivery-count") or 0)
        if count >= self.ctx.settings.broker_delivery_limit:
            reason = f"delivered {count + 1} times without an ack (a worker stopped on it)"
            self._settle(channel, method, lambda: self._dead_all(refs, reason, props))
            return
        self._window.append((method, props, refs, body))

    @property
    def batch_size(self) -> int:
        """Rows routed in one transaction: ``HUB_ROUTE_BATCH``.

        The prefetch (deliveries, each of one row or several) keeps the next
        deliveries on their way while a batch is routed: the broker refills the
        window as each batch is acked, and the worker does not wait a round trip
        for it (issue 14).
        """
        return self.ctx.settings.route_batch

    def _rows_in_window(self) -> int:
        return sum(len(refs) for _, _, refs, _ in self._window)

    def _flush_window(self, channel, batch: int) -> None:
        """Handle the first deliveries, up to ``batch`` rows (at least one delivery),
        in one transaction, then ack them at once, after the commit; the rest wait
        for the next turn."""
        taken = rows = 0
        for _, _, refs, _ in self._window:
            if taken and rows + len(refs) > batch:
                break
            taken += 1
            rows += len(refs)
        window, self._window = self._window[:taken], self._window[taken:]
        if not window:
            return
        try:
            self._with_database(lambda: self._attempt(channel, window))
        except Stopping:
            return  # unacked: the broker gives the window to another worker
        if self._left_unacked:
            # A delivery this worker gave up on (stopping) must not be acked by a
            # multiple ack: ack the window's own deliveries one by one.
            for method, *_ in window:
                channel.basic_ack(method.delivery_tag)
        else:
            # Every delivery up to this tag on the channel is in the window or settled
            # (deliveries arrive in tag order; the ones held back come after it).
            channel.basic_ack(window[-1][0].delivery_tag, multiple=True)
        self.handled += len(window)

    def _attempt(self, channel, window: list[tuple[Any, Any, list[TaskRef], bytes]]) -> None:
        ids = [ref.outbox_id for _, _, refs, _ in window for ref in refs]
        outcomes = {}
        # A delivery may name more rows than this worker's batch (another process's
        # HUB_ROUTE_BATCH): one transaction per batch, all committed before the ack.
        for start in range(0, len(ids), self.batch_size):
            outcomes.update(run_tasks(self.ctx, ids[start:start + self.batch_size]))
        failed = [o.error for o in outcomes.values() if o.status == "failed"]
        infrastructure = next((e for e in failed if is_infrastructure_error(e)), None)
        if infrastructure is not None:
            raise infrastructure  # waited out and the whole window tried again
        seen: set[int] = set()
        for _, props, refs, _ in window:
            for ref in refs:
                if ref.outbox_id in seen:
                    continue  # the same row twice in one window (a redelivery): handled once
                seen.add(ref.outbox_id)
                outcome = outcomes[ref.outbox_id]
                if outcome.status == "missing":
                    self._store_unparseable(props, encode(ref),
                                            f"no outbox row {ref.outbox_id}")
                elif outcome.status == "failed":
                    self._retry_or_dead(channel, ref, outcome.error)

    def _retry_or_dead(self, channel, ref: TaskRef, error: Exception) -> None:
        failure = record_failure(self.ctx, ref.outbox_id, error, source=SOURCE)
        if failure is not None and failure.status == "retry":
            # The row alone, whatever message brought it: its delay and attempts are its own.
            delay = topology.delay_ms(self.ctx.settings, failure.attempts)
            channel.basic_publish(self.broker.retry_exchange, f"{ref.task}.{delay}",
                                  encode(ref), task_properties(ref.outbox_id, ref.task))

    def _dead_all(self, refs: list[TaskRef], reason: str, props) -> None:
        for ref in refs:
            self._dead(ref.outbox_id, reason, props, encode(ref))

    def _dead(self, outbox_id: int, reason: str, props, body: bytes) -> None:
        with self.ctx.sessions() as session, session.begin():
            known = session.get(OutboxEntry, outbox_id) is not None
            mark_dead(session=session, entry_id=outbox_id, source=SOURCE, reason=reason,
                      now=self.ctx.clock())
        if not known:  # kept all the same: nothing is dropped silently
            self._store_unparseable(props, body, f"{reason}; no outbox row {outbox_id}")

    def _store_unparseable(self, props, body: bytes, reason: str) -> None:
        # Keep the body (sealed: it came from outside and may hold anything) for inspection.
        digest = hashlib.sha256((props.message_id or "").encode() + b"\0" + body).hexdigest()
        key = f"broker:{digest[:40]}"
        sealed = self.ctx.cipher.seal({"body_b64": base64.b64encode(body).decode()},
                                      context=f"dead-letter:{key}")
        with self.ctx.sessions() as session, session.begin():
            deadletters.record(session=session, key=key, source=SOURCE, reason=reason,
                               body_sealed=sealed, now=self.ctx.clock())
        log.error("worker: dead-lettered a broker message: %s", reason)

    def _on_dead(self, channel, method, props, body: bytes) -> None:
        headers: dict[str, Any] = props.headers or {}
        why = headers.get("x-first-death-reason", "unknown")
        if isinstance(why, bytes):
            why = why.decode(errors="replace")
        reason = f"dead-lettered by the broker ({why})"
        try:
            refs = decode_tasks(body)
        except Unparseable as exc:
            why = f"{reason}; {exc}"
            self._settle(channel, method, lambda: self._store_unparseable(props, body, why))
            return
        self._settle(channel, method, lambda: self._dead_all(refs, reason, props))

    def _on_consent(self, _channel, _method, _props, body: bytes) -> None:
        try:
            event = decode_consent(body)
        except Unparseable as exc:
            log.warning("worker: ignored a consent event: %s", exc)
            return
        call_consent_listeners(self.ctx, event.subject)
        # No subject in the log: a pseudonym is still about one person.
        log.info("worker: consent change received; %s listeners told",
                 len(self.ctx.consent_listeners))

    # --- acking after the commit ------------------------------------------------------

    def _settle(self, channel, method, work: Callable[[], None]) -> None:
        try:
            self._with_database(work)
        except Stopping:
            self._left_unacked = True
            return  # unacked: the broker gives it to another worker
        channel.basic_ack(method.delivery_tag)
        self.handled += 1

    def _with_database(self, work: Callable[[], T]) -> T:
        delay = 0.2
        while True:
            try:
                return work()
            except Exception as exc:
                if not is_infrastructure_error(exc):
                    raise
                log.warning("worker: database unavailable (%s); waiting %.1fs",
                            type(exc).__name__, delay)
            if self.stop.is_set():
                raise Stopping
            self._conn.sleep(delay)  # keeps heartbeats going
            delay = min(delay * 2, 5.0)
