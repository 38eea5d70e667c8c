"""SQLite's WAL checkpoints on a thread of their own, off the committing threads (issue 14).

In WAL mode a commit only appends to the write-ahead log; now and then the log
is copied back into the database file and synced (a checkpoint). By default
SQLite runs that checkpoint inside the commit that crosses 1,000 pages, so the
routing worker or the ingest group that happened to commit then waited for the
copy and its fsyncs: a fifth of the embedded worker's routing time at 100
messages a transaction, and a stall in the latency tail.

:class:`WalCheckpointer` takes that work over while ``hub serve`` runs the
embedded worker: a short while after commits it runs a ``PASSIVE`` checkpoint on
a pooled connection, which copies what no reader still needs without waiting for
(or blocking) readers or writers. The commits' own checkpoint is not switched
off, only moved far out (:data:`FALLBACK_PAGES`), so a log never grows without
bound if this thread falls behind. Other processes on the same file (a ``hub``
command) keep SQLite's default. Nothing about durability changes: a checkpoint
only moves committed pages from the log into the file.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine, event

from hub.core import db

log = logging.getLogger(__name__)

#: the commits' own checkpoint while this thread runs: about 80 MB of log (4 KiB pages)
FALLBACK_PAGES = 20_000


class WalCheckpointer:
    """Checkpoints ``engine``'s SQLite file shortly after commits, until stopped."""

    def __init__(self, engine: Engine, *, interval_seconds: float = 0.2) -> None:
        self.engine = engine
        self.interval = interval_seconds
        self.checkpoints = 0  # how many checkpoints this thread ran
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _on_commit(self, _conn) -> None:
        self._dirty.set()

    def start(self) -> None:
        """Move the commits' checkpoint far out and start checkpointing in the background."""
        db.set_autocheckpoint(self.engine, FALLBACK_PAGES)
        event.listen(self.engine, "commit", self._on_commit)
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (after a last checkpoint) and give the commits theirs back."""
        self._stop.set()
        self._dirty.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        event.remove(self.engine, "commit", self._on_commit)
        db.set_autocheckpoint(self.engine, None)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait()
            # Let a few commits gather: one checkpoint copies a page once, however
            # often it was written meanwhile.
            self._stop.wait(self.interval)
            self._dirty.clear()
            try:
                self.checkpoint()
            except Exception as exc:  # the next commit asks again; the fallback still holds
                log.warning("sqlite checkpoint failed: %s", type(exc).__name__)

    def checkpoint(self) -> tuple[int, int, int]:
        """One ``PASSIVE`` checkpoint; SQLite's (busy, log frames, frames checkpointed)."""
        raw = self.engine.raw_connection()
        try:
            # The driver's connection, outside SQLAlchemy's transaction events: a
            # checkpoint must not run inside BEGIN, nor queue at the write gate.
            row = raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            raw.close()
        self.checkpoints += 1
        return tuple(row)


def checkpoint_in_background(engine: Engine) -> WalCheckpointer | None:
    """A started :class:`WalCheckpointer` for a SQLite file store; None for any other."""
    if db.sqlite_file(engine) is None:
        return None
    checkpointer = WalCheckpointer(engine)
    checkpointer.start()
    return checkpointer
