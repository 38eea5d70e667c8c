"""Alembic environment: migrates the hub's and the consent registry's tables together."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from hub.core.db import all_metadata

config = context.config
target_metadata = all_metadata()


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        _run(conn)
        conn.commit()


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
