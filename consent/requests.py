"""Consent requests: asking the resident, and turning the answer into a grant or a refusal.

Use these through :mod:`consent.registry`. Every function takes the caller's
SQLAlchemy ``Session`` and never commits.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.orm import Session

from consent import explain
from consent.errors import ConsentError, RequestNotFound
from consent.grants import (
    bump_version,
    check_provenance,
    grant,
    insert_grant_row,
    lock_subject,
)
from consent.model import CATEGORIES, DEFAULT_RECIPIENT, ConsentGrant, MessageFacts, require_aware
from consent.records import ConsentRequest, GrantStatus, Representation, RequestStatus
from consent.representation import check_representation
from consent.sharing import is_share, share_request_text
from consent.tables import consent_requests

# Purpose of a grant made by answering a request; residents read it.
REQUEST_PURPOSE = "ondersteuning door het wijkteam"

_PORTAL = {"method": "portal"}


def open_request(
    *,
    session: Session,
    subject: str,
    facts: MessageFacts,
    topic: str,
    now: datetime,
    ttl_days: int = 30,
    purpose: str | None = None,
    recipient_name: str | None = None,
) -> ConsentRequest:
    """Ask the resident for consent for a held message; return the (merged) request.

    ``topic`` is the Dutch noun for the message (e.g. "huurachterstand").
    If a pending, unexpired request for the same partner and category
    exists, the topic is added to it and its expiry extended, so there is
    at most one open question per partner and category, not one per
    message. Runs under the subject lock; no version bump, because an open
    question changes no decision.

    With ``purpose`` ``plan.share`` (issue 17) the question is whether an
    agreement of the plan (``facts.source_partner``) may go to a partner
    (``facts.recipient``, named ``recipient_name``); approving it grants exactly that.
    """
    require_aware("now", now)
    if not isinstance(topic, str) or not topic.strip():
        raise ConsentError("topic", "must not be empty")
    if isinstance(ttl_days, bool) or not isinstance(ttl_days, int) or ttl_days <= 0:
        raise ConsentError("ttl_days", "must be a positive whole number")
    if facts.category not in CATEGORIES:
        raise ConsentError("category", f"unknown category {facts.category!r}")
    sharing = is_share(facts.recipient, purpose)
    if facts.recipient != DEFAULT_RECIPIENT and not sharing:
        # An approved request becomes a grant to the wijkteam; asking on
        # behalf of another recipient would grant something not asked for.
        raise ConsentError("recipient", "requests are only made for the wijkteam")
    if sharing and (not isinstance(recipient_name, str) or not recipient_name.strip()):
        raise ConsentError("recipient_name", "name the partner the agreement goes to")

    topic = topic.strip()
    expires_at = now + timedelta(days=ttl_days)
    lock_subject(session=session, subject=subject)
    _expire_stale(session, subject, now)

    row = session.execute(
        select(consent_requests)
        .where(
            consent_requests.c.subject == subject,
            consent_requests.c.source_partner == facts.source_partner,
            consent_requests.c.category == facts.category,
            consent_requests.c.recipient == facts.recipient,
            consent_requests.c.status == RequestStatus.PENDING.value,
        )
        .order_by(consent_requests.c.created_at, consent_requests.c.id)
        .limit(1)
    ).one_or_none()

    if row is not None:
        topics = list(row.topics)
        if topic not in topics:
            topics.append(topic)
        session.execute(
            update(consent_requests)
            .where(consent_requests.c.id == row.id)
            .values(
                topics=topics,
                text=(share_request_text(partner_name=recipient_name) if sharing
                      else _question(row.source_name, topics, row.category)),
                updated_at=now,
                expires_at=max(row.expires_at, expires_at),
            )
        )
        return _load(session, row.id)

    request_id = str(uuid.uuid4())
    session.execute(
        insert(consent_requests).values(
            id=request_id,
            subject=subject,
            source_partner=facts.source_partner,
            source_kind=facts.source_kind,
            source_name=facts.source_name,
            category=facts.category,
            topics=[topic],
            status=RequestStatus.PENDING.value,
            created_at=now,
            updated_at=now,
            expires_at=expires_at,
            text=(share_request_text(partner_name=recipient_name) if sharing
                  else _question(facts.source_name, [topic], facts.category)),
            recipient=facts.recipient,
            purpose=purpose if sharing else None,
        )
    )
    return _load(session, request_id)


def answered_no(*, session: Session, subject: str, facts: MessageFacts) -> bool:
    """True if the resident denied a request for exactly this source, recipient and
    category: then the same question is not asked again (a "no" is an answer, issue 17)."""
    return session.execute(
        select(consent_requests.c.id).where(
            consent_requests.c.subject == subject,
            consent_requests.c.source_partner == facts.source_partner,
            consent_requests.c.recipient == facts.recipient,
            consent_requests.c.category == facts.category,
            consent_requests.c.status == RequestStatus.DENIED.value,
        ).limit(1)
    ).first() is not None


def list_requests(*, session: Session, subject: str, now: datetime) -> list[ConsentRequest]:
    """Return the subject's requests, newest first, after marking expired ones expired."""
    require_aware("now", now)
    _expire_stale(session, subject, now)
    rows = session.execute(
        select(consent_requests)
        .where(consent_requests.c.subject == subject)
        .order_by(consent_requests.c.created_at.desc(), consent_requests.c.id)
    ).all()
    return [_request(r) for r in rows]


