"""Waking the outbox's readers the moment new work commits (issue 14).

Who reads the outbox (the embedded worker, the RabbitMQ relay) used to poll it
every ``worker_poll_seconds``; only the embedded worker heard of ingest, and
only when a route remembered to call ``ctx.work_available.set()``. Now:

* in this process, a session ``after_commit`` hook fires the engine's
  :class:`WorkSignal` whenever the transaction added outbox rows (or put one
  back to ``pending``, as a replay does), whichever code did it;
* across processes, PostgreSQL delivers ``NOTIFY wijkhub_outbox`` at the
  commit of every transaction that inserted outbox rows (a statement trigger,
  migration 0018, so it costs no round trip), and :class:`OutboxListener`
  ``LISTEN``\\s on a connection of its own and fires the same signal; on a
  SQLite file, :class:`WakeSockets` sends a byte to each ``hub worker`` process.

Polling stays as the safety net (a lost notification, a retry whose backoff
ran out): the signal is a hint, the outbox table is the truth.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import selectors
import socket
import threading
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from hub.core.db import own_backends
from hub.core.models import OutboxEntry

log = logging.getLogger(__name__)

CHANNEL = "wijkhub_outbox"
_ADDED = "wijkhub.outbox.added"  # session.info flag: this transaction queued work


class WorkSignal(threading.Event):
    """An event that also calls its subscribers when set: "work was committed".

    ``ctx.work_available`` is one: the embedded worker waits on it, the relay
    subscribes with its ``wake``. Subscribers run on the setting thread and must
    be quick and thread-safe.
    """

    def __init__(self) -> None:
        super().__init__()
        self._subscribers: list[Callable[[], None]] = []

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` at every ``set()`` from now on."""
        self._subscribers.append(callback)

    def unsubscribe(self, callback: Callable[[], None]) -> None:
        """Stop calling ``callback`` (no error when it was not subscribed)."""
        if callback in self._subscribers:
            self._subscribers.remove(callback)

    def set(self) -> None:
        """Wake whoever waits, then tell every subscriber; a failing one stops none else."""
        super().set()
        for callback in list(self._subscribers):
            try:
                callback()
            except Exception as exc:
                log.warning("work signal subscriber failed: %s", type(exc).__name__)


_signals: weakref.WeakKeyDictionary[Engine, WorkSignal] = weakref.WeakKeyDictionary()
_signals_lock = threading.Lock()


def signal_for(engine: Engine) -> WorkSignal:
    """The one signal of everything in this process that uses ``engine``."""
    with _signals_lock:
        signal = _signals.get(engine)
        if signal is None:
            signal = _signals[engine] = WorkSignal()
        return signal


def _queues_work(session: Session) -> bool:
    if any(isinstance(obj, OutboxEntry) for obj in session.new):
        return True
    return any(isinstance(obj, OutboxEntry) and obj.status == "pending"
               for obj in session.dirty)


@event.listens_for(Session, "after_flush")
def _note_outbox_rows(session: Session, _flush_context) -> None:
    # session.new and session.dirty still hold what this flush wrote.
    if _ADDED not in session.info and _queues_work(session):
        session.info[_ADDED] = True


@event.listens_for(Session, "after_commit")
def _signal_committed_work(session: Session) -> None:
    if session.info.pop(_ADDED, False):
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        signal_for(engine).set()


@event.listens_for(Session, "after_transaction_end")
def _forget_rolled_back(session: Session, transaction) -> None:
    # Runs after after_commit: what is left was rolled back. A savepoint's end is not
    # the transaction's (its outer transaction may still commit).
    if transaction.parent is None:
        session.info.pop(_ADDED, None)


