"""A hub on a PostgreSQL without autovacuum says so at start (issue 14).

Without autovacuum no table is ever analyzed: the plans cached while the tables
were small (sequential scans) stay, and a hub delivered half as many messages a
second after 30,000 (bench/README.md). The operator hears it once, at start.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import create_engine, text

from hub.core.db import AUTOVACUUM_OFF_WARNING, warn_if_autovacuum_off


@pytest.mark.postgres
def test_the_warning_comes_exactly_when_postgresqls_autovacuum_is_off(postgres_url, caplog):
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            off = conn.execute(text("SHOW autovacuum")).scalar_one() == "off"
        with caplog.at_level(logging.WARNING, logger="hub.core.db"):
            assert warn_if_autovacuum_off(engine) is off
        assert (AUTOVACUUM_OFF_WARNING in caplog.messages) is off
    finally:
        engine.dispose()


def test_sqlite_has_nothing_to_warn_about(tmp_path, caplog):
    engine = create_engine(f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    with caplog.at_level(logging.WARNING):
        assert warn_if_autovacuum_off(engine) is False
    assert not caplog.messages
    engine.dispose()
