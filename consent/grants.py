"""The subject lock and the grants: record, change, revoke and read a resident's consents.

Every change of a consent (grant, re-scope, revocation, expiry, refusal)
appends a row to ``consent_versions`` and moves the ``consent_grants`` row
(the head, used for decisions) to that version; versions are never updated
or deleted.

Use these through :mod:`consent.registry`. Every function takes the caller's
SQLAlchemy ``Session`` and never commits.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from consent.errors import ConsentError, ConsentNotFound, IdempotencyConflict
from consent.model import CATEGORIES, ConsentGrant, require_aware, within_calendar
from consent.records import (
    Capacity,
    Change,
    ConsentVersion,
    GrantRecord,
    GrantStatus,
    Representation,
)
from consent.representation import check_representation
from consent.tables import consent_grants, consent_subjects, consent_versions

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
        # Imported here: a hub on SQLite (every `hub` command's start) never needs it.
        from sqlalchemy.dialects import postgresql

        stmt = postgresql.insert(consent_subjects).values(values)
        session.execute(stmt.on_conflict_do_nothing(index_elements=["subject"]))
    elif dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        stmt = sqlite.insert(consent_subjects).values(values)
        session.execute(stmt.on_conflict_do_nothing(index_elements=["subject"]))
    else:
        try:
            with session.begin_nested():
                session.execute(insert(consent_subjects).values(values))
        except IntegrityError:
            pass  # another transaction created it; the SELECT that follows locks it


# --- grants -----------------------------------------------------------------

# Marks "leave this as it is" in :func:`change`, where None is a meaningful
# value (no end date).
UNCHANGED: Any = object()

_PORTAL = {"method": "portal"}
_SYSTEM = {"method": "system"}


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
    representation: Representation | None = None,
    idempotency_key: str | None = None,
) -> ConsentGrant:
    """Record a new active consent, valid from ``now``, and return it.

    Locks the subject, bumps its version and writes version 1 of the
    consent's history. Raises ConsentError if the consent is not specific
    enough to be valid: no category or an unknown one, no source at all
    (blanket consent), an empty recipient or purpose, a ``valid_until`` not
    after ``now``, or a provenance without a method. With ``representation``
    (a representative acts), raises NotPermitted unless it may act for
    ``subject`` on every category now.

    Provenance is ``{"method": "portal"}`` for the resident portal, or
    ``{"method": "paper", "form_ref": ..., "recorded_by": ...}`` for a signed
    form recorded by a professional.

    With ``idempotency_key`` (1 to 100 characters), a second call with the
    same key for the same subject records nothing and returns the consent
    the first call made, in its current state (revoked stays revoked). The key
    is bound to what was asked and by whom (issue 13, item 9): the same key with
    another scope, provenance or representative raises IdempotencyConflict
    (409) and reveals nothing of the consent made with it.
    """
    require_aware("now", now)
    check_subject(subject)
    if idempotency_key is not None and (
        not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= 100
    ):
        raise ConsentError("idempotency_key", "must be 1 to 100 characters")
    kinds, partners, cats = _check_scope(
        recipient=recipient, source_kinds=source_kinds, source_partners=source_partners,
        categories=categories, purpose=purpose, valid_until=valid_until, now=now,
    )
    check_provenance(provenance)
    check_representation(representation, subject=subject, categories=cats, at=now)

    fingerprint = None
    if idempotency_key is not None:
        fingerprint = request_fingerprint(
            recipient=recipient, source_kinds=kinds, source_partners=partners, categories=cats,
            purpose=purpose, valid_until=valid_until, provenance=provenance,
            request_id=request_id, representation_id=representation.id if representation else None)
    lock_subject(session=session, subject=subject)
    if idempotency_key is not None:
        # Under the subject lock, so two retries racing cannot both insert.
        earlier = session.execute(select(consent_grants).where(
            consent_grants.c.subject == subject,
            consent_grants.c.idempotency_key == idempotency_key,
        )).one_or_none()
        if earlier is not None:
            if _earlier_fingerprint(session, earlier) != fingerprint:
                raise IdempotencyConflict(
                    "Idempotency-Key", "was used before for another request")
            return grant_record(earlier).to_grant()
    expire_due(session=session, subject=subject, now=now)
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
        representation=representation,
        idempotency_key=idempotency_key,
        idempotency_hash=fingerprint,
    )
    bump_version(session, subject)
    return record.to_grant()


def request_fingerprint(*, recipient: str, source_kinds: Iterable[str],
                        source_partners: Iterable[str], categories: Iterable[str], purpose: str,
                        valid_until: datetime | None, provenance: Mapping[str, Any],
                        request_id: str | None, representation_id: str | None) -> str:
    """SHA-256 over everything a grant asks and who asks it, stable across retries.

    Sets are sorted and times normalised to UTC, so the same request always gives
    the same hash; the provenance (portal, or a paper form and its recorder) and the
    representation name the actor.
    """
    body = {
        "recipient": recipient, "source_kinds": sorted(source_kinds),
        "source_partners": sorted(source_partners), "categories": sorted(categories),
        "purpose": purpose,
        "valid_until": valid_until.astimezone(UTC).isoformat() if valid_until else None,
        "provenance": dict(provenance), "request_id": request_id,
        "representation_id": representation_id,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _earlier_fingerprint(session: Session, earlier: Row[Any]) -> str:
    if earlier.idempotency_hash is not None:
        return earlier.idempotency_hash
    # A grant stored before the hash existed: its first version is what was asked.
    first = session.execute(select(consent_versions).where(
        consent_versions.c.consent_id == earlier.id, consent_versions.c.version == 1)).one()
    return request_fingerprint(
        recipient=first.recipient, source_kinds=first.source_kinds,
        source_partners=first.source_partners, categories=first.categories,
        purpose=first.purpose, valid_until=first.valid_until, provenance=first.provenance,
        request_id=earlier.request_id, representation_id=first.representation_id)


def revoke(
    *,
    session: Session,
    subject: str,
    consent_id: str,
    now: datetime,
    provenance: Mapping[str, Any] | None = None,
    representation: Representation | None = None,
) -> ConsentGrant:
    """Revoke one of the subject's consents at ``now`` and return it.

    Only the subject's own consent can be revoked: any other id raises
    ConsentNotFound, whether it belongs to someone else or to nobody.
    Revoking an already revoked (or expired) consent returns it unchanged and
    writes nothing, so a retried or replayed revocation is harmless and a
    revocation is never moved or undone. A refusal is not a consent and
    raises ConsentError. A representative (``representation``) may revoke
    only a consent whose categories all lie within their capacity
    (NotPermitted otherwise). Locks the subject, bumps its version and
    writes a new version, so no decision for this resident can interleave.
    """
    require_aware("now", now)
    lock_subject(session=session, subject=subject)
    expire_due(session=session, subject=subject, now=now)
    record = _own(session, subject, consent_id)
    check_representation(representation, subject=subject, categories=record.categories, at=now)
    if record.status in (GrantStatus.REVOKED, GrantStatus.EXPIRED):
        return record.to_grant()
    if record.status is GrantStatus.REFUSED:
        raise ConsentError("consent_id", "this is a refusal, there is no consent to revoke")
    _new_version(
        session, record, Change.REVOKED, now,
        provenance=_PORTAL if provenance is None else provenance,
        representation=representation,
        status=GrantStatus.REVOKED.value, revoked_at=now,
    )
    bump_version(session, subject)
    return _load(session, consent_id).to_grant()


def change(
    *,
    session: Session,
    subject: str,
    consent_id: str,
    now: datetime,
    source_kinds: Iterable[str] = UNCHANGED,
    source_partners: Iterable[str] = UNCHANGED,
    categories: Iterable[str] = UNCHANGED,
    purpose: str = UNCHANGED,
    valid_until: datetime | None = UNCHANGED,
    provenance: Mapping[str, Any] | None = None,
    representation: Representation | None = None,
) -> GrantRecord:
    """Change the scope or period of an active consent: a new version, nothing overwritten.

    Arguments left out keep their value. The new scope is checked like a
    new grant (ConsentError naming the field). Only an active consent can be
    changed: a revoked, expired or refused one raises ConsentError("status",
    ...), because a revocation must never be undone by a later change; give
    a new consent instead. A representative must be allowed both the old and
    the new categories (NotPermitted). Locks the subject and bumps its
    version. Returns the new head record.
    """
    require_aware("now", now)
    lock_subject(session=session, subject=subject)
    expire_due(session=session, subject=subject, now=now)
    record = _own(session, subject, consent_id)
    if record.status is not GrantStatus.ACTIVE:
        raise ConsentError("status", f"a consent that is {record.status.value} cannot be changed")
    kinds, partners, cats = _check_scope(
        recipient=record.recipient,
        source_kinds=record.source_kinds if source_kinds is UNCHANGED else source_kinds,
        source_partners=(record.source_partners if source_partners is UNCHANGED
                         else source_partners),
        categories=record.categories if categories is UNCHANGED else categories,
        purpose=record.purpose if purpose is UNCHANGED else purpose,
        valid_until=record.valid_until if valid_until is UNCHANGED else valid_until,
        now=now,
    )
    provenance = _PORTAL if provenance is None else provenance
    check_provenance(provenance)
    check_representation(representation, subject=subject,
                         categories=record.categories | cats, at=now)
    _new_version(
        session, record, Change.CHANGED, now, provenance=provenance,
        representation=representation,
        source_kinds=sorted(kinds), source_partners=sorted(partners), categories=sorted(cats),
        purpose=record.purpose if purpose is UNCHANGED else purpose,
        valid_until=record.valid_until if valid_until is UNCHANGED else valid_until,
    )
    bump_version(session, subject)
    return _load(session, consent_id)


def expire_due(*, session: Session, subject: str, now: datetime) -> int:
    """Write the "expired" version of each active consent of the subject past its end.

    Call only while holding the subject's lock. The version is dated at the
    consent's ``valid_until``, the moment it really ended. Correctness never
    waits for this: the engine compares ``valid_until`` itself, so nothing
    flows on an expired consent even before this runs. Returns how many
    consents it marked.
    """
    rows = session.execute(
        select(consent_grants).where(
            consent_grants.c.subject == subject,
            consent_grants.c.status == GrantStatus.ACTIVE.value,
            consent_grants.c.valid_until.is_not(None),
            consent_grants.c.valid_until <= now,
        ).order_by(consent_grants.c.id)
    ).all()
    for row in rows:
        record = grant_record(row)
        _new_version(session, record, Change.EXPIRED, record.valid_until, provenance=_SYSTEM,
                     representation=None, status=GrantStatus.EXPIRED.value)
    if rows:
        bump_version(session, subject)
    return len(rows)


def subjects_with_expired(*, session: Session, now: datetime) -> list[str]:
    """Subjects that have an active consent past its end (for a sweep: ``hub retention run``)."""
    return list(session.execute(
        select(consent_grants.c.subject).where(
            consent_grants.c.status == GrantStatus.ACTIVE.value,
            consent_grants.c.valid_until.is_not(None),
            consent_grants.c.valid_until <= now,
        ).distinct().order_by(consent_grants.c.subject)
    ).scalars())


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


def get_grant(*, session: Session, subject: str, consent_id: str) -> GrantRecord:
    """One of the subject's consents as it is now; ConsentNotFound for any other id."""
    return _own(session, subject, consent_id)


