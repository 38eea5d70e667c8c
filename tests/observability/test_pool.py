"""The PostgreSQL pool: psycopg 3, sized by the settings, and a killed connection is replaced."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, event, exc, text

from hub.core.context import HubContext, build_context
from hub.core.db import PoolOptions, make_engine
from hub.core.plugins import load_plugins
from hub.settings import Settings

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_ctx(tmp_path, postgres_url: str) -> Iterator[HubContext]:
    """A hub on PostgreSQL whose pool has one connection: the one the test kills."""
    settings = Settings(env="test", data_dir=tmp_path / "data", database_url=postgres_url,
                        worker_enabled=False, db_pool_size=1, db_max_overflow=0,
                        db_pool_timeout_seconds=0.5, db_pool_recycle_seconds=600)
    context = build_context(settings, plugins=load_plugins())
    try:
        yield context
    finally:
        context.dispose()


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(postgres_server: str, pid: int) -> None:
    # Only the backend of this test's own pooled connection; the server stays up.
    admin = create_engine(postgres_server)
    try:
        with admin.begin() as conn:
            # wait for up to 60 s until it is gone (pg_terminate_backend's timeout).
            assert conn.execute(text("SELECT pg_terminate_backend(:pid, 60000)"),
                                {"pid": pid}).scalar_one()
    finally:
        admin.dispose()


def test_the_settings_reach_the_engine(pg_ctx):
    engine = pg_ctx.engine
    assert engine.dialect.driver == "psycopg"
    assert engine.pool.size() == 1
    assert engine.pool.timeout() == 0.5
    assert engine.pool._recycle == 600  # no public getter in SQLAlchemy's QueuePool
    with engine.connect() as conn:
        assert conn.execute(text("SELECT current_setting('application_name')")
                            ).scalar_one() == "wijkhub"
        # max_overflow=0: a second connection is refused once the pool timeout passes.
        with pytest.raises(exc.TimeoutError):
            engine.connect()


def test_a_connection_killed_by_the_server_is_replaced(pg_ctx, postgres_server):
    before = _backend_pid(pg_ctx.engine)  # now idle in the pool
    _terminate(postgres_server, before)
    with pg_ctx.sessions() as session:  # the checkout sees the closed socket, reconnects
        after = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    assert after != before
    assert pg_ctx.engine.pool.checkedin() == 1  # still one connection: the new one


def test_a_checkout_costs_no_round_trip(pg_ctx, monkeypatch):
    """No pre-ping: the liveness check looks at the socket, it sends nothing (issue 14)."""
    pings: list[object] = []
    real = pg_ctx.engine.dialect.do_ping
    monkeypatch.setattr(pg_ctx.engine.dialect, "do_ping",
                        lambda dbapi_conn: pings.append(dbapi_conn) or real(dbapi_conn))
    sent: list[str] = []
    event.listen(pg_ctx.engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_rest: sent.append(statement))
    for _ in range(3):
        with pg_ctx.sessions() as session:
            session.execute(text("SELECT 2"))
    assert pings == []
    assert sent == ["SELECT 2"] * 3


def test_without_the_check_the_killed_connection_fails_its_user(postgres_url, postgres_server):
    # What the check saves us from: the first request after a restart would fail.
    engine = make_engine(postgres_url, PoolOptions(size=1, max_overflow=0, pre_ping=False,
                                                   check_closed=False))
    try:
        _terminate(postgres_server, _backend_pid(engine))
        with pytest.raises(exc.OperationalError), engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def test_a_bare_postgresql_url_uses_psycopg_3(postgres_url):
    engine = make_engine(postgres_url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        assert engine.dialect.driver == "psycopg"
        assert _backend_pid(engine) > 0
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_keeps_its_own_settings(database_url):
    engine = make_engine(database_url, PoolOptions(size=1, max_overflow=0))
    try:
        assert engine.pool.size() != 1  # the PostgreSQL pool options do not apply
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 30000
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_sqlite_connection_syncs_its_commits_to_disk(database_url):
    # synchronous=FULL (2): a COMMIT returns after the WAL is on disk, so a 202 or a
    # revocation the hub has answered survives a power cut, not only a crash of the hub
    # (NORMAL, 1, may roll the last commits back). Every pooled connection, whichever
    # thread opened it: the group commit's, the worker's, a page's.
    import threading

    engine = make_engine(database_url)
    seen: list[int] = []

    def read() -> None:
        with engine.connect() as conn:
            seen.append(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())

    try:
        with engine.connect():  # held, so the threads' checkouts open connections of their own
            threads = [threading.Thread(target=read) for _ in range(3)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        read()
        assert seen == [2, 2, 2, 2]
    finally:
        engine.dispose()
