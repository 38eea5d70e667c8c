"""The hub's side of consent: what follows in the message flow when a resident decides.

The registry itself (``consent/``) knows nothing of messages. Here a grant, a
widening change or an approval puts the resident's held messages back on the
queue, to be decided again; a denial closes them; a narrowing change re-checks
what the regisseur already has. Revocation needs nothing here: the worker
decides every queued message at the moment it routes it, and every read
re-checks.

Every function takes an optional ``representation``: set when a representative
acts for the resident; the registry then holds them to their capacity.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from consent import registry
from consent.errors import ConsentError
from consent.model import ConsentGrant
from consent.records import GrantRecord, Representation
from consent.sharing import PLAN_SHARE_PURPOSE
from consent.tables import consent_requests
from hub.core.context import HubContext
from hub.core.inbox import recheck
from hub.core.ingest import enqueue
from hub.core.models import Message, Partner
from hub.core.outbound import announce_status
from hub.core.plan_sharing import release_for_subject


def requeue_held(*, session: Session, subject: str, now: datetime,
                 request_id: str | None = None) -> int:
    """Put the resident's held messages (of one request, or all) back on the queue.

    For a request, the messages held under earlier requests for the same
    partner and category (which expired unanswered) go back too: the answer
    is about that partner and that kind of data, not about one question.
    """
    stmt = select(Message).where(Message.subject == subject, Message.status == "held")
    if request_id is not None:
        asked = session.execute(select(consent_requests.c.source_partner,
                                       consent_requests.c.category)
                                .where(consent_requests.c.id == request_id)).one()
        same = select(consent_requests.c.id).where(
            consent_requests.c.subject == subject,
            consent_requests.c.source_partner == asked.source_partner,
            consent_requests.c.category == asked.category)
        stmt = stmt.where(or_(Message.request_id == request_id, Message.request_id.in_(same)))
    count = 0
    for message in session.scalars(stmt):
        enqueue(session=session, message_id=message.id, now=now)
        count += 1
    return count


def check_sources(*, session: Session, ctx: HubContext, scope: dict[str, Any]) -> None:
    """Raise ConsentError naming the entry unless every source in ``scope`` can ever match.

    A misspelled kind ("woningcorporatei") or an unknown partner id would be a
    consent that never lets anything through while the resident believes it does
    (issue 13, item 17): ``source_kinds`` must be kinds a loaded plugin serves,
    ``source_partners`` ids of registered partners. Entries that are not strings
    are left to the registry, which names them.
    """
    kinds = scope.get("source_kinds")
    if isinstance(kinds, list | tuple):
        known = known_partner_kinds(ctx)
        for i, kind in enumerate(kinds):
            if isinstance(kind, str) and kind not in known:
                raise ConsentError(f"source_kinds[{i}]", "no plugin serves partners of this "
                                   f"kind; known kinds: {', '.join(sorted(known))}")
    partners = scope.get("source_partners")
    if isinstance(partners, list | tuple):
        # Only what could be a partner id is looked up: PostgreSQL refuses a NUL in a
        # query parameter, and no id is longer than a UUID.
        wanted = [p for p in partners
                  if isinstance(p, str) and len(p) <= 36 and "\x00" not in p]
        found = set(session.scalars(select(Partner.id).where(Partner.id.in_(wanted)))) \
            if wanted else set()
        for i, partner_id in enumerate(partners):
            if isinstance(partner_id, str) and partner_id not in found:
                raise ConsentError(f"source_partners[{i}]", "no partner with this id")


def known_partner_kinds(ctx: HubContext) -> frozenset[str]:
    """Every partner kind a loaded plugin serves (the kinds ``hub partner add`` accepts)."""
    return frozenset(k for mt in ctx.plugins.catalog.types.values() for k in mt.partner_kinds)


def grant(*, session: Session, ctx: HubContext, subject: str, now: datetime,
          provenance: dict[str, Any], representation: Representation | None = None,
          idempotency_key: str | None = None, **scope: Any) -> ConsentGrant:
    """Record a consent and re-decide the resident's held messages in the same transaction.

    ``scope`` is the keyword arguments of :func:`consent.registry.grant`
    (recipient, source_kinds, source_partners, categories, purpose,
    valid_until): exactly the fields of ``hub.api.schemas.ConsentCreate``, so
    ``**body.model_dump()`` fits. A paper consent is this call with provenance
    ``{"method": "paper", "form_ref": ..., "recorded_by": ...}`` (and, to make a
    form recorded twice one consent, ``idempotency_key=f"paper:{form_ref}"``).
    Raises consent.errors.ConsentError (422, naming the field; also for a source
    kind or partner that does not exist, see :func:`check_sources`) or NotPermitted
    (403) for a representative outside their capacity.
    """
    check_sources(session=session, ctx=ctx, scope=scope)
    consent = registry.grant(session=session, subject=subject, now=now, provenance=provenance,
                             representation=representation, idempotency_key=idempotency_key,
                             **scope)
    requeue_held(session=session, subject=subject, now=now)
    return consent


def change(*, session: Session, ctx: HubContext, subject: str, consent_id: str, now: datetime,
           provenance: dict[str, Any] | None = None,
           representation: Representation | None = None, **scope: Any) -> GrantRecord:
    """Re-scope a consent (a new version) and let it take effect in the same transaction.

    What the regisseur already has under it is decided again at once (cut
    down, or hidden), and held messages are re-decided (a wider scope may
    release them).
    """
    check_sources(session=session, ctx=ctx, scope=scope)
    record = registry.change(session=session, subject=subject, consent_id=consent_id, now=now,
                             provenance=provenance, representation=representation, **scope)
    recheck(session=session, ctx=ctx, now=now, subject=subject)
    requeue_held(session=session, subject=subject, now=now)
    return record


def revoke(*, session: Session, ctx: HubContext, subject: str, consent_id: str, now: datetime,
           representation: Representation | None = None) -> ConsentGrant:
    """Revoke a consent; what the regisseur has under it is decided again at once.

    The read-time re-check would catch it anyway; doing it here as well makes
    the inbox right even for a reader that does not re-check.
    """
    consent = registry.revoke(session=session, subject=subject, consent_id=consent_id, now=now,
                              representation=representation)
    recheck(session=session, ctx=ctx, now=now, subject=subject)
    return consent


def approve_request(*, session: Session, subject: str, request_id: str, now: datetime,
                    representation: Representation | None = None,
                    ctx: HubContext | None = None) -> ConsentGrant:
    """Approve a consent request: a consent scoped to it, and its messages re-decided.

    With ``ctx``, a plan agreement the consent now lets through is sent at once (issue 17).
    """
    consent = registry.approve_request(session=session, subject=subject, request_id=request_id,
                                       now=now, representation=representation)
    requeue_held(session=session, subject=subject, now=now, request_id=request_id)
    if ctx is not None and consent.purpose == PLAN_SHARE_PURPOSE:
        release_for_subject(session=session, ctx=ctx, subject=subject, now=now)
    return consent


def deny_request(*, session: Session, ctx: HubContext, subject: str, request_id: str,
                 now: datetime, representation: Representation | None = None) -> int:
    """Deny a consent request: its held messages are closed (and their senders told
    ``refused`` through their plugins); returns how many."""
    registry.deny_request(session=session, subject=subject, request_id=request_id, now=now,
                          representation=representation)
    closed = 0
    for message in session.scalars(select(Message).where(
            Message.subject == subject, Message.status == "held",
            Message.request_id == request_id)):
        message.status = "closed"
        closed += 1
        announce_status(session, ctx=ctx, message=message, status="refused", now=now)
    return closed
