"""Small portable store helpers shared by ingest and the worker."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from typing import Any

from sqlalchemy import ARRAY, Select, Table, any_, bindparam
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import Insert


@cache
def insert_ignoring_conflicts(dialect: str, table: Table) -> Insert:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING <key>`` for ``table`` on ``dialect``.

    Executed with a list of rows it is one bulk statement (SQLAlchemy's
    "insertmanyvalues" batches the rows into multi-row VALUES) and returns the
    keys of the rows it wrote, in no particular order.
    """
    # One statement object per table, its values bound at execution: SQLAlchemy then
    # finds the compiled form in its cache instead of building and compiling an INSERT
    # with fresh literal parameters for every message (docs/performance.md, "cheap wins").
    # The dialect's module is imported only by a hub on it (start-up time of `hub`).
    module = importlib.import_module(
        "sqlalchemy.dialects." + ("postgresql" if dialect == "postgresql" else "sqlite"))
    key = next(iter(table.primary_key.columns))
    # RETURNING, not rowcount: drivers disagree on rowcount for INSERT ... ON CONFLICT.
    return module.insert(table).on_conflict_do_nothing().returning(key)


def insert_if_absent(session: Session, table: Table, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when the row was written.

    Idempotency rests on the database's unique constraints, not on a lookup
    before the write, so two racing requests can never both insert.
    """
    stmt = insert_ignoring_conflicts(session.get_bind().dialect.name, table)
    return session.execute(stmt, values).first() is not None


def is_postgres(session: Session) -> bool:
    """Whether ``session`` talks to PostgreSQL (for the statements built per dialect)."""
    return session.get_bind().dialect.name == "postgresql"


def in_list(column: Any, name: str, *, postgres: bool) -> Any:
    """``column`` is one of the values bound as ``name`` (a list), for a statement built once.

    On PostgreSQL ``column = ANY(:name)`` with the list as one array parameter: the SQL
    text is the same whatever the list's length, so psycopg parses it once and caches it.
    An expanding ``IN`` is rendered anew for each length, one placeholder and cast per
    value, and psycopg parses that long text again every time (issue 14: ~0.7 of a routing
    worker's 4.3 ms per message under cProfile). Elsewhere (SQLite) the expanding ``IN``.
    """
    if postgres:
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def run_while_waiting(sessions: sessionmaker, waiting: Select,
                      step: Callable[[Session], int]) -> int:
    """Run ``step`` in short transactions while ``waiting`` finds a row; the rows it did.

    For the start-up data steps (a value Alembic cannot compute without the hub's keys):
    each round asks ``waiting`` first, read-only, so a store with nothing left (the
    usual start) costs one select and never SQLite's write lock.
    """
    total = 0
    while True:
        with sessions() as session:
            session.connection(execution_options={"read_only": True})
            if session.scalar(waiting) is None:
                return total
        with sessions() as session, session.begin():
            total += step(session)
