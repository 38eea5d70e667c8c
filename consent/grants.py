"""The subject lock and the grants: record, revoke and read a resident's consents.

Use these through :mod:`consent.registry`. Every function takes the caller's
SQLAlchemy ``Session`` and never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from consent.errors import ConsentError, ConsentNotFound
from consent.model import CATEGORIES, ConsentGrant, require_aware
from consent.records import GrantRecord, GrantStatus
from consent.tables import consent_grants, consent_subjects

_SUBJECT_MAX = 64


# --- subject lock -----------------------------------------------------------


def lock_subject(*, session: Session, subject: str) -> int:
    """Lock the subject's row for the rest of the transaction and return its version.

    Creates the row (version 0) if it does not exist yet. On PostgreSQL the
    row is locked with SELECT ... FOR UPDATE; SQLite has no row locks but
    lets one writer at a time change the database, which gives the same
    order.
    """
    check_subject(subject)
    query = (
        select(consent_subjects.c.version)
        .where(consent_subjects.c.subject == subject)
        .with_for_update()
    )
    version = session.execute(query).scalar_one_or_none()
    if version is None:
        _insert_subject_if_missing(session, subject)
        version = session.execute(query).scalar_one()
    return version


def bump_version(session: Session, subject: str) -> None:
    """Increase the subject's version; call only while holding its lock."""
    session.execute(
        update(consent_subjects)
        .where(consent_subjects.c.subject == subject)
        .values(version=consent_subjects.c.version + 1)
    )


def _insert_subject_if_missing(session: Session, subject: str) -> None:
    # Two transactions may both find no row; the insert must then be a
    # no-op for the second one instead of failing its whole transaction.
    values = {"subject": subject, "version": 0}
    dialect = session.get_bind(clause=consent_subjects.select()).dialect.name
    if dialect == "postgresql":
        stmt = postgresql.insert(consent_subjects).values(values)
        session.execute(stmt.on_conflict_do_nothing(index_elements=["subject"]))
    elif dialect == "sqlite":
        stmt = sqlite.insert(consent_subjects).values(values)
        session.execute(stmt.on_conflict_do_nothing(index_elements=["subject"]))
    else:
        try:
            with session.begin_nested():
                session.execute(insert(consent_subjects).values(values))
        except IntegrityError:
            pass  # another transaction created it; the SELECT that follows locks it


# --- grants -----------------------------------------------------------------


def grant(
    *,
    session: Session,
    subject: str,
    recipient: str,
    source_kinds: Iterable[str],
    source_partners: Iterable[str],
    categories: Iterable[str],
    purpose: str,
    valid_until: datetime | None,
    now: datetime,
    provenance: Mapping[str, Any],
    request_id: str | None = None,
) -> ConsentGrant:
    """Record a new active consent, valid from ``now``, and return it.

    Locks the subject and bumps its version. Raises ConsentError if the
    consent is not specific enough to be valid: no category or an unknown
    one, no source at all (blanket consent), an empty recipient or purpose,
    a ``valid_until`` not after ``now``, or a provenance without a method.
    """
    require_aware("now", now)
    check_subject(subject)
    kinds = _names("source_kinds", source_kinds)
    partners = _names("source_partners", source_partners)
    cats = _names("categories", categories)
    if not cats:
        raise ConsentError("categories", "name at least one data category")
    unknown = sorted(cats - CATEGORIES)
    if unknown:
        raise ConsentError("categories", f"unknown category {unknown[0]!r}")
    if not kinds and not partners:
        # A grant without any source would match nothing (no blanket
        # consent); storing it would only mislead the resident.
        raise ConsentError("source", "name a partner kind or a partner")
    if not isinstance(recipient, str) or not recipient.strip():
        raise ConsentError("recipient", "must not be empty")
    if not isinstance(purpose, str) or not purpose.strip():
        raise ConsentError("purpose", "must not be empty")
    if valid_until is not None:
        if valid_until.tzinfo is None or valid_until.utcoffset() is None:
            raise ConsentError("valid_until", "must include a time zone")
        if valid_until <= now:
            raise ConsentError("valid_until", "must be later than now")
    check_provenance(provenance)

    lock_subject(session=session, subject=subject)
    record = insert_grant_row(
        session,
        subject=subject,
        recipient=recipient,
        source_kinds=kinds,
        source_partners=partners,
        categories=cats,
        purpose=purpose,
        valid_from=now,
        valid_until=valid_until,
        granted_at=now,
        status=GrantStatus.ACTIVE,
        provenance=provenance,
        request_id=request_id,
    )
    bump_version(session, subject)
    return record.to_grant()


