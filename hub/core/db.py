"""Engines and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import select
import threading
import time
import weakref
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path

from sqlalchemy import Engine, MetaData, create_engine, event, make_url
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

import consent.tables
from hub.core.files import create_private_file
from hub.core.models import Base
from hub.core.plugins import ENTRY_POINT_GROUP
from hub.settings import Settings

log = logging.getLogger(__name__)


def all_metadata() -> list[MetaData]:
    """Every table the hub owns: its own, the consent registry's and its plugins'.

    A plugin declares its tables on ``hub.core.models.Base``; importing the
    installed plugins (not loading them into a hub) puts them on the metadata, so
    migrations and their check see every table, whichever plugins are switched on.
    """
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        import_module(entry_point.module)
    import_module("hub.core.outreach_models")  # the core's own, kept in a module of its own
    return [Base.metadata, consent.tables.metadata]


@dataclass(frozen=True)
class PoolOptions:
    """How the PostgreSQL connection pool behaves (``HUB_DB_*``); SQLite ignores them."""

    size: int = 10
    max_overflow: int = 10
    timeout_seconds: float = 30.0
    # Below the idle timeouts of firewalls and PgBouncer, so a quiet pool is not cut off.
    recycle_seconds: int = 1800
    # A connection the server closed (restart, failover, pg_terminate_backend) is
    # noticed and replaced at checkout instead of failing the request that gets it:
    # by looking at its socket (no round trip), not by a ``SELECT 1`` pre-ping, which
    # cost one round trip per checkout (issue 14: 18 % of the API's time).
    check_closed: bool = True
    pre_ping: bool = False
    connect_timeout_seconds: int = 10
    application_name: str = "wijkhub"

    @classmethod
    def from_settings(cls, settings: Settings) -> PoolOptions:
        """The pool the settings ask for."""
        return cls(size=settings.db_pool_size, max_overflow=settings.db_max_overflow,
                   timeout_seconds=settings.db_pool_timeout_seconds,
                   recycle_seconds=settings.db_pool_recycle_seconds,
                   pre_ping=settings.db_pool_pre_ping,
                   check_closed=settings.db_pool_check_closed,
                   connect_timeout_seconds=settings.db_connect_timeout_seconds)


def make_engine(url: str, pool: PoolOptions | None = None) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and immediate transactions.

    PostgreSQL always goes through psycopg 3 (a bare ``postgresql://`` URL too), with
    a pooled set of connections shaped by ``pool``, each checked at checkout
    without a round trip (:func:`_replace_closed_connections`).
    """
    if url.startswith("sqlite"):
        database = make_url(url).database
        if _on_a_file(database):
            create_private_file(Path(database))
        engine = create_engine(url, connect_args={"check_same_thread": False,
                                                  "timeout": SQLITE_BUSY_SECONDS})
        _configure_sqlite(engine, gate=_write_gate(database))
        return engine
    pool = pool or PoolOptions()
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(
        parsed, pool_size=pool.size, max_overflow=pool.max_overflow,
        pool_timeout=pool.timeout_seconds, pool_recycle=pool.recycle_seconds,
        pool_pre_ping=pool.pre_ping,
        # application_name shows the hub's connections in pg_stat_activity.
        connect_args={"connect_timeout": pool.connect_timeout_seconds,
                      "application_name": pool.application_name})
    if pool.check_closed:
        _replace_closed_connections(engine)
    _track_backends(engine)
    return engine


# The server process ids of each PostgreSQL engine's open connections (see own_backends).
_backends: weakref.WeakKeyDictionary[Engine, set[int]] = weakref.WeakKeyDictionary()


def own_backends(engine: Engine) -> frozenset[int]:
    """The PostgreSQL server process ids of ``engine``'s open connections, now.

    A ``NOTIFY`` names the server process of the session that sent it: one of
    these is this process's own commit, which woke its readers in-process
    already (:mod:`hub.core.wakeup`). Empty for an engine not made by
    :func:`make_engine`, or on SQLite.
    """
    return frozenset(_backends.get(engine, ()))


def _track_backends(engine: Engine) -> None:
    # The id comes with the connection (libpq's PQbackendPID): no round trip. It leaves
    # the set when the connection closes, before another client could be given it.
    pids = _backends[engine] = set()

    @event.listens_for(engine, "connect")
    def _opened(dbapi_conn, record) -> None:
        record.info["backend_pid"] = pid = dbapi_conn.info.backend_pid
        pids.add(pid)

    @event.listens_for(engine, "close")
    def _closed(_dbapi_conn, record) -> None:
        pids.discard(record.info.pop("backend_pid", None))

    @event.listens_for(engine, "close_detached")
    def _closed_detached(dbapi_conn) -> None:
        with contextlib.suppress(Exception):
            pids.discard(dbapi_conn.info.backend_pid)