def list_versions(*, session: Session, subject: str, consent_id: str) -> list[ConsentVersion]:
    """Every version of one of the subject's consents, oldest (version 1) first.

    Raises ConsentNotFound for an id that is not the subject's.
    """
    _own(session, subject, consent_id)
    rows = session.execute(
        select(consent_versions)
        .where(consent_versions.c.consent_id == consent_id)
        .order_by(consent_versions.c.version)
    ).all()
    return [
        ConsentVersion(
            consent_id=r.consent_id, version=r.version, change=Change(r.change),
            changed_at=r.changed_at, status=GrantStatus(r.status), recipient=r.recipient,
            source_kinds=frozenset(r.source_kinds), source_partners=frozenset(r.source_partners),
            categories=frozenset(r.categories), purpose=r.purpose, valid_from=r.valid_from,
            valid_until=r.valid_until, revoked_at=r.revoked_at, provenance=r.provenance,
            representation_id=r.representation_id,
            capacity=Capacity(r.capacity) if r.capacity else None,
        )
        for r in rows
    ]


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
    representation: Representation | None = None,
    idempotency_key: str | None = None,
    idempotency_hash: str | None = None,
) -> GrantRecord:
    """Insert one grant row as given (no validation, no lock) with its first version."""
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
            version=1,
            changed_at=granted_at,
            representation_id=representation.id if representation else None,
            capacity=representation.capacity.value if representation else None,
            idempotency_key=idempotency_key,
            idempotency_hash=idempotency_hash,
        )
    )
    record = _load(session, grant_id)
    first = Change.REFUSED if status is GrantStatus.REFUSED else Change.GRANTED
    _insert_version(session, record, first)
    return record


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
        version=row.version,
        changed_at=row.changed_at,
        representation_id=row.representation_id,
        capacity=Capacity(row.capacity) if row.capacity else None,
    )


