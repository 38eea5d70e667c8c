"""Public row types of the registry: what the resident API lists and shows.

Kept apart from :mod:`consent.model` because these carry bookkeeping
(status, provenance, request link) that the decision engine must not
depend on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from consent.model import ConsentGrant


class GrantStatus(StrEnum):
    """Lifecycle of a stored grant row."""

    ACTIVE = "active"
    REVOKED = "revoked"
    # valid_until passed; written when the registry next touches the subject
    # (the engine never needs it: it compares valid_until itself).
    EXPIRED = "expired"
    # The resident said no to a request; stored so the history stays whole.
    REFUSED = "refused"


class Change(StrEnum):
    """What made a new version of a consent."""

    GRANTED = "granted"
    CHANGED = "changed"
    REVOKED = "revoked"
    EXPIRED = "expired"
    REFUSED = "refused"


class Capacity(StrEnum):
    """In which capacity a representative acts for a resident (Dutch law's roles)."""

    # Gezag over a minor: only until the resident turns 18.
    PARENT = "parent"
    GUARDIAN = "guardian"
    # Curatele: both money and personal matters.
    CURATOR = "curator"
    # Mentorschap: personal matters (care, health, living), never money.
    MENTOR = "mentor"
    # Beschermingsbewind: money only.
    BEWINDVOERDER = "bewindvoerder"


class RequestStatus(StrEnum):
    """Lifecycle of a consent request to the resident."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"


@dataclass(frozen=True)
class GrantRecord:
    """One stored grant, revocation or refusal, as the resident API shows it."""

    id: str
    subject: str
    recipient: str
    source_kinds: frozenset[str]
    source_partners: frozenset[str]
    categories: frozenset[str]
    purpose: str
    valid_from: datetime
    valid_until: datetime | None
    granted_at: datetime
    revoked_at: datetime | None
    status: GrantStatus
    provenance: Mapping[str, Any]
    request_id: str | None
    # The version number of this state (1 = as first granted) and when it began.
    version: int = 1
    changed_at: datetime | None = None
    # Set when a representative, not the resident, made this version.
    representation_id: str | None = None
    capacity: Capacity | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "provenance", MappingProxyType(dict(self.provenance)))

    def to_grant(self) -> ConsentGrant:
        """Return the grant the engine understands.

        Refusals are stored with an empty validity period (valid_until ==
        valid_from), so even this conversion can never yield a grant that
        is active at any moment.
        """
        return ConsentGrant(
            id=self.id,
            subject=self.subject,
            recipient=self.recipient,
            source_kinds=self.source_kinds,
            source_partners=self.source_partners,
            categories=self.categories,
            purpose=self.purpose,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            revoked_at=self.revoked_at,
            granted_at=self.granted_at,
        )


@dataclass(frozen=True)
class ConsentRequest:
    """A question to the resident: may this partner share this category?

    ``topics`` are the Dutch nouns of the held messages (e.g.
    "huurachterstand"); ``text`` is the question built from them.
    """

    id: str
    subject: str
    source_partner: str
    source_kind: str
    source_name: str
    category: str
    topics: tuple[str, ...]
    status: RequestStatus
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    text: str
    # The wijkteam, or ``partner:<id>`` for sharing a plan agreement (purpose ``plan.share``).
    recipient: str = "wijkteam"
    purpose: str | None = None


@dataclass(frozen=True)
class ConsentVersion:
    """One version of a consent: its whole state after one change. Never updated."""

    consent_id: str
    version: int
    change: Change
    changed_at: datetime
    status: GrantStatus
    recipient: str
    source_kinds: frozenset[str]
    source_partners: frozenset[str]
    categories: frozenset[str]
    purpose: str
    valid_from: datetime
    valid_until: datetime | None
    revoked_at: datetime | None
    provenance: Mapping[str, Any]
    representation_id: str | None
    capacity: Capacity | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "provenance", MappingProxyType(dict(self.provenance)))


@dataclass(frozen=True)
class Representation:
    """That ``representative`` may act for ``subject`` in ``capacity``, for a period.

    Both are pseudonyms. ``valid_until`` is already cut to the resident's 18th
    birthday for a parent or guardian. ``ended_at`` is set when it was ended
    early; nothing is deleted.
    """

    id: str
    subject: str
    representative: str
    capacity: Capacity
    valid_from: datetime
    valid_until: datetime | None
    ended_at: datetime | None
    recorded_by: str
    reference: str
    recorded_at: datetime

    def is_active_at(self, when: datetime) -> bool:
        """True if the representative may act at ``when`` (half-open like grants)."""
        if when < self.valid_from:
            return False
        if self.valid_until is not None and when >= self.valid_until:
            return False
        return self.ended_at is None or when < self.ended_at