def get_request(
    *, session: Session, subject: str, request_id: str, now: datetime | None = None
) -> ConsentRequest:
    """Return one of the subject's requests, or raise RequestNotFound.

    With ``now``, a pending request past its expiry is reported as expired
    (nothing is written).
    """
    row = session.execute(
        select(consent_requests).where(
            consent_requests.c.id == request_id, consent_requests.c.subject == subject
        )
    ).one_or_none()
    if row is None:
        raise RequestNotFound(request_id)
    request = _request(row)
    if now is not None and request.status is RequestStatus.PENDING and request.expires_at <= now:
        request = dataclasses.replace(request, status=RequestStatus.EXPIRED)
    return request


def approve_request(
    *,
    session: Session,
    subject: str,
    request_id: str,
    now: datetime,
    provenance: Mapping[str, Any] | None = None,
    representation: Representation | None = None,
) -> ConsentGrant:
    """Approve a pending request: grant exactly what was asked, for one year.

    The grant is scoped to that one partner and that one category, for the
    wijkteam, with purpose "ondersteuning door het wijkteam" (or, for a
    ``plan.share`` request, to that agreement, for that partner), provenance
    ``{"method": "portal"}`` unless given. Raises RequestNotFound for
    another subject's request and ConsentError("status", ...) if it is no
    longer pending (answered before, or expired). A representative
    (``representation``) may answer only within their capacity
    (NotPermitted).
    """
    require_aware("now", now)
    provenance = _PORTAL if provenance is None else provenance
    request = _pending_request(session, subject, request_id, now)
    check_representation(representation, subject=subject, categories=[request.category], at=now)
    _set_status(session, request, RequestStatus.APPROVED, now)
    return grant(
        session=session,
        subject=subject,
        recipient=request.recipient,
        source_kinds=(),
        source_partners=(request.source_partner,),
        categories=(request.category,),
        purpose=request.purpose or REQUEST_PURPOSE,
        valid_until=_one_year_after(now),
        now=now,
        provenance=provenance,
        request_id=request.id,
        representation=representation,
    )


def deny_request(
    *,
    session: Session,
    subject: str,
    request_id: str,
    now: datetime,
    provenance: Mapping[str, Any] | None = None,
    representation: Representation | None = None,
) -> ConsentRequest:
    """Deny a pending request and keep the "no" as a refused grant row.

    The refusal keeps the history whole but never matches: its status is
    "refused" and its validity period is empty (valid_until == valid_from).
    Returns the denied request. Same errors as :func:`approve_request`.
    """
    require_aware("now", now)
    provenance = _PORTAL if provenance is None else provenance
    check_provenance(provenance)
    request = _pending_request(session, subject, request_id, now)
    check_representation(representation, subject=subject, categories=[request.category], at=now)
    _set_status(session, request, RequestStatus.DENIED, now)
    insert_grant_row(
        session,
        subject=subject,
        recipient=request.recipient,
        source_kinds=frozenset(),
        source_partners=frozenset({request.source_partner}),
        categories=frozenset({request.category}),
        purpose=request.purpose or REQUEST_PURPOSE,
        valid_from=now,
        valid_until=now,
        granted_at=now,
        status=GrantStatus.REFUSED,
        provenance=provenance,
        request_id=request.id,
        representation=representation,
    )
    bump_version(session, subject)
    return _load(session, request.id)


def _pending_request(
    session: Session, subject: str, request_id: str, now: datetime
) -> ConsentRequest:
    lock_subject(session=session, subject=subject)
    request = get_request(session=session, subject=subject, request_id=request_id, now=now)
    if request.status is not RequestStatus.PENDING:
        raise ConsentError("status", "request is no longer pending")
    return request


def _set_status(
    session: Session, request: ConsentRequest, status: RequestStatus, now: datetime
) -> None:
    # Conditional on still being pending and unexpired, so a concurrent
    # expiry sweep (which takes no subject lock) is never overwritten.
    result = session.execute(
        update(consent_requests)
        .where(
            consent_requests.c.id == request.id,
            consent_requests.c.status == RequestStatus.PENDING.value,
            consent_requests.c.expires_at > now,
        )
        .values(status=status.value, updated_at=now)
    )
    if result.rowcount != 1:
        raise ConsentError("status", "request is no longer pending")


def _expire_stale(session: Session, subject: str, now: datetime) -> None:
    # One conditional UPDATE: safe without the subject lock, because it only
    # ever moves pending rows past their expiry to expired.
    session.execute(
        update(consent_requests)
        .where(
            consent_requests.c.subject == subject,
            consent_requests.c.status == RequestStatus.PENDING.value,
            consent_requests.c.expires_at <= now,
        )
        .values(status=RequestStatus.EXPIRED.value, updated_at=now)
    )


def _question(source_name: str, topics: Sequence[str], category: str) -> str:
    return explain.request_text(
        source_name=source_name, topics=topics, category=category, recipient=DEFAULT_RECIPIENT
    )


def _one_year_after(now: datetime) -> datetime:
    try:
        return now.replace(year=now.year + 1)
    except ValueError:
        # 29 February: end on 28 February rather than run into March.
        return now.replace(year=now.year + 1, day=28)


def _load(session: Session, request_id: str) -> ConsentRequest:
    row = session.execute(select(consent_requests).where(consent_requests.c.id == request_id)).one()
    return _request(row)


def _request(row: Row[Any]) -> ConsentRequest:
    return ConsentRequest(
        id=row.id,
        subject=row.subject,
        source_partner=row.source_partner,
        source_kind=row.source_kind,
        source_name=row.source_name,
        category=row.category,
        topics=tuple(row.topics),
        status=RequestStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        expires_at=row.expires_at,
        text=row.text,
        recipient=row.recipient,
        purpose=row.purpose,
    )
