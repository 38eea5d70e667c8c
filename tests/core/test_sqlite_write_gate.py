"""SQLite's writers of one process queue at the write gate, not in SQLite's busy handler.

The busy handler sleeps 1, 2, 5, 10 ms ... between tries, so two threads of
``hub serve`` taking turns (the group commit and the routing worker) lost
milliseconds at every hand-over. These tests turn SQLite's own wait off
(``busy_timeout`` 0): a writer that reached SQLite while another writer of the
process held its lock would fail at once with "database is locked".
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, exc, text

from hub.core import db
from hub.core.db import make_engine

WAIT = 10  # seconds a thread may take to reach a point; never slept, only awaited


def _engine(path: Path, busy_ms: int = 0) -> Engine:
    engine = make_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _no_busy_wait(dbapi_conn, _record) -> None:
        dbapi_conn.execute(f"PRAGMA busy_timeout={busy_ms}")

    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (n INTEGER)"))
    return engine


@pytest.fixture
def engine(tmp_path) -> Iterator[Engine]:
    engine = _engine(tmp_path / "gate.sqlite3")
    yield engine
    engine.dispose()


def _gate_of(engine: Engine) -> db.WriteGate:
    gate = db._write_gate(engine.url.database)
    assert gate is not None
    return gate


def _write_in_thread(engine: Engine, began: threading.Event, errors: list) -> threading.Thread:
    def write() -> None:
        try:
            with engine.begin() as conn:
                began.set()
                conn.execute(text("INSERT INTO t VALUES (2)"))
        except Exception as error:  # handed to the test thread
            errors.append(error)
    thread = threading.Thread(target=write)
    thread.start()
    return thread


def _wait_until_queued(gate: db.WriteGate, thread: threading.Thread) -> None:
    """Until ``thread`` waits (at the gate, the only place it can wait here)."""
    # A thread blocked on a lock is not running; sys._current_frames shows where it is.
    for _ in range(WAIT * 1000):
        frame = sys._current_frames().get(thread.ident)
        while frame is not None:
            if frame.f_code.co_name == "_on_begin":
                return
            frame = frame.f_back
        threading.Event().wait(0.001)
    raise AssertionError("the second writer never reached the gate")


def test_a_second_writer_waits_at_the_gate_and_goes_on_at_the_commit(engine):
    gate = _gate_of(engine)
    began, errors = threading.Event(), []
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert gate.locked()
        second = _write_in_thread(engine, began, errors)
        _wait_until_queued(gate, second)
        assert not began.is_set()  # it has not reached SQLite while this one writes
    second.join(WAIT)
    # With busy_timeout 0, reaching SQLite's taken lock would have failed it at once.
    assert errors == []
    assert began.is_set()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
    assert not gate.locked()


def test_engines_on_one_file_share_the_gate(tmp_path):
    path = tmp_path / "shared.sqlite3"
    first, second = _engine(path), _engine(path)
    try:
        assert db._write_gate(str(path)) is _gate_of(first) is _gate_of(second)
        began, errors = threading.Event(), []
        with first.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            thread = _write_in_thread(second, began, errors)
            _wait_until_queued(_gate_of(first), thread)
        thread.join(WAIT)
        assert errors == []
    finally:
        first.dispose()
        second.dispose()


def test_a_rollback_opens_the_gate(engine):
    gate = _gate_of(engine)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        raise RuntimeError("the transaction fails")
    assert not gate.locked()


@pytest.mark.parametrize("let_go", ["close", "invalidate"])
def test_a_connection_let_go_without_commit_opens_the_gate(engine, let_go):
    # close: the pool rolls the open transaction back; invalidate: the pool drops it.
    gate = _gate_of(engine)
    conn = engine.connect()
    conn.execute(text("INSERT INTO t VALUES (1)"))
    assert gate.locked()
    getattr(conn, let_go)()
    assert not gate.locked()
    conn.close()


def test_a_failed_begin_opens_the_gate(tmp_path, monkeypatch):
    path = tmp_path / "locked.sqlite3"
    engine = _engine(path)
    # Another process's writer (a hub command beside hub serve) holds SQLite's lock:
    # this process's gate is free, SQLite refuses, and the gate must not stay shut.
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(exc.OperationalError, match="locked"), engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
        assert not _gate_of(engine).locked()
    finally:
        other.close()
        engine.dispose()


def test_reading_transactions_pass_the_gate(engine):
    gate = _gate_of(engine)
    with engine.begin() as writer:
        writer.execute(text("INSERT INTO t VALUES (1)"))
        with engine.connect().execution_options(read_only=True) as reader:
            assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
        assert gate.locked()


def test_a_gate_held_too_long_fails_like_sqlite_does(engine, monkeypatch):
    monkeypatch.setattr(db, "SQLITE_BUSY_SECONDS", 0.05)
    errors: list = []
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        thread = _write_in_thread(engine, threading.Event(), errors)
        thread.join(WAIT)
    assert len(errors) == 1
    assert isinstance(errors[0], exc.OperationalError)
    assert "database is locked" in str(errors[0])


def test_an_in_memory_database_has_no_gate():
    assert db._write_gate(":memory:") is None
    assert db._write_gate(None) is None


_HOLDER = """
import sys, time
from sqlalchemy import text
from hub.core.db import make_engine
engine = make_engine("sqlite:///" + sys.argv[1])
conn = engine.connect()
conn.execute(text("INSERT INTO t VALUES (7)"))  # BEGIN IMMEDIATE: the gate, then SQLite
print("holding", flush=True)
if sys.argv[2] == "commit":
    sys.stdin.readline()
    conn.commit()
    print("committed", flush=True)
    sys.stdin.readline()