def has_control_characters(text: str) -> bool:
    """True if ``text`` holds a control character other than tab and newline.

    PostgreSQL refuses NUL in text outright (the request would fail), and no
    resident types the others; refusing them keeps both databases alike.
    """
    return any((ord(c) < 32 and c not in "\t\n\r") or ord(c) == 127 for c in text)


def check_subject(subject: str) -> None:
    """Raise ConsentError unless ``subject`` fits the pseudonym column."""
    if not isinstance(subject, str) or not subject or len(subject) > _SUBJECT_MAX:
        raise ConsentError("subject", f"must be a pseudonym of 1 to {_SUBJECT_MAX} characters")


def check_provenance(provenance: Mapping[str, Any]) -> None:
    """Raise ConsentError unless the provenance says how the consent was given.

    It must name a ``method`` (e.g. "portal"); a paper consent
    (``"method": "paper"``) must also name the signed form (``form_ref``)
    and the professional who recorded it (``recorded_by``), so it can be
    traced back to the paper at the wijkinformatiepunt.
    """
    method = provenance.get("method") if isinstance(provenance, Mapping) else None
    if not isinstance(method, str) or not method.strip():
        raise ConsentError("provenance", "must name a method, e.g. 'portal' or 'paper'")
    if method == "paper":
        for key in ("form_ref", "recorded_by"):
            value = provenance.get(key)
            if not isinstance(value, str) or not value.strip():
                raise ConsentError(f"provenance.{key}", "a paper consent must name it")


