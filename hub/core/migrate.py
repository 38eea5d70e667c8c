"""Applying the Alembic migrations, from ``hub db upgrade`` and at start-up."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

# The newest migration's revision. Every command and every start calls upgrade(); when
# the database is there already, it answers from one SELECT instead of loading Alembic
# and every migration script (~0.2 s a process). A migration added without moving this
# on fails tests/core/test_migrations.py, which compares it with Alembic's own head;
# until then upgrade() only takes the slow path (the stored revision differs).
HEAD = "0022"


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at the migrations shipped in the package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("hub") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def stored_revisions(engine: Engine) -> set[str]:
    """The revisions the database says it is at; empty for a database never migrated."""
    try:
        # A read: on SQLite it must not take the write lock (see hub.core.db).
        with engine.connect().execution_options(read_only=True) as conn:
            return set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except DBAPIError:
        return set()  # no alembic_version table yet


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema; a no-op when it is there already."""
    if stored_revisions(engine) == {HEAD}:
        return
    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