def revoke(*, session: Session, subject: str, consent_id: str, now: datetime) -> ConsentGrant:
    """Revoke one of the subject's consents at ``now`` and return it.

    Only the subject's own consent can be revoked: any other id raises
    ConsentNotFound, whether it belongs to someone else or to nobody.
    Revoking an already revoked consent returns it unchanged. A refusal is
    not a consent and raises ConsentError. Locks the subject and bumps its
    version, so no decision for this resident can interleave.
    """
    require_aware("now", now)
    lock_subject(session=session, subject=subject)
    row = session.execute(
        select(consent_grants).where(
            consent_grants.c.id == consent_id, consent_grants.c.subject == subject
        )
    ).one_or_none()
    if row is None:
        raise ConsentNotFound(consent_id)
    record = grant_record(row)
    if record.status is GrantStatus.REVOKED:
        return record.to_grant()
    if record.status is GrantStatus.REFUSED:
        raise ConsentError("consent_id", "this is a refusal, there is no consent to revoke")
    session.execute(
        update(consent_grants)
        .where(consent_grants.c.id == consent_id)
        .values(status=GrantStatus.REVOKED.value, revoked_at=now)
    )
    bump_version(session, subject)
    return _load(session, consent_id).to_grant()


def consents_for(*, session: Session, subject: str) -> list[ConsentGrant]:
    """Return the subject's active consents (by status; the engine checks times).

    One query on the (subject, status) index. Only this subject's rows are
    returned, which is what :func:`consent.engine.decide` relies on.
    """
    rows = session.execute(
        select(consent_grants)
        .where(
            consent_grants.c.subject == subject,
            consent_grants.c.status == GrantStatus.ACTIVE.value,
        )
        .order_by(consent_grants.c.granted_at, consent_grants.c.id)
    ).all()
    return [grant_record(r).to_grant() for r in rows]


def list_grants(*, session: Session, subject: str) -> list[GrantRecord]:
    """Return every grant, revocation and refusal of the subject, newest first."""
    rows = session.execute(
        select(consent_grants)
        .where(consent_grants.c.subject == subject)
        .order_by(consent_grants.c.granted_at.desc(), consent_grants.c.id)
    ).all()
    return [grant_record(r) for r in rows]


# --- shared with consent.requests -------------------------------------------


def insert_grant_row(
    session: Session,
    *,
    subject: str,
    recipient: str,
    source_kinds: frozenset[str],
    source_partners: frozenset[str],
    categories: frozenset[str],
    purpose: str,
    valid_from: datetime,
    valid_until: datetime | None,
    granted_at: datetime,
    status: GrantStatus,
    provenance: Mapping[str, Any],
    request_id: str | None,
) -> GrantRecord:
    """Insert one grant row as given (no validation, no lock) and return it."""
    grant_id = str(uuid.uuid4())
    session.execute(
        insert(consent_grants).values(
            id=grant_id,
            subject=subject,
            recipient=recipient,
            # Sorted lists, so the stored JSON is stable and diffable.
            source_kinds=sorted(source_kinds),
            source_partners=sorted(source_partners),
            categories=sorted(categories),
            purpose=purpose,
            valid_from=valid_from,
            valid_until=valid_until,
            granted_at=granted_at,
            revoked_at=None,
            status=status.value,
            provenance=dict(provenance),
            request_id=request_id,
        )
    )
    return _load(session, grant_id)


def grant_record(row: Row[Any]) -> GrantRecord:
    """Convert a consent_grants row to its public record."""
    return GrantRecord(
        id=row.id,
        subject=row.subject,
        recipient=row.recipient,
        source_kinds=frozenset(row.source_kinds),
        source_partners=frozenset(row.source_partners),
        categories=frozenset(row.categories),
        purpose=row.purpose,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        granted_at=row.granted_at,
        revoked_at=row.revoked_at,
        status=GrantStatus(row.status),
        provenance=row.provenance,
        request_id=row.request_id,
    )


def check_subject(subject: str) -> None:
    """Raise ConsentError unless ``subject`` fits the pseudonym column."""
    if not isinstance(subject, str) or not subject or len(subject) > _SUBJECT_MAX:
        raise ConsentError("subject", f"must be a pseudonym of 1 to {_SUBJECT_MAX} characters")


def check_provenance(provenance: Mapping[str, Any]) -> None:
    """Raise ConsentError unless the provenance names how consent was given."""
    method = provenance.get("method") if isinstance(provenance, Mapping) else None
    if not isinstance(method, str) or not method.strip():
        raise ConsentError("provenance", "must name a method, e.g. 'portal' or 'paper_form'")


def _load(session: Session, grant_id: str) -> GrantRecord:
    row = session.execute(select(consent_grants).where(consent_grants.c.id == grant_id)).one()
    return grant_record(row)


def _names(field: str, values: Iterable[str]) -> frozenset[str]:
    if isinstance(values, str):
        # frozenset("wonen") would be a set of letters.
        raise ConsentError(field, "must be a list of names, not a single string")
    names = frozenset(values)
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise ConsentError(field, "every name must be a non-empty string")
    return names