def _replace_closed_connections(engine: Engine) -> None:
    """At checkout, replace a pooled connection whose server end has gone, for free.

    An idle connection has nothing to read. When the server ends it (restart,
    failover, ``pg_terminate_backend``) its socket turns readable (the FATAL
    message, then end of file), which ``select`` with a zero timeout sees without
    a round trip. Raising ``DisconnectionError`` makes the pool discard it and
    try another (SQLAlchemy's documented pessimistic-checkout hook). A silently
    dropped network path is not seen this way: ``pool_recycle`` and the error
    handling (a disconnect invalidates the whole pool) cover that, at the cost
    of one failed request.
    """

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn, _record, _proxy) -> None:
        try:
            readable, _, _ = select.select([dbapi_conn.fileno()], [], [], 0)
        except Exception as exc:  # OSError, or psycopg's error for fileno() once closed
            raise sa_exc.DisconnectionError(type(exc).__name__) from None
        if readable or dbapi_conn.closed:
            raise sa_exc.DisconnectionError("the server closed the connection")


SQLITE_BUSY_SECONDS = 30  # how long a writer waits for SQLite's write lock, then fails
SQLITE_AUTOCHECKPOINT_PAGES = 1000  # SQLite's own default: a commit checkpoints past this

# Engines whose commits checkpoint at another size (hub.core.checkpoint), and the size.
_autocheckpoint: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()
_AUTOCHECKPOINT = "wijkhub.wal_autocheckpoint"  # connection-record info: the size it has


def set_autocheckpoint(engine: Engine, pages: int | None) -> None:
    """From the next checkout on, ``engine``'s commits checkpoint past ``pages`` pages of
    log (None: SQLite's default again). For :mod:`hub.core.checkpoint`."""
    if pages is None:
        _autocheckpoint.pop(engine, None)
    else:
        _autocheckpoint[engine] = pages


