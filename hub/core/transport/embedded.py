"""The embedded transport: the outbox table is the queue, drained by a thread in-process
or by ``hub serve``'s routing process (:mod:`hub.core.transport.worker_process`)."""

from __future__ import annotations

import threading

from hub.core.checkpoint import WalCheckpointer, checkpoint_in_background
from hub.core.context import HubContext
from hub.core.db import sqlite_file
from hub.core.transport import call_consent_listeners
from hub.core.transport.worker_process import WorkerProcess
from hub.core.wakeup import OutboxListener, WakeSockets, WorkSignal, listen_if_postgres
from hub.core.worker import OutboxWorker


class EmbeddedTransport:
    """The API and (unless told otherwise) the outbox worker: a thread, or a child process."""

    name = "embedded"

    def __init__(self, ctx: HubContext, *, run_worker: bool, worker_process: bool = False) -> None:
        self.ctx = ctx
        self.run_worker = run_worker
        self.worker_process = worker_process
        self.process: WorkerProcess | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listener: OutboxListener | None = None
        self.checkpointer: WalCheckpointer | None = None
        self.wake: WakeSockets | None = None

    def start(self) -> None:
        """Start the worker thread when asked to (and, on PostgreSQL, its listener; on a
        SQLite file, its checkpoints on a thread of their own: hub.core.checkpoint).

        Commits in this process wake the worker through ``ctx.work_available``; the
        listener wakes it for rows other ``hub serve`` processes committed (issue 14).
        On a SQLite file they also wake ``hub worker`` processes on the same file
        (:class:`~hub.core.wakeup.WakeSockets`), with or without a worker here.
        """
        database = sqlite_file(self.ctx.engine)
        if database is not None and isinstance(self.ctx.work_available, WorkSignal):
            self.wake = WakeSockets(database)
            self.ctx.work_available.subscribe(self.wake.notify)
        if self.run_worker and self.worker_process:
            # The child routes, listens and checkpoints; its counts join this /metrics.
            self.process = WorkerProcess(self.ctx)
            self.ctx.metrics.add_source(self.process.families)
            self.process.start()
        elif self.run_worker:
            self.checkpointer = checkpoint_in_background(self.ctx.engine)
            self._thread = threading.Thread(target=OutboxWorker(self.ctx).run_forever,
                                            args=(self._stop,), name="outbox-worker",
                                            daemon=True)
            self._thread.start()
            if isinstance(self.ctx.work_available, WorkSignal):
                self.listener = listen_if_postgres(self.ctx.engine, self.ctx.work_available,
                                                   self._stop)

    def stop(self) -> None:
        """Stop the worker (thread or child process) after the batch it is on."""
        self._stop.set()
        if self.process is not None:
            self.process.stop()
            self.ctx.metrics.remove_source(self.process.families)
        if self.wake is not None:
            self.ctx.work_available.unsubscribe(self.wake.notify)
        self.ctx.work_available.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.listener is not None:
            self.listener.join()
        if self.checkpointer is not None:
            self.checkpointer.stop()

    def health(self) -> dict[str, str]:
        """Nothing beyond the database (the queue is in it), but the routing process's state
        when there is one: while it is restarted, messages wait."""
        return self.process.health() if self.process is not None else {}

    def consent_changed(self, subject: str) -> None:
        """Call this process's listeners. A routing process's consent cache is not told:
        it checks each resident's version in the routing transaction anyway."""
        call_consent_listeners(self.ctx, subject)
