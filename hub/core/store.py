"""Small portable store helpers shared by ingest and the worker."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_if_absent(session: Session, table: Table, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True when the row was written.

    Idempotency rests on the database's unique constraints, not on a lookup
    before the write, so two racing requests can never both insert.
    """
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    key = next(iter(table.primary_key.columns))
    # RETURNING, not rowcount: drivers disagree on rowcount for INSERT ... ON CONFLICT.
    stmt = module.insert(table).values(**values).on_conflict_do_nothing().returning(key)
    return session.execute(stmt).first() is not None