def _own(session: Session, subject: str, consent_id: str) -> GrantRecord:
    row = session.execute(
        select(consent_grants).where(
            consent_grants.c.id == consent_id, consent_grants.c.subject == subject
        )
    ).one_or_none()
    if row is None:
        raise ConsentNotFound(consent_id)
    return grant_record(row)


def _new_version(
    session: Session,
    record: GrantRecord,
    change: Change,
    at: datetime,
    *,
    provenance: Mapping[str, Any],
    representation: Representation | None,
    **values: Any,
) -> None:
    # Move the head to the next version, then append that version. The
    # WHERE on the version number makes a lost update impossible even if a
    # caller forgot the subject lock: the second writer changes no row.
    result = session.execute(
        update(consent_grants)
        .where(consent_grants.c.id == record.id, consent_grants.c.version == record.version)
        .values(
            version=record.version + 1, changed_at=at, provenance=dict(provenance),
            representation_id=representation.id if representation else None,
            capacity=representation.capacity.value if representation else None,
            **values,
        )
    )
    if result.rowcount != 1:
        raise RuntimeError("consent changed concurrently; take the subject lock first")
    _insert_version(session, _load(session, record.id), change)


def _insert_version(session: Session, record: GrantRecord, change: Change) -> None:
    session.execute(
        insert(consent_versions).values(
            consent_id=record.id, version=record.version, subject=record.subject,
            change=change.value, changed_at=record.changed_at or record.granted_at,
            status=record.status.value, recipient=record.recipient,
            source_kinds=sorted(record.source_kinds),
            source_partners=sorted(record.source_partners),
            categories=sorted(record.categories), purpose=record.purpose,
            valid_from=record.valid_from, valid_until=record.valid_until,
            revoked_at=record.revoked_at, provenance=dict(record.provenance),
            representation_id=record.representation_id,
            capacity=record.capacity.value if record.capacity else None,
        )
    )


def _check_scope(
    *,
    recipient: str,
    source_kinds: Iterable[str],
    source_partners: Iterable[str],
    categories: Iterable[str],
    purpose: str,
    valid_until: datetime | None,
    now: datetime,
) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
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
    if has_control_characters(purpose):
        raise ConsentError("purpose", "must not contain control characters")
    if valid_until is not None:
        if valid_until.tzinfo is None or valid_until.utcoffset() is None:
            raise ConsentError("valid_until", "must include a time zone")
        if valid_until <= now:
            raise ConsentError("valid_until", "must be later than now")
        if not within_calendar(valid_until):
            raise ConsentError("valid_until", "is outside the dates the hub can store")
    return kinds, partners, cats


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
        if has_control_characters(name):
            raise ConsentError(field, "names must not contain control characters")
    return names
