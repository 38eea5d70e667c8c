"""The hub's side of consent: what follows in the message flow when a resident decides.

The registry itself (``consent/``) knows nothing of messages. Here a grant or an
approval puts the resident's held messages back on the queue, to be decided
again; a denial closes them. Revocation needs nothing here: the worker decides
every queued message at the moment it routes it, and every read re-checks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent import registry
from consent.model import ConsentGrant
from hub.core.ingest import enqueue
from hub.core.models import Message


def requeue_held(*, session: Session, subject: str, now: datetime,
                 request_id: str | None = None) -> int:
    """Put the resident's held messages (of one request, or all) back on the queue."""
    stmt = select(Message).where(Message.subject == subject, Message.status == "held")
    if request_id is not None:
        stmt = stmt.where(Message.request_id == request_id)
    count = 0
    for message in session.scalars(stmt):
        enqueue(session=session, message_id=message.id, now=now)
        count += 1
    return count


def grant(*, session: Session, subject: str, now: datetime, provenance: dict[str, Any],
          **scope: Any) -> ConsentGrant:
    """Record a consent and re-decide the resident's held messages in the same transaction."""
    consent = registry.grant(session=session, subject=subject, now=now, provenance=provenance,
                             **scope)
    requeue_held(session=session, subject=subject, now=now)
    return consent


def approve_request(*, session: Session, subject: str, request_id: str,
                    now: datetime) -> ConsentGrant:
    """Approve a consent request: a consent scoped to it, and its messages re-decided."""
    consent = registry.approve_request(session=session, subject=subject, request_id=request_id,
                                       now=now)
    requeue_held(session=session, subject=subject, now=now, request_id=request_id)
    return consent


def deny_request(*, session: Session, subject: str, request_id: str, now: datetime) -> int:
    """Deny a consent request: its held messages are closed; returns how many."""
    registry.deny_request(session=session, subject=subject, request_id=request_id, now=now)
    closed = 0
    for message in session.scalars(select(Message).where(
            Message.subject == subject, Message.status == "held",
            Message.request_id == request_id)):
        message.status = "closed"
        closed += 1
    return closed
