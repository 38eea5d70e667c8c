"""The RabbitMQ transport as ``hub serve`` runs it: the API plus the outbox relay, no consumers."""

from __future__ import annotations

import threading

from hub.core.context import HubContext
from hub.core.transport import call_consent_listeners
from hub.core.transport.broker import parse_broker
from hub.core.transport.relay import Relay
from hub.core.wakeup import OutboxListener, WorkSignal, listen_if_postgres


class RabbitTransport:
    """Publishes the outbox (and consent events) to RabbitMQ from a thread of its own."""

    name = "rabbitmq"

    def __init__(self, ctx: HubContext) -> None:
        self.ctx = ctx
        self.broker = parse_broker(ctx.settings)
        self._stop = threading.Event()
        self.relay = Relay(ctx, self.broker, self._stop)
        self._thread: threading.Thread | None = None
        self.listener: OutboxListener | None = None

    def start(self) -> None:
        """Start the relay; a broker that is down now is retried, ingest goes on meanwhile.

        Commits in this process wake it directly; on PostgreSQL a listener thread
        wakes it for commits in every other process too (issue 14).
        """
        self._thread = threading.Thread(target=self.relay.run, name="outbox-relay",
                                        daemon=True)
        self._thread.start()
        signal = self.ctx.work_available
        if isinstance(signal, WorkSignal):
            signal.subscribe(self.relay.wake)
            self.listener = listen_if_postgres(self.ctx.engine, signal, self._stop)

    def stop(self) -> None:
        """Let the relay finish the batch it is publishing, then close its connection."""
        self._stop.set()
        if isinstance(self.ctx.work_available, WorkSignal):
            self.ctx.work_available.unsubscribe(self.relay.wake)
        self.relay.wake()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.listener is not None:
            self.listener.join()

    def health(self) -> dict[str, str]:
        """``broker: ok`` while the relay holds a confirmed channel, else why not."""
        if self.relay.connected.is_set():
            return {"broker": "ok"}
        return {"broker": f"unavailable ({self.relay.last_error or 'connecting'})"}

    def consent_changed(self, subject: str) -> None:
        """Fan the change out to every worker (via the relay's thread) and to this process."""
        self.relay.events.put(subject)
        self.relay.wake()
        call_consent_listeners(self.ctx, subject)
