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
    # The resident said no to a request; stored so the history stays whole.
    REFUSED = "refused"


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
