"""The hub's configuration: one pydantic-settings class, read from ``HUB_*`` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the hub. Built once per process and passed to whoever needs it."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("./var")
    # Empty means: SQLite (WAL) in data_dir. postgresql+psycopg://... selects PostgreSQL.
    database_url: str = ""
    policy_file: Path | None = None
    wijkmap_file: Path | None = None
    # Early signalling of debts without consent (Wet gemeentelijke schuldhulpverlening).
    # A municipality that has not adopted it switches it off here.
    statute_early_signalling: bool = True
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    max_batch_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    worker_enabled: bool = True
    worker_poll_seconds: float = Field(default=0.5, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    retry_base_seconds: float = Field(default=1.0, gt=0)
    # Development issuer: signs bearer tokens for one-machine use. Refused in production.
    token_ttl_seconds: int = Field(default=8 * 3600, gt=0)

    @field_validator("database_url")
    @classmethod
    def _only_supported_databases(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("HUB_DATABASE_URL must be a sqlite:// or postgresql+psycopg:// URL")
        return value

    @property
    def effective_database_url(self) -> str:
        """The database to use: the configured URL, or SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hub.sqlite3').resolve()}"

    @property
    def keys_file(self) -> Path:
        """Where the embedded default keeps its data-encryption and pseudonym keys."""
        return self.data_dir / "keys.json"
