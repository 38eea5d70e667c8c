"""Small builders shared by the consent tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from consent.model import ConsentGrant, MessageFacts

T0 = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


def facts(**overrides: Any) -> MessageFacts:
    """Rent arrears from Woonbron, unless overridden."""
    values: dict[str, Any] = {
        "type": "signal.arrears.rent",
        "category": "financieel",
        "source_partner": "woonbron",
        "source_kind": "woningcorporatie",
        "source_name": "Woonbron",
    }
    values.update(overrides)
    return MessageFacts(**values)


def consent(**overrides: Any) -> ConsentGrant:
    """An active consent for money matters from housing corporations, given at T0."""
    values: dict[str, Any] = {
        "id": "c-1",
        "subject": "p-1",
        "recipient": "wijkteam",
        "source_kinds": frozenset({"woningcorporatie"}),
        "source_partners": frozenset(),
        "categories": frozenset({"financieel"}),
        "purpose": "ondersteuning door het wijkteam",
        "valid_from": T0,
        "valid_until": None,
        "revoked_at": None,
        "granted_at": T0,
    }
    values.update(overrides)
    return ConsentGrant(**values)
