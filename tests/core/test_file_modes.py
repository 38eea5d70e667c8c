"""The data directory and the files the hub creates in it are owner-only (issue 13, item 14)."""

from __future__ import annotations

import os
import stat

from sqlalchemy import text

from hub.core.context import build_context
from hub.core.migrate import upgrade
from hub.settings import Settings
from tests.conftest import CHEAP_KEY_HASHING


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_data_directory_database_journal_and_key_file_are_owner_only(tmp_path):
    old = os.umask(0o022)  # the usual umask: what made the files 0644 before
    try:
        data = tmp_path / "var" / "hub"
        ctx = build_context(Settings(env="test", data_dir=data, worker_enabled=False,
                                     **CHEAP_KEY_HASHING))
        try:
            upgrade(ctx.engine)
            with ctx.engine.connect() as conn:  # a reader keeps the -wal and -shm files open
                conn.execute(text("SELECT 1"))
                files = {p.name: _mode(p) for p in data.iterdir() if p.is_file()}
        finally:
            ctx.dispose()
    finally:
        os.umask(old)
    assert _mode(data) == 0o700
    assert {"hub.sqlite3", "hub.sqlite3-wal", "hub.sqlite3-shm", "keys.json"} <= set(files)
    assert files == dict.fromkeys(files, 0o600), files
