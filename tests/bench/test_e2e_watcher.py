"""bench/e2e.py's watcher: a message's latency ends when a reader first sees it, not before.

Against a SQLite file of the test's own; no benchmark runs, and nothing is timed.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from sqlalchemy import create_engine, text

from bench.e2e import Watcher


@pytest.fixture
def inbox(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'inbox.sqlite3'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE inbox (message_id TEXT PRIMARY KEY)"))
    yield engine
    engine.dispose()


def _visible(cursor, ids):
    # The driver's own cursor (sqlite3), as bench.e2e.hub_visible gets it.
    cursor.execute("SELECT message_id FROM inbox WHERE message_id IN "
                   "(SELECT value FROM json_each(?))", (json.dumps(ids),))
    return [row[0] for row in cursor.fetchall()]


def _deliver(engine, ref: str) -> float:
    """Commit ``ref`` into the inbox; the wall-clock time just before its transaction."""
    began = time.time()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO inbox VALUES (:ref)"), {"ref": ref})
    return began


def test_a_message_counts_as_seen_only_after_the_commit_that_shows_it(inbox):
    sent: dict[str, float] = {}
    watcher = Watcher(inbox, _visible, sent)
    watcher.start()
    sent["early"] = time.time()
    early_began = _deliver(inbox, "early")
    # Sent (its id known to the watcher) now, committed 50 ms later by another thread.
    sent["late"] = time.time()
    began: list[float] = []
    delivering = threading.Timer(0.05, lambda: began.append(_deliver(inbox, "late")))
    delivering.start()
    delivering.join()
    seen = watcher.finish()
    assert set(seen) == {"early", "late"}
    # The read that found a row began after its transaction did: never the send time.
    assert seen["early"] >= early_began
    assert seen["late"] >= began[0] >= sent["late"] + 0.05


def test_a_message_that_never_arrives_is_named_not_timed(inbox):
    sent = {"lost": time.time()}
    watcher = Watcher(inbox, _visible, sent)
    watcher.start()
    with pytest.raises(RuntimeError, match="1 messages never reached the inbox"):
        watcher.finish()


def test_a_failing_read_is_reported_not_swallowed(inbox):
    def broken(conn, ids):
        raise ValueError("no such table")

    watcher = Watcher(inbox, broken, {"x": time.time()})
    watcher.start()
    with pytest.raises(RuntimeError, match="watcher failed"):
        watcher.finish()


def test_the_pooled_connection_goes_back_as_it_came(inbox):
    raw = inbox.raw_connection()
    before = raw.driver_connection.isolation_level
    raw.close()
    watcher = Watcher(inbox, _visible, {})
    watcher.start()
    watcher.finish()
    raw = inbox.raw_connection()
    try:
        # The watcher read in autocommit; the next user of the pool's connection does not.
        assert raw.driver_connection.isolation_level == before is not None
    finally:
        raw.close()
