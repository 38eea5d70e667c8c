"""Small portable store helpers shared by ingest and the worker."""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session
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