else:
    time.sleep(600)  # until killed
"""


def _holder(path: Path, how: str):
    import subprocess

    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path), how],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_a_writer_of_another_process_waits_at_the_gate_not_in_sqlite(engine, tmp_path):
    # busy_timeout 0 here: a writer that reached SQLite while the other process held its
    # lock would fail at once; at the gate it waits, and goes on once that one commits.
    holder = _holder(tmp_path / "gate.sqlite3", "commit")
    try:
        began, errors = threading.Event(), []
        writer = _write_in_thread(engine, began, errors)
        _wait_until_queued(_gate_of(engine), writer)
        assert not began.is_set()
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "committed"
        writer.join(WAIT)
        assert not writer.is_alive() and errors == []
        with engine.connect() as conn:
            assert sorted(conn.execute(text("SELECT n FROM t")).scalars()) == [2, 7]
    finally:
        holder.kill()
        holder.wait(WAIT)


def test_a_writer_that_died_holding_the_gate_lets_the_next_one_in(engine, tmp_path):
    holder = _holder(tmp_path / "gate.sqlite3", "die")
    began, errors = threading.Event(), []
    writer = _write_in_thread(engine, began, errors)
    _wait_until_queued(_gate_of(engine), writer)
    holder.kill()  # SIGKILL: the kernel lets go of its lock, SQLite rolls its work back
    holder.wait(WAIT)
    writer.join(WAIT)
    assert not writer.is_alive() and errors == []
    with engine.connect() as conn:
        assert list(conn.execute(text("SELECT n FROM t")).scalars()) == [2]


def test_waiting_at_the_gate_for_another_process_still_times_out(tmp_path):
    gate = db.WriteGate(str(tmp_path / "other.sqlite3"))
    holder = db.WriteGate(str(tmp_path / "other.sqlite3"))  # a second open file: "a process"
    assert holder.acquire()
    try:
        assert gate.acquire(timeout=0.05) is False
        assert not gate.locked()  # the thread part is given back too
    finally:
        holder.release()
    assert gate.acquire(timeout=1)
    gate.release()
