"""``hub serve``'s routing process: the embedded queue's worker as a child process.

In one Python process the API and the routing take turns on one core (the
interpreter lock), however many cores the machine has. So ``hub serve`` on the
embedded queue starts ``hub worker`` beside itself (``HUB_WORKER_PROCESS``,
on when the machine has two cores or more) and keeps it running (issue 14):

* The two are joined by a socket pair, nothing else: no port, no file. When
  ``hub serve`` ends, however it ends (SIGKILL too), the child reads the end of
  the socket, finishes the batch in hand and stops: no orphan routes on.
* A child that ends on its own is logged with its exit code and started again,
  after a pause that grows from one second to thirty while it keeps failing.
  Meanwhile ingest goes on (the outbox buffers) and ``/readyz`` says
  ``degraded`` with ``worker: restarting``.
* ``/metrics`` of ``hub serve`` stays the hub's whole view: over the same
  socket ``hub serve`` asks the child for its metric families and adds them to
  its own (:meth:`hub.core.metrics.HubMetrics.add_source`).

The child is a plain ``hub worker`` (:func:`serve_parent` is all it adds): it
reads the same settings from the same environment, wakes on the same
commits, and on SQLite runs the WAL checkpoints.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from hub.core.context import HubContext

log = logging.getLogger(__name__)

_ASK = b"m"  # "your metric families, please"
_LENGTH = struct.Struct(">I")
FIRST_PAUSE_SECONDS = 1.0
LONGEST_PAUSE_SECONDS = 30.0
STEADY_SECONDS = 60.0  # a child that ran this long had started fine: the pause starts over
STOP_SECONDS = 30.0  # how long a stopping child may take to finish its batch
ANSWER_SECONDS = 5.0  # how long a scrape waits for the child's metrics


def wanted(settings) -> bool:
    """Whether ``hub serve`` routes in a child process: ``HUB_WORKER_PROCESS``, or when
    unset, on a machine with two cores or more (on one, a second process only costs)."""
    if settings.worker_process is not None:
        return settings.worker_process
    return (os.cpu_count() or 1) >= 2


class WorkerProcess:
    """Starts ``hub worker`` as a child, keeps it running, stops it with ``hub serve``."""

    def __init__(self, ctx: HubContext, command: list[str] | None = None) -> None:
        self.ctx = ctx
        self.command = command or [sys.executable, "-m", "hub.cli", "worker"]
        self.starts = 0  # children started so far, for tests and operators
        self.last_exit: int | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()  # one metrics question on the socket at a time
        self._child: subprocess.Popen | None = None
        self._socket: socket.socket | None = None
        self._inbox = bytearray()  # bytes of the child's answers not yet taken
        self._owed = 0  # questions asked whose answers were not taken yet
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        """The running child's process id, or None while there is none."""
        child = self._child
        return child.pid if child is not None and child.poll() is None else None

    def start(self) -> None:
        """Start the child now and watch it from a daemon thread."""
        self._spawn()
        self._thread = threading.Thread(target=self._watch, name="worker-process", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the child to finish its batch and stop (SIGTERM); kill it after 30 s."""
        self._stop.set()
        child = self._child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                log.error("routing process did not stop in %.0f s; killed", STOP_SECONDS)
                child.kill()
                child.wait()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close_socket()

    def health(self) -> dict[str, str]:
        """``worker: ok`` while the child runs, else that it is being started again."""
        if self.pid is not None:
            return {"worker": "ok"}
        return {"worker": f"restarting (exit code {self.last_exit})"}

    def families(self) -> list:
        """The child's metric families now; none while it is away or does not answer.

        A child busy with a long batch may answer after the wait (5 s): its late
        answer is read and dropped at the next question, so answers never get out
        of step with questions.
        """
        with self._lock:
            sock = self._socket
            if sock is None or self.pid is None:
                return []
            try:
                sock.settimeout(ANSWER_SECONDS)
                sock.sendall(_ASK)
                self._owed += 1
                while True:
                    frame = self._next_frame(sock)
                    self._owed -= 1
                    if not self._owed:
                        # Our own child, over a socket pair only the two of us hold.
                        return pickle.loads(frame)  # noqa: S301
            except (OSError, EOFError, pickle.UnpicklingError, struct.error) as exc:
                log.warning("routing process gave no metrics (%s)", type(exc).__name__)
                return []

    def _next_frame(self, sock: socket.socket) -> bytes:
        # What arrived stays in the buffer when the wait runs out mid-answer.
        while True:
            if len(self._inbox) >= _LENGTH.size:
                (size,) = _LENGTH.unpack_from(self._inbox)
                end = _LENGTH.size + size
                if len(self._inbox) >= end:
                    frame = bytes(self._inbox[_LENGTH.size:end])
                    del self._inbox[:end]
                    return frame
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise EOFError("the routing process closed its end")
            self._inbox += chunk

    # --- the child's life ------------------------------------------------------------

    def _spawn(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            # This interpreter and the hub's own command; nothing from outside.
            child = subprocess.Popen(  # noqa: S603
                [*self.command, "--serve-fd", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), close_fds=True,
                # Its own session: a Ctrl-C at the terminal reaches hub serve only, which
                # then stops the child in order, instead of both racing to stop.
                start_new_session=True)
        finally:
            theirs.close()
        with self._lock:
            self._close_socket()
            self._socket, self._child = ours, child
        self.starts += 1
        log.info("routing process started (pid %s)", child.pid)

    def _watch(self) -> None:
        pause = FIRST_PAUSE_SECONDS
        while not self._stop.is_set():
            child = self._child
            started = time.monotonic()
            code = child.wait() if child is not None else None
            if self._stop.is_set():
                return
            self.last_exit = code
            if time.monotonic() - started >= STEADY_SECONDS:
                pause = FIRST_PAUSE_SECONDS
            log.error("routing process ended (exit code %s); starting it again in %.0f s; "
                      "messages wait in the queue meanwhile", code, pause)
            if self._stop.wait(pause):
                return
            pause = min(pause * 2, LONGEST_PAUSE_SECONDS)
            try:
                self._spawn()
            except OSError as exc:
                log.error("routing process could not start (%s)", type(exc).__name__)

    def _close_socket(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self._inbox.clear()
        self._owed = 0


def serve_parent(fd: int, families: Callable[[], list],
                 on_parent_gone: Callable[[], None]) -> threading.Thread:
    """In the child: answer ``hub serve``'s questions for metrics on socket ``fd`` with
    ``families()``, and call ``on_parent_gone`` when the socket closes (``hub serve``
    ended, however it ended)."""
    sock = socket.socket(fileno=fd)

    def run() -> None:
        try:
            while sock.recv(1) == _ASK:
                body = pickle.dumps(families())
                sock.sendall(_LENGTH.pack(len(body)) + body)
        except OSError as exc:
            log.warning("worker: lost hub serve's socket (%s)", type(exc).__name__)
        finally:
            sock.close()
        log.info("worker: hub serve has ended; stopping after the batch in hand")
        on_parent_gone()

    thread = threading.Thread(target=run, name="serve-socket", daemon=True)
    thread.start()
    return thread
