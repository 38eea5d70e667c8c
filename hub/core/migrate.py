"""Applying the Alembic migrations, from ``hub db upgrade`` and at start-up."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at the migrations shipped in the package."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("hub") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema; a no-op when it is there already."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
