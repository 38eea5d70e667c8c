"""Security tests run on SQLite only: they are about who may knock, not about the store
(``tests/core/test_partner_keys.py`` runs the key store on both databases)."""

from __future__ import annotations

import pytest

from tests.utils import databases


@pytest.fixture
def database_url(tmp_path, sqlite_template) -> str:
    """The embedded default's database, in the test's own directory, already migrated."""
    return databases.sqlite_copy(sqlite_template, tmp_path / "hub.sqlite3")
