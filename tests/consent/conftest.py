"""Fixtures for the consent package: a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from consent.tables import metadata


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def session(request: pytest.FixtureRequest) -> Iterator[Session]:
    """A Session on a fresh database with the consent tables.

    In-memory SQLite (the embedded default), and again on PostgreSQL in a
    fresh schema when the server runs (``postgres_url`` from tests/conftest.py
    skips otherwise), because the registry must behave the same on both.
    """
    url = "sqlite://" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()
