"""Routing one message: resolve the subject, decide on a basis, deliver, hold, or link.

This runs in the worker, in one transaction per message: the decision, the
inbox item and the outbox row's completion commit together or not at all, so a
crash at any point leaves the message to be routed again, never twice.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent import registry
from consent.engine import decide
from consent.model import MessageFacts, Outcome
from hub.core import correlation
from hub.core.audit import record_disclosure
from hub.core.confidential import address_item
from hub.core.context import HubContext
from hub.core.models import Disclosure, InboxItem, Message, Partner
from hub.core.outbound import announce_status
from hub.core.residents import Match, match_subject
from hub.core.withholding import withhold_on_delivery

TERMINAL = frozenset({"delivered", "linked", "closed"})
RECIPIENT = "wijkteam"
log = logging.getLogger(__name__)


class RoutingError(RuntimeError):
    """A message cannot be routed now; the worker retries it and, in the end, dead-letters it."""


def facts_for(message: Message, partner: Partner) -> MessageFacts:
    """What the consent engine may know of a message: no personal data."""
    return MessageFacts(type=message.type, category=message.category, source_partner=partner.id,
                        source_kind=partner.kind, source_name=partner.name, recipient=RECIPIENT)


@correlation.scoped
def route_message(*, session: Session, ctx: HubContext, message_id: str, now: datetime) -> str:
    """Route one message in the caller's transaction; returns its new status.

    Routing a message that was already delivered, linked or closed does nothing,
    which is what makes a redelivery by the queue harmless.
    """
    message = session.get(Message, message_id, with_for_update=True)
    if message is None:
        raise RoutingError("message not found")
    return route_loaded(session=session, ctx=ctx, message=message, now=now)


def route_loaded(*, session: Session, ctx: HubContext, message: Message, now: datetime) -> str:
    """Route a message the caller loaded and locked (``FOR UPDATE``); returns its new status.

    The batch path (:func:`hub.core.transport.tasks.run_tasks`) loads a whole batch
    of messages with one select and calls this for each, inside a savepoint.
    """
    # Log under the id of the request that brought the message, whichever process routes.
    correlation.adopt(message.correlation_id)
    if message.status in TERMINAL:
        return message.status
    mt = ctx.plugins.catalog.type(message.type)
    if mt is None:
        raise RoutingError(f"no plugin serves {message.type!r}")
    partner = session.get(Partner, message.source_partner)
    payload = ctx.cipher.open(message.payload_sealed, context=f"message:{message.id}")
    given, data = payload["subject"], payload["data"]
    address = data.get("address") or {}
    match = match_subject(
        session=session, ctx=ctx, subject=message.subject, name=given.get("name"),
        birthdate=given.get("birthdate"),
        postcode=given.get("postcode") or address.get("postcode"),
        huisnummer=given.get("huisnummer") or address.get("huisnummer"))
    if match.wijk is None:
        raise RoutingError("no wijk for this address")
    message.subject, message.household_id = match.subject, match.household_id
    message.wijk, message.match_method = match.wijk, match.method

    facts = facts_for(message, partner)
    consents = []
    if match.subject is not None:
        # Serialises this decision with any grant or revocation of the same resident.
        version = registry.lock_subject(session=session, subject=match.subject)
        consents = ctx.consent_cache.consents(session=session, subject=match.subject,
                                              version=version)
    decision = decide(facts=facts, consents=consents, policy=ctx.policy, now=now)
    registry.record_decision(session=session, message_id=message.id, subject=match.subject,
                             decision=decision)
    ctx.metrics.decided(type=message.type, basis=decision.basis.value,
                        outcome=decision.outcome.value, session=session)

    if decision.outcome == Outcome.HOLD:
        message.status = "held"
        if match.subject is not None:
            request = registry.open_request(session=session, subject=match.subject, facts=facts,
                                            topic=mt.topic, now=now)
            message.request_id = request.id
        log.info("message %s held: no basis yet, the resident is asked", message.id)
        announce_status(session, ctx=ctx, message=message, status="held", now=now,
                        payload=payload)
        return message.status

    repeat_key = _repeat_key(ctx, partner, message.type, mt.repeat_key(data), match)
    measure = mt.repeat_measure(data)
    if repeat_key is not None and measure is not None:
        open_item = session.scalar(
            select(InboxItem).where(InboxItem.repeat_key == repeat_key,
                                    InboxItem.status != "closed", InboxItem.hidden.is_(False))
            .order_by(InboxItem.delivered_at.desc()).limit(1))
        if open_item is not None and open_item.measure is not None \
                and measure <= _open_measure(ctx, open_item):
            # A herhaalde melding: the same arrears, not grown. Linked, not a new item.
            open_item.repeats += 1
            open_item.updated_at = now
            message.status, message.item_id = "linked", open_item.id
            _reached_inbox(ctx, session, message, partner, decision.basis.value, now)
            return message.status

    item = InboxItem(
        id=str(uuid.uuid4()), message_id=message.id, wijk=match.wijk,
        household_id=match.household_id, subject=match.subject,
        triage=match.household_id is None, type=message.type, category=message.category,
        source_partner=partner.id, basis=decision.basis.value, basis_ref=decision.basis_ref,
        fields=list(decision.fields) if decision.fields is not None else None,
        reason=decision.reason, status="new", taken_up=False, hidden=False,
        repeat_key=repeat_key, measure=_seal_measure(ctx, message.id, measure),
        repeats=0, delivered_at=now, updated_at=now)
    # A confidential type goes to the household's designated regisseur only (issue 7).
    address_item(session=session, ctx=ctx, item=item)
    session.add(item)
    message.status, message.item_id = "delivered", item.id
    if match.subject is not None:
        session.add(Disclosure(
            subject=match.subject, message_id=message.id, item_id=item.id,
            message_type=message.type, source_partner=partner.id,
            recipient=f"wijkteam:{match.wijk}", basis=decision.basis.value,
            basis_ref=decision.basis_ref, fields=item.fields, reason=decision.reason, at=now))
        record_disclosure(session, ctx=ctx, item=item, partner=partner)
        withhold_on_delivery(session=session, ctx=ctx, item=item, message=message, now=now)
    # One household, one outreach (issue 16): in this same transaction. Imported here
    # because hub.core.outreach reads through hub.core.inbox, which imports this module.
    from hub.core.outreach import join_case
    join_case(session=session, ctx=ctx, item=item, message=message, partner=partner,
              data=data, now=now)
    _reached_inbox(ctx, session, message, partner, decision.basis.value, now)
    announce_status(session, ctx=ctx, message=message, status="delivered", now=now,
                    payload=payload)
    return message.status


def _reached_inbox(ctx: HubContext, session: Session, message: Message, partner: Partner,
                   basis: str, now: datetime) -> None:
    # The delivery line and its metrics: ids, type and basis only, never the data.
    ctx.metrics.reached_inbox(partner=partner.name, type=message.type, basis=basis,
                              outcome=message.status, received_at=message.received_at,
                              now=now, session=session)
    log.info("message %s %s to inbox item %s of wijk %s on basis %s", message.id,
             message.status, message.item_id, message.wijk, basis)


def _repeat_key(ctx: HubContext, partner: Partner, type_: str, key: str | None,
                match: Match) -> str | None:
    """The key under which a herhaalde melding finds its open item, or None (never a repeat).

    A repeat is the same debt of the same resident (or, when the resident is not
    known, the same matched household) in the same wijk (issue 13, item 2): the
    partner's own reference alone is not enough, because a typo in it must never
    move one resident's signal into another resident's item. An unmatched (triage)
    signal has no one to be the same as, so it is never a repeat.
    """
    if not key:
        return None
    if match.subject is not None:
        whose = f"subject:{match.subject}"
    elif match.household_id is not None:
        whose = f"household:{match.household_id}"
    else:
        return None
    # Keyed, so a tenancy reference is not readable from the inbox table.
    return hmac.new(ctx.pseudonyms.key_for("repeat"),
                    f"{partner.id}|{type_}|{key}|{whose}|{match.wijk}".encode(),
                    hashlib.sha256).hexdigest()


def _seal_measure(ctx: HubContext, message_id: str, measure: Decimal | None) -> str | None:
    # The measure is message data (an amount owed): sealed like the message itself.
    if measure is None:
        return None
    return ctx.cipher.seal(str(measure), context=f"measure:{message_id}")


def _open_measure(ctx: HubContext, item: InboxItem) -> Decimal:
    if ctx.cipher.key_id(item.measure) is None:
        return Decimal(item.measure)  # stored in clear before it was sealed (until reencrypt)
    return Decimal(ctx.cipher.open(item.measure, context=f"measure:{item.message_id}"))
