"""The regisseur's inbox: what reached a wijk, re-checked against the basis at every read.

An item delivered under a consent that has since been revoked or has expired is
decided again before it is shown: it may still be shown on another basis (e.g.
minimal fields by statute), cut down to what that basis allows, or no longer be
shown at all. No cron job is needed for this to hold; the read itself enforces it.

This module holds the pieces (the re-check, one item's view, take-up and close);
reading items for a person goes through :mod:`hub.core.reads`, the one read path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from consent.engine import decide, intersect_fields
from consent.model import BasisKind
from consent.tables import consent_grants
from hub.core.confidential import neutral_summary
from hub.core.context import HubContext
from hub.core.errors import HubProblem
from hub.core.facts import facts_for
from hub.core.models import InboxItem, Message, Partner, Resident
from hub.core.outbound import announce_item
from hub.core.residents import resident_identity
from hub.core.staff_reason import staff_reason


@dataclass(frozen=True)
class ItemView:
    """One inbox item as the regisseur may see it now."""

    item: InboxItem
    summary: str
    data: dict[str, Any]
    source_name: str
    matched_by: str | None
    # Why the regisseur sees it, about the resident (``item.reason`` is the resident's
    # own sentence, "omdat u … toestemming gaf"; issue 15, item 11).
    staff_reason: str = ""


def _stale_condition(ctx: HubContext, now: datetime):
    """Items whose recorded basis may no longer hold.

    A consent basis lapses when the consent is no longer active, is past its end,
    or was changed (re-scoped) after the item was last decided.
    """
    inactive_consent = select(consent_grants.c.id).where(
        consent_grants.c.id == InboxItem.basis_ref,
        or_(consent_grants.c.status != "active",
            and_(consent_grants.c.valid_until.is_not(None), consent_grants.c.valid_until <= now),
            and_(consent_grants.c.version > 1,
                 consent_grants.c.changed_at >= InboxItem.updated_at)))
    disabled = [key for key, st in ctx.policy.statutes.items() if not st.enabled]
    conditions = [and_(InboxItem.basis == BasisKind.CONSENT.value, inactive_consent.exists())]
    if disabled:
        conditions.append(and_(InboxItem.basis == BasisKind.STATUTE.value,
                               InboxItem.basis_ref.in_(disabled)))
    no_safety = [key for key, sb in ctx.policy.safety.items() if not sb.enabled]
    if no_safety:
        conditions.append(and_(InboxItem.basis == BasisKind.SAFETY.value,
                               InboxItem.basis_ref.in_(no_safety)))
    return or_(*conditions)


def recheck(*, session: Session, ctx: HubContext, now: datetime, wijk: str | None = None,
            subject: str | None = None) -> int:
    """Decide again every visible item whose basis may have lapsed; returns how many changed."""
    stmt = select(InboxItem).where(InboxItem.hidden.is_(False), _stale_condition(ctx, now))
    if wijk is not None:
        stmt = stmt.where(InboxItem.wijk == wijk)
    if subject is not None:
        stmt = stmt.where(InboxItem.subject == subject)
    changed = 0
    for item in session.scalars(stmt):
        message = session.get(Message, item.message_id)
        partner = session.get(Partner, item.source_partner)
        consents = (ctx.consent_cache.consents(session=session, subject=item.subject)
                    if item.subject else [])
        current = decide(facts=facts_for(message, partner), consents=consents,
                         policy=ctx.policy, now=now)
        visible = intersect_fields(tuple(item.fields) if item.fields is not None else None,
                                   current)
        if not visible.visible:
            item.hidden = True
        else:
            item.basis, item.basis_ref = current.basis.value, current.basis_ref
            item.fields = list(visible.fields) if visible.fields is not None else None
            item.reason = current.reason
        item.updated_at = now
        changed += 1
    return changed


def view_item(*, session: Session, ctx: HubContext, item: InboxItem,
              opened: bool = True) -> ItemView:
    """Open the message and keep only the fields the item's basis allows.

    A confidential item that is not ``opened`` (with a reason, by the caller) shows
    a neutral summary and no data at all.
    """
    message = session.get(Message, item.message_id)
    partner = session.get(Partner, item.source_partner)
    why = staff_reason(session=session, ctx=ctx, item=item, source_name=partner.name)
    if item.confidential and not opened:
        return ItemView(item=item, summary=neutral_summary(partner.name), data={},
                        source_name=partner.name, matched_by=message.match_method,
                        staff_reason=why)
    payload = ctx.cipher.open(message.payload_sealed, context=f"message:{message.id}")
    given, data = payload["subject"], payload["data"]
    name = given.get("name")
    resident = session.get(Resident, item.subject) if item.subject is not None else None
    identity = resident_identity(ctx, resident) if resident is not None else {}
    if name is None:
        name = identity.get("name")
    address = data.get("address") or {k: given[k] for k in ("postcode", "huisnummer")
                                       if k in given}
    address = _with_street(address, identity)
    mt = ctx.plugins.catalog.type(item.type)
    full = {"name": name, "address": address,
            **{k: v for k, v in data.items() if k != "address"}}
    if item.category == "financieel":
        # The statute for debts names the creditor among its minimal fields; for a
        # nuisance report or a referral the sender is no creditor (it shows as "Van").
        full["creditor"] = partner.name
    if item.fields is not None:
        full = {k: v for k, v in full.items() if k in item.fields}
    summary = mt.summary(full) if mt is not None else item.type
    return ItemView(item=item, summary=summary, data=full, source_name=partner.name,
                    matched_by=message.match_method, staff_reason=why)


def _with_street(address: Any, identity: dict) -> Any:
    # The registry may know the street and place of the resident's address (issue 15,
    # item 11): add them only when the item's address is that same address.
    # The shown address keeps Dutch keys: the page writes "straat huisnummer, postcode
    # woonplaats" (hub.web.render); the registry keeps ``street`` and ``place``.
    if (isinstance(address, dict) and identity.get("street")
            and address.get("postcode") == identity.get("postcode")
            and str(address.get("huisnummer")) == str(identity.get("huisnummer"))):
        return {"straat": identity["street"], **address,
                **({"woonplaats": identity["place"]} if identity.get("place") else {})}
    return address


def take_up(*, session: Session, ctx: HubContext, item: InboxItem, now: datetime,
            actor: str, role: str) -> None:
    """The regisseur starts help: the item is ``taken_up`` and the sender's plugin is told.

    Taking up twice changes nothing and tells nobody twice; a closed item cannot be
    taken up (409).
    """
    if item.status == "closed":
        raise HubProblem(409, "Item is already closed")
    if item.status == "taken_up":
        return
    item.status, item.taken_up, item.updated_at = "taken_up", True, now
    announce_item(session, ctx=ctx, item=item, status="taken_up", now=now, actor=actor,
                  role=role)


def close(*, session: Session, ctx: HubContext, item: InboxItem, now: datetime,
          actor: str, role: str, note: str | None = None) -> None:
    """Close the item and tell the sender's plugin, with the regisseur's ``note`` if given.

    Closing a closed item changes nothing and tells nobody twice.
    """
    if item.status == "closed":
        return
    item.status, item.updated_at = "closed", now
    announce_item(session, ctx=ctx, item=item, status="closed", now=now, note=note,
                  actor=actor, role=role)


# What a sender may learn: a closed list, never why and never anything about consent
# (VNG's model for early signalling: a creditor hears whether help was started).
def sender_status(*, session: Session, message: Message) -> str:
    """received | taken_up | not_taken_up | closed, as the sending partner may see it."""
    if message.status == "closed":
        return "not_taken_up"
    item = sender_item(session=session, message=message)
    if item is None:
        return "received"
    if item.status == "taken_up":
        return "taken_up"
    if item.status == "closed":
        return "closed" if item.taken_up else "not_taken_up"
    return "received"


def sender_item(*, session: Session, message: Message) -> InboxItem | None:
    """The item a message became, for what its *sender* may learn of it (status, taken
    up): never to show the item to a person, which goes through :mod:`hub.core.reads`."""
    if message.item_id is None:
        return None
    return session.get(InboxItem, message.item_id)