def sqlite_file(engine: Engine) -> str | None:
    """The database file of a SQLite engine on a file; None for memory or another store."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    return database if _on_a_file(database) else None


def _on_a_file(database: str | None) -> bool:
    return bool(database) and database != ":memory:" and not database.startswith("file:")


class WriteGate:
    """Where the writers of one SQLite file queue: the threads of this process at a lock,
    the processes at an ``flock`` on a file beside the database (``<file>.gate``).

    SQLite's own busy handler sleeps 1, 2, 5, 10 ms ... between tries; the kernel's
    lock is free the moment its holder lets go (or dies: the kernel releases a dead
    process's lock). Between processes the wait polls without blocking, in steps
    of at most :data:`GATE_POLL_MAX_SECONDS`, so that ``timeout`` still holds.
    """

    def __init__(self, database: str) -> None:
        self._threads = threading.Lock()
        self._fd = os.open(f"{database}.gate", os.O_RDWR | os.O_CREAT, 0o600)

    def __del__(self) -> None:
        # The last engine on the file is gone (the gates are held weakly): its descriptor
        # goes too, so a process that opens many databases (the tests) keeps few open.
        fd, self._fd = getattr(self, "_fd", None), None
        if fd is not None:
            os.close(fd)

    def acquire(self, timeout: float = -1) -> bool:
        """Take the gate for this thread; False when ``timeout`` seconds passed first."""
        deadline = time.monotonic() + timeout if timeout >= 0 else None
        if not self._threads.acquire(timeout=timeout):
            return False
        pause = GATE_POLL_MIN_SECONDS
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    self._threads.release()
                    return False
            time.sleep(pause)
            pause = min(pause * 2, GATE_POLL_MAX_SECONDS)

    def release(self) -> None:
        """Let the next writer in, of this process or another."""
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def locked(self) -> bool:
        """Whether a thread of this process holds (or is taking) the gate."""
        return self._threads.locked()


GATE_POLL_MIN_SECONDS = 0.00005
GATE_POLL_MAX_SECONDS = 0.001

# One gate per database file, shared by every engine of this process on that file (held
# by the engines' event handlers; weakly here).
_gates: weakref.WeakValueDictionary[str, WriteGate] = weakref.WeakValueDictionary()
_gates_lock = threading.Lock()
_HOLDS_GATE = "wijkhub.holds_write_gate"  # connection-record info: this one holds it


def _write_gate(database: str | None) -> WriteGate | None:
    """The process's write gate for a database file (none for an in-memory database)."""
    if not _on_a_file(database):
        return None
    key = str(Path(database).resolve())
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = WriteGate(key)
        return gate


def _configure_sqlite(engine: Engine, gate: WriteGate | None) -> None:
    """WAL, foreign keys and immediate write transactions; writers queue at ``gate``.

    SQLite lets one writer in at a time. A writer that finds the lock taken is
    left to SQLite's busy handler, which sleeps 1, 2, 5, 10, 15 ms ... between
    tries: two threads of one process taking turns (the API's group commit and
    the worker's routing, issue 14) lost several milliseconds at every hand-over,
    most of a message's latency on the embedded store. So a writer first waits
    at ``gate`` (:class:`WriteGate`: the threads of this process at a lock, other
    processes, such as ``hub worker`` beside ``hub serve`` or a ``hub`` command,
    at an ``flock``), released the moment the other's COMMIT or ROLLBACK
    returns, and only then asks SQLite, whose own lock and busy timeout stay as
    the last guard.
    """
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: every COMMIT syncs the WAL before it returns. NORMAL (the usual WAL
        # recipe) survives a crash of the hub but not of the machine: a power cut
        # could take back messages already answered 202, or a revocation already
        # shown to the resident as done. One fsync a commit (~0.2 ms here) is what
        # the group commit is there to share (issue 14).
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cur.close()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn, record, _proxy) -> None:
        # One dictionary look-up a checkout; the PRAGMA only when the size changed.
        pages = _autocheckpoint.get(engine, SQLITE_AUTOCHECKPOINT_PAGES)
        if record.info.get(_AUTOCHECKPOINT, SQLITE_AUTOCHECKPOINT_PAGES) != pages:
            dbapi_conn.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")
            record.info[_AUTOCHECKPOINT] = pages

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # IMMEDIATE takes the write lock up front: a transaction that reads the
        # consent state and then writes a delivery can never interleave with a
        # revocation (SQLite's stand-in for PostgreSQL's SELECT ... FOR UPDATE).
        # A transaction that only reads asks for it (execution option ``read_only``)
        # and begins deferred: it never waits for, nor blocks, a writer.
        if conn.get_execution_options().get("read_only"):
            conn.exec_driver_sql("BEGIN")
            return
        if gate is None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        if not gate.acquire(timeout=SQLITE_BUSY_SECONDS):
            # What SQLite itself says when its busy timeout runs out.
            raise sa_exc.OperationalError("BEGIN IMMEDIATE", None,
                                          Exception("database is locked"))
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            gate.release()
            raise
        conn.connection.info[_HOLDS_GATE] = True

    if gate is None:
        return
    dialect = engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    def _open_gate(dbapi_conn) -> None:
        try:
            info = dbapi_conn.info  # the pool's proxy: its record's info
        except (AttributeError, NotImplementedError):  # a bare or first-connect connection
            return
        if info.pop(_HOLDS_GATE, False):
            gate.release()

    def _open_gate_of(_dbapi_conn, record, *_args) -> None:
        # The safety net: a connection that leaves the pool's hands (returned,
        # invalidated, closed) while its transaction held the gate lets it go.
        if record is not None and record.info.pop(_HOLDS_GATE, False):
            gate.release()

    for name in ("checkin", "invalidate", "soft_invalidate", "close", "detach"):
        event.listen(engine.pool, name, _open_gate_of)

    # After the driver's COMMIT or ROLLBACK returns, not before (the engine's own
    # "commit" event fires before it): the next writer must find SQLite's lock free.
    # The pool's reset of a returned connection comes through do_rollback as well.
    def _commit_then_open(dbapi_conn) -> None:
        try:
            do_commit(dbapi_conn)
        finally:
            _open_gate(dbapi_conn)

    def _rollback_then_open(dbapi_conn) -> None:
        try:
            do_rollback(dbapi_conn)
        finally:
            _open_gate(dbapi_conn)

    dialect.do_commit = _commit_then_open
    dialect.do_rollback = _rollback_then_open


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


AUTOVACUUM_OFF_WARNING = (
    "PostgreSQL runs with autovacuum off: no table of the hub is ever analyzed, so its "
    "queries keep plans made while the tables were small and slow down as they grow (a "
    "hub delivered half as many messages a second after 30,000); turn autovacuum on, or "
    "run ANALYZE at least hourly")


def autovacuum_off(engine: Engine) -> bool:
    """Whether ``engine`` is PostgreSQL running without autovacuum (never for SQLite)."""
    if engine.dialect.name != "postgresql":
        return False
    from sqlalchemy import text

    with engine.connect() as conn:
        return conn.execute(text("SHOW autovacuum")).scalar_one() != "on"


def warn_if_autovacuum_off(engine: Engine) -> bool:
    """Log :data:`AUTOVACUUM_OFF_WARNING` when ``engine`` is PostgreSQL without autovacuum;
    whether it did. For the long-running commands, once at start."""
    if not autovacuum_off(engine):
        return False
    log.warning(AUTOVACUUM_OFF_WARNING)
    return True
