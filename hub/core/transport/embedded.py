"""The embedded transport: the outbox table is the queue, drained by a thread in-process."""

from __future__ import annotations

import threading

from hub.core.context import HubContext
from hub.core.transport import call_consent_listeners
from hub.core.worker import OutboxWorker


class EmbeddedTransport:
    """One process: the API and (unless told otherwise) the outbox worker thread."""

    name = "embedded"

    def __init__(self, ctx: HubContext, *, run_worker: bool) -> None:
        self.ctx = ctx
        self.run_worker = run_worker
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the worker thread when asked to."""
        if self.run_worker:
            self._thread = threading.Thread(target=OutboxWorker(self.ctx).run_forever,
                                            args=(self._stop,), name="outbox-worker",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the worker thread after the row it is on."""
        self._stop.set()
        self.ctx.work_available.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def health(self) -> dict[str, str]:
        """Nothing beyond the database: the queue is in it."""
        return {}

    def consent_changed(self, subject: str) -> None:
        """Every worker lives in this process: call the listeners directly."""
        call_consent_listeners(self.ctx, subject)
