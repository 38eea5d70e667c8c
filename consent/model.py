"""Value types of the consent registry: pure, frozen, no database.

Every datetime in these types must be timezone-aware: comparing an aware and
a naive datetime raises in Python, and guessing a zone for a legal decision
is not something we want to do silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

# The closed set of data categories. Lowercase Dutch words, because a
# municipality reads and edits them in the policy file.
CATEGORIES: frozenset[str] = frozenset(
    {"financieel", "wonen", "medisch", "zorg", "veiligheid", "werk-inkomen"}
)

DEFAULT_RECIPIENT = "wijkteam"


class Outcome(StrEnum):
    """What happens to a message."""

    DELIVER_FULL = "deliver_full"
    DELIVER_MINIMAL = "deliver_minimal"
    HOLD = "hold"


class BasisKind(StrEnum):
    """The kind of legal basis a decision rests on."""

    CONSENT = "consent"
    STATUTE = "statute"
    # A safety report (meldrecht): delivered whole, to be treated as confidential.
    SAFETY = "safety"
    # The resident's own request (issue 17): a question they sent to their regisseur.
    OWN_REQUEST = "own_request"
    NONE = "none"


def require_aware(name: str, value: datetime | None) -> None:
    """Raise ValueError if ``value`` is a naive datetime; None is accepted."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be timezone-aware")


# The registry's calendar: a day inside Python's years 1 and 9999 at either end, so that
# no time zone carries a stored moment past them (UTC when stored, Dutch time when shown
# to the resident). Comparing with these never overflows, whatever the offset.
_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
_LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def within_calendar(value: datetime) -> bool:
    """Whether the aware ``value`` can be stored and shown in any time zone."""
    return _EARLIEST <= value < _LATEST


def _frozen(name: str, values: Iterable[str]) -> frozenset[str]:
    # A plain str is iterable too; frozenset("wonen") would silently become a
    # set of letters, which would be a scope nobody meant.
    if isinstance(values, str):
        raise TypeError(f"{name} must be a collection of strings, not a string")
    return frozenset(values)


@dataclass(frozen=True)
class MessageFacts:
    """What the engine may know about a message: no personal data at all."""

    type: str
    category: str
    source_partner: str
    source_kind: str
    source_name: str
    recipient: str = DEFAULT_RECIPIENT


@dataclass(frozen=True)
class ConsentGrant:
    """One consent of one resident (``subject`` is a pseudonym, never a BSN).

    The source scope is an AND of two optional filters: by partner kind and
    by partner id. An empty filter does not restrict; but a grant with both
    filters empty matches nothing, because a consent must name its source
    (no blanket consent).
    """

    id: str
    subject: str
    recipient: str
    source_kinds: frozenset[str]
    source_partners: frozenset[str]
    categories: frozenset[str]
    purpose: str
    valid_from: datetime
    valid_until: datetime | None
    revoked_at: datetime | None
    granted_at: datetime

    def __post_init__(self) -> None:
        # Accept any iterable from callers but store frozensets, so equality,
        # hashing and immutability hold whatever the caller passed.
        for name in ("source_kinds", "source_partners", "categories"):
            object.__setattr__(self, name, _frozen(name, getattr(self, name)))
        for name in ("valid_from", "valid_until", "revoked_at", "granted_at"):
            require_aware(name, getattr(self, name))

    def is_active_at(self, when: datetime) -> bool:
        """True if the grant is in force at ``when``.

        In force means: ``valid_from <= when``, before ``valid_until`` (if
        any) and before ``revoked_at`` (if any). Both ends are half-open, so
        at the exact moment of revocation the grant no longer counts.
        """
        require_aware("when", when)
        if when < self.valid_from:
            return False
        if self.valid_until is not None and when >= self.valid_until:
            return False
        return self.revoked_at is None or when < self.revoked_at

    def covers_source(self, *, partner: str, kind: str) -> bool:
        """True if the grant's source scope includes this partner of this kind."""
        if not self.source_kinds and not self.source_partners:
            return False
        kind_ok = not self.source_kinds or kind in self.source_kinds
        partner_ok = not self.source_partners or partner in self.source_partners
        return kind_ok and partner_ok

    def covers(self, facts: MessageFacts) -> bool:
        """True if recipient, source and category of ``facts`` are in scope.

        Time is not checked here; see :meth:`is_active_at`.
        """
        return (
            self.recipient == facts.recipient
            and facts.category in self.categories
            and self.covers_source(partner=facts.source_partner, kind=facts.source_kind)
        )


@dataclass(frozen=True)
class Decision:
    """The recorded outcome for one message, with its basis and its reason.

    ``fields`` is None when every field may be delivered, or the tuple of
    field names that may be. ``reason`` is plain Dutch for the resident and
    the regisseur.
    """

    outcome: Outcome
    basis: BasisKind
    basis_ref: str | None
    fields: tuple[str, ...] | None
    reason: str
    decided_at: datetime
    retention_days: int | None

    @property
    def delivered(self) -> bool:
        """True if the message may reach the regisseur (fully or minimally)."""
        return self.outcome != Outcome.HOLD


@dataclass(frozen=True)
class FieldSet:
    """What the regisseur may see of a delivered item right now.

    ``visible`` False means nothing at all; otherwise ``fields`` is None (all
    fields) or the names of the fields that may be shown.
    """

    visible: bool
    fields: tuple[str, ...] | None
