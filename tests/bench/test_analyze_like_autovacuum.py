"""bench.common.analyze_like_autovacuum: between benchmark turns, the ANALYZE that autovacuum
would run in production, only where the server's autovacuum is off (this machine's is)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from bench.common import analyze_like_autovacuum


@pytest.mark.postgres
def test_the_schemas_tables_are_analyzed_exactly_when_autovacuum_is_off(postgres_url):
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE queue (id int PRIMARY KEY)"))
            conn.execute(text("INSERT INTO queue SELECT generate_series(1, 100)"))
            autovacuum = conn.execute(text("SHOW autovacuum")).scalar_one()
        assert analyze_like_autovacuum(engine) is (autovacuum == "off")
        with engine.connect() as conn:
            analyzed = conn.execute(text(
                "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE schemaname = current_schema() AND relname = 'queue'")).scalar_one()
            reltuples = conn.execute(text(
                "SELECT reltuples FROM pg_class WHERE oid = 'queue'::regclass")).scalar_one()
        if autovacuum == "off":
            assert analyzed and reltuples == 100
    finally:
        engine.dispose()


def test_sqlite_is_left_alone(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert analyze_like_autovacuum(engine) is False
    engine.dispose()
