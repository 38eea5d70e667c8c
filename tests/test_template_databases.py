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


def _make_template(conn, name: str, *, used_ago: timedelta) -> None:
    conn.execute(text(f'CREATE DATABASE "{name}"'))
    conn.execute(text(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false'))
    when = conn.execute(text("SELECT now() - :ago"), {"ago": used_ago}).scalar_one()
    conn.execute(text(f"COMMENT ON DATABASE \"{name}\" IS '{databases._USED}{when.isoformat()}'"))


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
    tag = uuid.uuid4().hex[:8]
    stale = f"{databases.TEMPLATE_PREFIX}test{tag}old"
    recent = f"{databases.TEMPLATE_PREFIX}test{tag}new"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            _make_template(conn, stale, used_ago=timedelta(days=2))
            _make_template(conn, recent, used_ago=timedelta(hours=1))
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": databases._BUILD_LOCK})
            try:
                databases.drop_stale_templates(conn, keep=postgres_template)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": databases._BUILD_LOCK})
            left = _names(conn)
    finally:
        with admin.connect() as conn:
            for name in (stale, recent):
                if name in _names(conn):
                    conn.execute(text(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE false'))
                    conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
    assert stale not in left
    assert recent in left
    assert postgres_template in left
