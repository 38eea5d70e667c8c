"""The tests' PostgreSQL templates (tests/utils/databases.py, issue 18): one per migration
set, and those of other sets go once nobody has used them for a day."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from tests.utils import databases

pytestmark = pytest.mark.postgres


def _names(conn) -> set[str]:
    return set(conn.execute(text("SELECT datname FROM pg_database")).scalars())


def _mark(conn, name: str, *, used_ago: timedelta) -> None:
    when = conn.execute(text("SELECT now() - :ago"), {"ago": used_ago}).scalar_one()
    conn.execute(text(f"COMMENT ON DATABASE \"{name}\" IS '{databases._USED}{when.isoformat()}'"))


def _drop_stale(conn, keep: str) -> None:
    conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": databases._BUILD_LOCK})
    try:
        databases.drop_stale_templates(conn, keep=keep)
    finally:
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": databases._BUILD_LOCK})


def test_a_session_marks_its_template_used(postgres_server, postgres_template):
    admin = create_engine(postgres_server)
    try:
        with admin.connect() as conn:
            comment, age = conn.execute(text(
                "SELECT shobj_description(oid, 'pg_database'), now() - "
                "replace(shobj_description(oid, 'pg_database'), :used, '')::timestamptz "
                "FROM pg_database WHERE datname = :n"),
                {"n": postgres_template, "used": databases._USED}).one()
    finally:
        admin.dispose()
    assert comment.startswith(databases._USED)
    assert age < databases.STALE_AFTER


def test_only_templates_of_other_sets_unused_for_a_day_are_dropped(postgres_server,
                                                                     postgres_template):
    # One database, first used an hour ago, then two days ago (a DROP costs a checkpoint).
    other = f"{databases.TEMPLATE_PREFIX}test{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{other}"'))
            conn.execute(text(f'ALTER DATABASE "{other}" WITH IS_TEMPLATE true '
                              "ALLOW_CONNECTIONS false"))
            _mark(conn, other, used_ago=timedelta(hours=1))
            _drop_stale(conn, keep=postgres_template)
            used_lately = _names(conn)
            _mark(conn, other, used_ago=timedelta(days=2))
            _drop_stale(conn, keep=postgres_template)
            unused = _names(conn)
    finally:
        with admin.connect() as conn:
            if other in _names(conn):
                conn.execute(text(f'ALTER DATABASE "{other}" WITH IS_TEMPLATE false'))
                conn.execute(text(f'DROP DATABASE "{other}" WITH (FORCE)'))
        admin.dispose()
    assert other in used_lately  # another branch's run may be using it
    assert other not in unused
    assert postgres_template in used_lately and postgres_template in unused
