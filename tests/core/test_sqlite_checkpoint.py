"""SQLite's checkpoints run beside the embedded worker, not inside its commits (issue 14)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from hub.core import checkpoint
from hub.core.checkpoint import FALLBACK_PAGES, WalCheckpointer, checkpoint_in_background
from hub.core.db import SQLITE_AUTOCHECKPOINT_PAGES, make_engine
from hub.core.transport.embedded import EmbeddedTransport
from tests.utils.waiting import wait_until


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER, pad TEXT)"))
    yield engine
    engine.dispose()


def _autocheckpoint(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()


def _write(engine: Engine, rows: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (:n, :pad)"),
                     [{"n": n, "pad": "x" * 500} for n in range(rows)])


def test_while_it_runs_the_commits_leave_the_checkpoint_to_it(engine):
    assert _autocheckpoint(engine) == SQLITE_AUTOCHECKPOINT_PAGES
    checkpointer = checkpoint_in_background(engine)
    assert checkpointer is not None
    try:
        # Pooled connections too, from their next checkout.
        assert _autocheckpoint(engine) == FALLBACK_PAGES
        _write(engine, 200)
        wait_until(lambda: checkpointer.checkpoints >= 1, "no checkpoint after the commit")
    finally:
        checkpointer.stop()
    assert _autocheckpoint(engine) == SQLITE_AUTOCHECKPOINT_PAGES
    assert not checkpointer._thread.is_alive()


def test_a_checkpoint_moves_every_committed_page_into_the_file(engine, tmp_path):
    checkpointer = WalCheckpointer(engine)
    _write(engine, 500)
    busy, frames, done = checkpointer.checkpoint()
    assert (busy, frames) == (0, done) and frames > 0
    # The file alone now holds the rows: a copy without the log reads them all.
    copy = tmp_path / "copy.sqlite3"
    copy.write_bytes((tmp_path / "wal.sqlite3").read_bytes())
    other = create_engine(f"sqlite:///{copy}")
    try:
        with other.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 500
    finally:
        other.dispose()


def test_a_failed_checkpoint_is_logged_by_type_and_the_thread_goes_on(engine, monkeypatch,
                                                                      caplog):
    calls = []

    def failing(self):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("disk I/O error at a path that is not logged")
        return (0, 0, 0)

    monkeypatch.setattr(WalCheckpointer, "checkpoint", failing)
    checkpointer = WalCheckpointer(engine, interval_seconds=0)
    checkpointer.start()
    try:
        _write(engine, 1)
        wait_until(lambda: len(calls) >= 1, "no checkpoint attempted")
        _write(engine, 1)
        wait_until(lambda: len(calls) >= 2, "the thread stopped after a failure")
    finally:
        checkpointer.stop()
    assert "sqlite checkpoint failed: RuntimeError" in caplog.text
    assert "not logged" not in caplog.text


def test_no_checkpointer_for_a_database_in_memory():
    engine = make_engine("sqlite://")
    try:
        assert checkpoint_in_background(engine) is None
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_no_checkpointer_on_postgresql(postgres_url):
    engine = make_engine(postgres_url)
    try:
        assert checkpoint_in_background(engine) is None
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_hub_serves_embedded_worker_starts_and_stops_it(ctx):
    transport = EmbeddedTransport(ctx, run_worker=True)
    transport.start()
    try:
        assert isinstance(transport.checkpointer, checkpoint.WalCheckpointer)
        assert transport.checkpointer._thread.is_alive()
    finally:
        transport.stop()
    assert not transport.checkpointer._thread.is_alive()
    assert _autocheckpoint(ctx.engine) == SQLITE_AUTOCHECKPOINT_PAGES
