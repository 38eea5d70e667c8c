"""Storage of the consent registry: SQLAlchemy Core tables on their own ``metadata``.

The hub's Alembic migrations include :data:`metadata`. Types are chosen to
work the same on SQLite (embedded default) and PostgreSQL (production):
string ids, JSON lists, and timestamps that always come back timezone-aware
in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

from consent.records import Capacity, Change, GrantStatus, RequestStatus

__all__ = [
    "CAPACITIES",
    "CHANGES",
    "GRANT_STATUSES",
    "REQUEST_STATUSES",
    "UTCDateTime",
    "consent_decisions",
    "consent_grants",
    "consent_representations",
    "consent_requests",
    "consent_subjects",
    "consent_versions",
    "metadata",
]

GRANT_STATUSES = tuple(s.value for s in GrantStatus)
REQUEST_STATUSES = tuple(s.value for s in RequestStatus)
CHANGES = tuple(c.value for c in Change)
CAPACITIES = tuple(c.value for c in Capacity)

# Named constraints, so Alembic migrations can drop or alter them by name on
# every database.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite keeps no zone and hands back naive datetimes; comparing those with
    the aware ones the engine uses would raise. Naive input is refused
    rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to UTC; refuse a naive one."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return the stored value as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            # Only ever written in UTC (see process_bind_param).
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _status_check(name: str, column: str, values: tuple[str, ...]) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)


# One row per resident pseudonym, used as the lock that serialises a decision
# with a grant or revocation: the hub selects it FOR UPDATE before deciding,
# and every grant and revocation bumps ``version`` in the same transaction.
consent_subjects = Table(
    "consent_subjects",
    metadata,
    Column("subject", String(64), primary_key=True),
    Column("version", Integer, nullable=False, default=0, server_default=text("0")),
)

# A request to the resident to approve sharing; history is kept, so several
# rows per (subject, partner, category) may exist, and "at most one pending"
# is enforced in code under the subject lock.
consent_requests = Table(
    "consent_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("subject", String(64), ForeignKey("consent_subjects.subject"), nullable=False),
    Column("source_partner", String(64), nullable=False),
    Column("source_kind", String(64), nullable=False),
    Column("source_name", String(200), nullable=False),
    Column("category", String(32), nullable=False),
    Column("topics", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("text", Text, nullable=False),
    # Who would receive the data and for what (issue 17): the wijkteam for a held
    # message; a partner (``partner:<id>``, purpose ``plan.share``) for a plan agreement.
    Column("recipient", String(100), nullable=False, server_default="wijkteam"),
    Column("purpose", String(200), nullable=True),
    _status_check("status", "status", REQUEST_STATUSES),
    Index("ix_consent_requests_subject_status", "subject", "status"),
)

# Grants, revocations and refusals. A refusal is a row with status "refused"
# that never matches, so the resident's "no" stays in the history (as Mitz).
consent_grants = Table(
    "consent_grants",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("subject", String(64), ForeignKey("consent_subjects.subject"), nullable=False),
    Column("recipient", String(64), nullable=False),
    Column("source_kinds", JSON, nullable=False),
    Column("source_partners", JSON, nullable=False),
    Column("categories", JSON, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("valid_from", UTCDateTime, nullable=False),
    Column("valid_until", UTCDateTime, nullable=True),
    Column("granted_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("status", String(16), nullable=False),
    Column("provenance", JSON, nullable=False),
    Column("request_id", String(36), ForeignKey("consent_requests.id"), nullable=True),
    # The head of the version history: this row always equals the newest row of
    # consent_versions for this consent, kept here so a decision is one query.
    Column("version", Integer, nullable=False, default=1, server_default=text("1")),
    Column("changed_at", UTCDateTime, nullable=True),
    Column("representation_id", String(36), nullable=True),
    Column("capacity", String(16), nullable=True),
    # The client's Idempotency-Key (or a paper form's reference): the same key
    # again returns the consent made with it, so a retried grant never makes a
    # second consent, and never revives one that was revoked in between.
    Column("idempotency_key", String(100), nullable=True),
    # SHA-256 of the request and its actor the key was first used with: the key
    # answers only that request again (issue 13, item 9).
    Column("idempotency_hash", String(64), nullable=True),
    UniqueConstraint("subject", "idempotency_key", name="uq_consent_grants_idempotency"),
    _status_check("status", "status", GRANT_STATUSES),
    # consents_for is one query on this index.
    Index("ix_consent_grants_subject_status", "subject", "status"),
)

# The version history of every consent: one row per change, never updated or
# deleted, each holding the whole state after that change (issue 4, item 1).
consent_versions = Table(
    "consent_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("consent_id", String(36), ForeignKey("consent_grants.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("subject", String(64), nullable=False),
    Column("change", String(16), nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("recipient", String(64), nullable=False),
    Column("source_kinds", JSON, nullable=False),
    Column("source_partners", JSON, nullable=False),
    Column("categories", JSON, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("valid_from", UTCDateTime, nullable=False),
    Column("valid_until", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("provenance", JSON, nullable=False),
    Column("representation_id", String(36), nullable=True),
    Column("capacity", String(16), nullable=True),
    UniqueConstraint("consent_id", "version", name="uq_consent_versions_consent_version"),
    _status_check("change", "change", CHANGES),
    _status_check("status", "status", GRANT_STATUSES),
)

# Who may act for whom, in which capacity, for which period. Both sides are
# pseudonyms. Ended early by setting ended_at; rows are never deleted.
consent_representations = Table(
    "consent_representations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("subject", String(64), nullable=False, index=True),
    Column("representative", String(64), nullable=False, index=True),
    Column("capacity", String(16), nullable=False),
    Column("valid_from", UTCDateTime, nullable=False),
    Column("valid_until", UTCDateTime, nullable=True),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("recorded_by", String(200), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    _status_check("capacity", "capacity", CAPACITIES),
)

# Every decision, with its reason, so it can be explained later. No foreign
# key on subject: a message may be decided before (or without) its resident
# being known to the registry.
consent_decisions = Table(
    "consent_decisions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("message_id", String(36), nullable=False, index=True),
    Column("subject", String(64), nullable=True, index=True),
    Column("outcome", String(16), nullable=False),
    Column("basis", String(16), nullable=False),
    Column("basis_ref", String(64), nullable=True),
    # none_as_null: None ("all fields") must be SQL NULL, not the JSON value null.
    Column("fields", JSON(none_as_null=True), nullable=True),
    Column("reason", Text, nullable=False),
    Column("retention_days", Integer, nullable=True),
    Column("decided_at", UTCDateTime, nullable=False),
)