class OutboxListener:
    """``LISTEN wijkhub_outbox`` on a psycopg connection of its own, in its own thread.

    Each notification from another process sets ``signal`` (one of this
    process's own commits set it already); so does every (re)connect, for what
    was committed while no one listened. A lost connection is retried with backoff.
    """

    # Between notifications the thread waits on its connection's socket and on
    # ``join``'s wake-up; this bound is only a safety net for a wake-up that was lost.
    idle_seconds = 5.0

    def __init__(self, engine: Engine, signal: WorkSignal, stop: threading.Event) -> None:
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        self._engine = engine
        self.signal = signal
        self.stop = stop
        self.listening = threading.Event()
        self.heard = 0  # notifications received (this process's own too), for tests
        self._thread: threading.Thread | None = None
        # join() writes a byte here so a stopping process does not wait out a timeout.
        self._waker, self._woken = socket.socketpair()
        self._waker.setblocking(False)
        self._woken.setblocking(False)

    def start(self) -> None:
        """Start listening in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="outbox-listen", daemon=True)
        self._thread.start()

    def join(self, timeout: float = 5.0) -> None:
        """Wake the thread after ``stop`` was set and wait for it to end (at once)."""
        with contextlib.suppress(OSError):  # closed by an earlier join
            self._waker.send(b"\0")
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        if self._thread is None or not self._thread.is_alive():
            self._waker.close()
            self._woken.close()

    def run(self) -> None:
        """Thread target: listen until ``stop`` is set."""
        delay = 0.2
        with selectors.DefaultSelector() as selector:
            selector.register(self._woken, selectors.EVENT_READ)
            while not self.stop.is_set():
                try:
                    self._listen(selector)
                    delay = 0.2
                except Exception as exc:
                    log.warning("outbox listener: database unavailable (%s)",
                                type(exc).__name__)
                self.listening.clear()
                self.stop.wait(delay)
                delay = min(delay * 2, 5.0)

    def _listen(self, selector: selectors.BaseSelector) -> None:
        import psycopg

        with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            # The wake-up for what was committed while no one listened, before
            # ``listening`` says so: whoever waits for it knows that wake-up is on its way.
            self.signal.set()
            self.listening.set()
            fd = conn.fileno()
            selector.register(fd, selectors.EVENT_READ)
            try:
                while not self.stop.is_set():
                    for key, _events in selector.select(self.idle_seconds):
                        if key.fileobj is self._woken:
                            # Taken out, so a join() before stop (a misuse) cannot
                            # make every later select return at once.
                            with contextlib.suppress(BlockingIOError):
                                self._woken.recv(64)
                    for note in conn.notifies(timeout=0):
                        # This process's own commit woke its readers already, at
                        # once; a second wake-up a moment later, while they work,
                        # would only send them to read again for nothing.
                        if note.pid not in own_backends(self._engine):
                            self.signal.set()
                        self.heard += 1  # after the wake-up: tests wait on it
            finally:
                selector.unregister(fd)


def listen_if_postgres(engine: Engine, signal: WorkSignal,
                       stop: threading.Event) -> OutboxListener | None:
    """Start an :class:`OutboxListener` when ``engine`` is PostgreSQL; None on SQLite."""
    if engine.dialect.name != "postgresql":
        return None
    listener = OutboxListener(engine, signal, stop)
    listener.start()
    return listener


class WakeSockets:
    """Waking worker processes on one SQLite file, which has no ``NOTIFY``.

    Each worker process (``hub worker`` beside ``hub serve`` on the embedded store)
    listens on a Unix datagram socket and leaves a marker file for it in
    ``<database file>.wake/`` (:meth:`listen`); each commit of ``hub serve`` that
    queued work sends one byte to every worker marked there (:meth:`notify`,
    subscribed to the engine's :class:`WorkSignal` by the embedded transport; other
    ``hub`` commands, ``hub batch import`` say, do not, and their rows are found
    by the worker's poll). The sockets are in Linux's abstract
    namespace, named after their marker: a path in a deep data directory would be
    longer than a socket address may be. A byte is a hint, not a message: a full
    buffer or a worker that is gone loses nothing (its marker is removed), and the
    worker's poll stays the safety net.
    """

    # How long the listening thread waits for a byte before it looks at ``stop`` again.
    idle_seconds = 0.5

    def __init__(self, database: str) -> None:
        self.directory = Path(f"{database}.wake")
        self._out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._out.setblocking(False)
        # The directory's mtime and the (marker, address) pairs found at that time.
        self._known: tuple[int, list[tuple[Path, str]]] = (-1, [])

    @staticmethod
    def address(marker: Path) -> str:
        """The abstract socket address of the worker that left ``marker``."""
        digest = hashlib.sha256(str(marker.resolve()).encode()).hexdigest()[:32]
        return f"\0wijkhub-wake-{digest}"

    def _targets(self) -> list[tuple[Path, str]]:
        try:
            changed = self.directory.stat().st_mtime_ns
        except FileNotFoundError:
            return []
        if changed != self._known[0]:  # one stat a commit; a listing only when it changed
            self._known = (changed, [(marker, self.address(marker))
                                     for marker in self.directory.iterdir()])
        return self._known[1]

    def notify(self) -> None:
        """Wake every listening worker process (quick, never raises for a lost hint)."""
        for marker, target in self._targets():
            try:
                self._out.sendto(b"!", target)
            except (BlockingIOError, InterruptedError):
                continue  # its buffer is full of hints already
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(OSError):
                    marker.unlink()  # a worker that died without cleaning up
                self._known = (-1, [])
            except OSError as exc:
                log.debug("wake-up hint not sent: %s", type(exc).__name__)

    def listen(self, signal: WorkSignal, stop: threading.Event) -> threading.Thread:
        """Bind this process's socket, mark it, and set ``signal`` at every hint until
        ``stop``; the returned thread removes the marker when it ends. Its ``join()``
        (after ``stop`` was set) sends this socket a byte, so it ends at once."""
        self.directory.mkdir(mode=0o700, exist_ok=True)
        marker = self.directory / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        inbox = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        inbox.bind(self.address(marker))
        inbox.settimeout(self.idle_seconds)  # a safety net: join() wakes it
        marker.touch(mode=0o600)

        def run() -> None:
            try:
                while not stop.is_set():
                    try:
                        inbox.recv(64)
                    except TimeoutError:
                        continue
                    signal.set()
            finally:
                with contextlib.suppress(OSError):
                    marker.unlink()
                inbox.close()

        thread = _WakeListener(run, self.address(marker))
        thread.start()
        return thread


class _WakeListener(threading.Thread):
    """The thread of :meth:`WakeSockets.listen`: joining it wakes it first."""

    def __init__(self, run: Callable[[], None], address: str) -> None:
        super().__init__(target=run, name="outbox-wake", daemon=True)
        self._address = address

    def join(self, timeout: float | None = None) -> None:
        """Send this thread's socket one byte (``stop`` is set by now), then wait for it."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as out, \
                contextlib.suppress(OSError):  # gone already: nothing to wake
            out.sendto(b"!", self._address)
        super().join(timeout)
