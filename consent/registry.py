"""The consent registry: the one entry point the hub uses for stored consent.

Every function takes the caller's SQLAlchemy ``Session`` and never commits:
the caller owns the transaction, so a consent change, the stored message
and its outbox rows commit or roll back together.

Concurrency: a grant, a revocation and an answer to a request first lock
the subject's row in ``consent_subjects`` (:func:`lock_subject`) and bump
its version. The hub takes the same lock before deciding on a message, so
a decision never interleaves with a revocation for the same resident.

The functions live in :mod:`consent.grants` (grants and their version
history), :mod:`consent.requests` and :mod:`consent.representation` (who may
act for whom); decisions are stored here.
"""

from __future__ import annotations

import uuid

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from consent.errors import ConsentError, ConsentNotFound, NotFound, RequestNotFound
from consent.grants import (
    UNCHANGED,
    change,
    consents_for,
    expire_due,
    get_grant,
    grant,
    list_grants,
    list_versions,
    lock_subject,
    revoke,
    subjects_with_expired,
)
from consent.model import BasisKind, Decision, Outcome
from consent.records import (
    Capacity,
    Change,
    ConsentRequest,
    ConsentVersion,
    GrantRecord,
    GrantStatus,
    Representation,
    RequestStatus,
)
from consent.representation import (
    NotPermitted,
    RepresentationNotFound,
    add_representation,
    capacity_allows,
    end_representation,
    find_representation,
    get_representation,
    list_representations,
    may_act_for,
)
from consent.requests import (
    REQUEST_PURPOSE,
    answered_no,
    approve_request,
    deny_request,
    get_request,
    list_requests,
    open_request,
)
from consent.tables import consent_decisions

__all__ = [
    "REQUEST_PURPOSE",
    "UNCHANGED",
    "Capacity",
    "Change",
    "ConsentError",
    "ConsentNotFound",
    "ConsentRequest",
    "ConsentVersion",
    "GrantRecord",
    "GrantStatus",
    "NotFound",
    "NotPermitted",
    "Representation",
    "RepresentationNotFound",
    "RequestNotFound",
    "RequestStatus",
    "add_representation",
    "answered_no",
    "approve_request",
    "capacity_allows",
    "change",
    "consents_for",
    "decisions_for",
    "deny_request",
    "end_representation",
    "expire_due",
    "find_representation",
    "get_grant",
    "get_representation",
    "get_request",
    "grant",
    "list_grants",
    "list_representations",
    "list_requests",
    "list_versions",
    "lock_subject",
    "may_act_for",
    "open_request",
    "record_decision",
    "revoke",
    "subjects_with_expired",
]


def record_decision(
    *, session: Session, message_id: str, subject: str | None, decision: Decision
) -> None:
    """Store a decision with its basis, fields and reason, in the caller's transaction."""
    session.execute(
        insert(consent_decisions).values(
            id=str(uuid.uuid4()),
            message_id=message_id,
            subject=subject,
            outcome=Outcome(decision.outcome).value,
            basis=BasisKind(decision.basis).value,
            basis_ref=decision.basis_ref,
            fields=None if decision.fields is None else list(decision.fields),
            reason=decision.reason,
            retention_days=decision.retention_days,
            decided_at=decision.decided_at,
        )
    )


def decisions_for(*, session: Session, message_id: str) -> list[Decision]:
    """Return every decision stored for a message, oldest first, as recorded."""
    rows = session.execute(
        select(consent_decisions)
        .where(consent_decisions.c.message_id == message_id)
        .order_by(consent_decisions.c.decided_at, consent_decisions.c.id)
    ).all()
    return [
        Decision(
            outcome=Outcome(r.outcome),
            basis=BasisKind(r.basis),
            basis_ref=r.basis_ref,
            fields=None if r.fields is None else tuple(r.fields),
            reason=r.reason,
            decided_at=r.decided_at,
            retention_days=r.retention_days,
        )
        for r in rows
    ]
