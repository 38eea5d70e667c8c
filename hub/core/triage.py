"""Attaching a triage item to a resident of the wijk (issue 17, item 2).

A partner's signal that matched no resident (a name not in the registry) lands in
the wijk's inbox as *triage*, decided without knowing whose consents apply. When
the regisseur knows who it is about, they attach it to that resident by BSN: the
item and its message get the resident's subject and household, the attachment is
audited, and the consent decision runs again with the resident's own consents, as
the router would have made it had the match succeeded. If no basis holds any more
the item leaves the inbox and the resident is asked, as for any held message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from consent import registry
from consent.engine import decide
from consent.model import Outcome
from hub.core.audit import as_actor, record_disclosure, record_event
from hub.core.bsn import validate_bsn
from hub.core.context import HubContext
from hub.core.errors import HubProblem, invalid
from hub.core.facts import facts_for
from hub.core.ids import new_uuid7
from hub.core.inbox import ItemView, view_item
from hub.core.models import Disclosure, Household, InboxItem, Message, Partner, Resident
from hub.core.reads import get_item


def attach_for(*, session: Session, ctx: HubContext, viewer: Any, item_id: str, bsn: object,
               now: datetime) -> ItemView:
    """Attach the triage item ``item_id`` of the ``viewer``'s wijk to the resident with
    ``bsn`` (see :func:`attach`) and return it as the viewer may see it now.

    404 for an item the viewer is not shown (found through :func:`hub.core.reads.get_item`,
    so hidden, another wijk's and confidential items are all the same answer).
    """
    item = get_item(session=session, ctx=ctx, wijk=viewer.wijk, item_id=item_id, now=now,
                    viewer=viewer)
    if item is None or item.confidential:
        raise HubProblem(404, "Item not found")
    attach(session=session, ctx=ctx, item=item, bsn=bsn, now=now, **as_actor(viewer))
    return view_item(session=session, ctx=ctx, item=item)


def attach(*, session: Session, ctx: HubContext, item: InboxItem, bsn: object, actor: str,
           role: str, now: datetime) -> InboxItem:
    """Attach a triage ``item`` (of the caller's wijk, found by the caller) to the resident
    with ``bsn``; returns the item, decided again. In the caller's transaction.

    422 naming ``bsn`` for a BSN that fails the elfproef or is no resident of the item's
    wijk (the same answer for both, so the registry is not probed); 409 for an item that
    is not in triage. The BSN is never logged or stored: only its pseudonym.
    """
    if not item.triage:
        raise HubProblem(409, "Item is not in triage", [])
    if not isinstance(bsn, str):
        raise invalid("bsn", "must be a BSN of 9 digits")
    try:
        subject = ctx.pseudonyms.subject(validate_bsn(bsn))
    except ValueError as exc:
        raise invalid("bsn", str(exc)) from None
    resident = session.get(Resident, subject)
    household = session.get(Household, resident.household_id) if resident else None
    if household is None or household.wijk != item.wijk:
        raise invalid("bsn", "is not a resident of this wijk")
    message = session.get(Message, item.message_id, with_for_update=True)
    partner = session.get(Partner, item.source_partner)
    item.subject, item.household_id, item.triage, item.updated_at = (
        subject, household.id, False, now)
    message.subject, message.household_id, message.match_method = (
        subject, household.id, "triage")
    record_event(session, ctx=ctx, action="item.attach", actor=actor, role=role,
                 subject=subject, data={"item_id": item.id, "message_id": message.id,
                                        "household_id": household.id})
    # The decision again, now with this resident's consents (as in the router).
    version = registry.lock_subject(session=session, subject=subject)
    consents = ctx.consent_cache.consents(session=session, subject=subject, version=version)
    facts = facts_for(message, partner)
    decision = decide(facts=facts, consents=consents, policy=ctx.policy, now=now)
    registry.record_decision(session=session, id=new_uuid7(), message_id=message.id,
                             subject=subject, decision=decision)
    if decision.outcome == Outcome.HOLD:
        item.hidden = True
        message.status = "held"
        mt = ctx.plugins.catalog.type(message.type)
        request = registry.open_request(session=session, subject=subject, facts=facts,
                                        topic=mt.topic if mt else message.type, now=now)
        message.request_id = request.id
        return item
    item.basis, item.basis_ref, item.reason = (decision.basis.value, decision.basis_ref,
                                               decision.reason)
    item.fields = list(decision.fields) if decision.fields is not None else None
    session.add(Disclosure(
        subject=subject, message_id=message.id, item_id=item.id, message_type=message.type,
        source_partner=partner.id, recipient=f"wijkteam:{item.wijk}",
        basis=decision.basis.value, basis_ref=decision.basis_ref, fields=item.fields,
        reason=decision.reason, at=now))
    record_disclosure(session, ctx=ctx, item=item, partner=partner)
    return item
