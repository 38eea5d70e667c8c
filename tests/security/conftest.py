"""Security tests run on SQLite only: they are about who may knock, not about the store
(``tests/core/test_partner_keys.py`` runs the key store on both databases)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hub.core.db import make_engine
from hub.core.migrate import upgrade


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Path:
    """A migrated SQLite database, made once: each test starts from a copy of it."""
    path = tmp_path_factory.mktemp("template") / "hub.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return path


@pytest.fixture
def database_url(tmp_path, migrated_template) -> str:
    """The embedded default's database, in the test's own directory, already migrated."""
    path = tmp_path / "hub.sqlite3"
    shutil.copyfile(migrated_template, path)
    return f"sqlite:///{path}"
