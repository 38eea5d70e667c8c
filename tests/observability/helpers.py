"""Shared by the observability tests: scraping /metrics and reading its samples."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

# Most of these tests are about what the hub reports, not about the store: one database.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of an exposition, keyed by its name and its labels."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scraped: dict, name: str, **labels: str) -> float:
    """One sample's value; 0 when the series does not exist (never counted)."""
    return scraped.get((name, frozenset(labels.items())), 0.0)
