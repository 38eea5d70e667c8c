"""Engines and sessions for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points

from sqlalchemy import Engine, MetaData, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

import consent.tables
from hub.core.models import Base
from hub.core.plugins import ENTRY_POINT_GROUP
from hub.settings import Settings


def all_metadata() -> list[MetaData]:
    """Every table the hub owns: its own, the consent registry's and its plugins'.

    A plugin declares its tables on ``hub.core.models.Base``; importing the
    installed plugins (not loading them into a hub) puts them on the metadata, so
    migrations and their check see every table, whichever plugins are switched on.
    """
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        import_module(entry_point.module)
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
    # noticed and replaced at checkout instead of failing the request that gets it.
    pre_ping: bool = True
    connect_timeout_seconds: int = 10
    application_name: str = "wijkhub"

    @classmethod
    def from_settings(cls, settings: Settings) -> PoolOptions:
        """The pool the settings ask for."""
        return cls(size=settings.db_pool_size, max_overflow=settings.db_max_overflow,
                   timeout_seconds=settings.db_pool_timeout_seconds,
                   recycle_seconds=settings.db_pool_recycle_seconds,
                   pre_ping=settings.db_pool_pre_ping,
                   connect_timeout_seconds=settings.db_connect_timeout_seconds)


def make_engine(url: str, pool: PoolOptions | None = None) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and immediate transactions.

    PostgreSQL always goes through psycopg 3 (a bare ``postgresql://`` URL too), with
    a pooled, pre-pinged set of connections shaped by ``pool``.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
        return engine
    pool = pool or PoolOptions()
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return create_engine(
        parsed, pool_size=pool.size, max_overflow=pool.max_overflow,
        pool_timeout=pool.timeout_seconds, pool_recycle=pool.recycle_seconds,
        pool_pre_ping=pool.pre_ping,
        # application_name shows the hub's connections in pg_stat_activity.
        connect_args={"connect_timeout": pool.connect_timeout_seconds,
                      "application_name": pool.application_name})


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # IMMEDIATE takes the write lock up front: a transaction that reads the
        # consent state and then writes a delivery can never interleave with a
        # revocation (SQLite's stand-in for PostgreSQL's SELECT ... FOR UPDATE).
        # A unit marked read-only (the partner key lookup) begins DEFERRED instead: it only
        # reads, and must not queue for the write lock behind ingest's commits (issue 14).
        if conn.get_execution_options().get("wijkhub_read_only"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)
