"""The one read path for inbox items, households and outbound messages (issue 13).

Every route, page, command and export that shows an inbox item, a household or
an outbound message calls a function of this module, and nothing else reads
those tables for display (``tests/test_architecture.py`` fails on a direct query
elsewhere). Each function:

- decides the items again first (:func:`hub.core.inbox.recheck`), so a revoked
  or expired consent hides its items at the very read;
- shows a viewer only what they may see (:func:`hub.core.confidential.visible_to`):
  a confidential item only to the regisseur it is addressed to (or, while none is
  designated, to the team leads), and then as a neutral line until it is opened
  with a reason;
- shows an outbound message only when it is tied to an item the viewer can see
  now, or, when it is tied to no item (the wijkteam's own initiative: a POH
  referral, a report to Veilig Thuis), to the household's designated regisseur
  and the regisseur who sent it (and, while the household has no designated
  regisseur, its team leads): never one about a held, refused, revoked or
  confidential-not-addressed item, because "a status went back to the GP" tells
  that a GP referral exists;
- records the read in the audit log (``read.list``, ``read``, ``read.confidential``
  with the reader's sealed reason, ``read.outbound``).

A page that queried a table itself once showed a Veilig Thuis report to a whole
wijk; this module is why that cannot happen again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consent import registry
from consent.model import DEFAULT_RECIPIENT
from hub.core.audit import Event, as_actor, record_events, record_inbox_access
from hub.core.confidential import checked_reason, record_read, visible_to
from hub.core.context import HubContext
from hub.core.errors import HubProblem
from hub.core.inbox import ItemView, recheck, sender_item, view_item
from hub.core.models import (
    AuditEvent,
    Household,
    InboxItem,
    Message,
    OutboundMessageRow,
    Partner,
    Resident,
)
from hub.core.residents import resident_identity

__all__ = ["HouseholdView", "ItemView", "Member", "OutboundView", "ResidentTeam",
           "get_household", "get_item", "get_items", "household_members", "household_view",
           "list_items", "nameable", "open_item", "outbound_message", "read_inbox",
           "resident_team", "sender_item"]


@dataclass(frozen=True)
class OutboundView:
    """One outbound message as a viewer may know of it: to whom, what kind, where it stands.

    Never its data: the timeline says *that* something was sent, not what.
    """

    id: str
    type: str
    partner_name: str
    status: str
    created_at: datetime
    delivered_at: datetime | None
    receipt: str | None


@dataclass(frozen=True)
class HouseholdView:
    """A household as one viewer may see it now: its visible items (confidential ones
    unopened), the outbound messages they may know of, and the consent records of the
    residents they already meet in those items."""

    id: str
    wijk: str
    regisseur: str | None
    items: list[ItemView]
    outbound: list[OutboundView]
    consents: list[Any]
    partner_names: dict[str, str]
    members: list[Member] = ()


@dataclass(frozen=True)
class Member:
    """One resident at a household's address as one viewer may see them (issue 17, item 2):
    by name only where a basis allows it, else as "Huisgenoot 2" (their place in the list)."""

    label: str
    named: bool


# --- items ------------------------------------------------------------------------------

def list_items(*, session: Session, ctx: HubContext, wijk: str, now: datetime, limit: int,
               offset: int, type_: str | None = None, basis: str | None = None,
               status: str | None = None, viewer: Any = None) -> tuple[int, list[ItemView]]:
    """The visible items of a wijk, newest first, with the total before paging.

    With ``viewer`` (a Principal) only what that person may see: confidential items
    only when addressed to them (or, for a team lead, while they wait for a
    regisseur), and then as a neutral line without data. Records nothing: use
    :func:`read_inbox` to show them to a person.
    """
    recheck(session=session, ctx=ctx, now=now, wijk=wijk)
    where = [InboxItem.wijk == wijk, InboxItem.hidden.is_(False), visible_to(viewer)]
    if type_:
        where.append(InboxItem.type == type_)
    if basis:
        where.append(InboxItem.basis == basis)
    if status:
        where.append(InboxItem.status == status)
    total = session.scalar(select(func.count()).select_from(InboxItem).where(*where))
    items = session.scalars(select(InboxItem).where(*where)
                            .order_by(InboxItem.delivered_at.desc(), InboxItem.id)
                            .limit(limit).offset(offset))
    return total, [view_item(session=session, ctx=ctx, item=item, opened=False)
                   for item in items]


def read_inbox(*, session: Session, ctx: HubContext, viewer: Any, now: datetime, limit: int,
               offset: int, type_: str | None = None, basis: str | None = None,
               status: str | None = None) -> tuple[int, list[ItemView]]:
    """:func:`list_items` of the viewer's own wijk, audited as ``read.list``."""
    total, views = list_items(session=session, ctx=ctx, wijk=viewer.wijk, now=now,
                              limit=limit, offset=offset, type_=type_, basis=basis,
                              status=status, viewer=viewer)
    record_inbox_access(session, ctx=ctx, principal=viewer, action="read.list", views=views)
    return total, views


def get_item(*, session: Session, ctx: HubContext, wijk: str, item_id: str,
             now: datetime, viewer: Any = None) -> InboxItem | None:
    """One visible item of this wijk, re-checked first; None if it is not to be shown
    (to ``viewer``, when given: see :func:`list_items`). For an action on the item; to
    show it, use :func:`open_item`."""
    recheck(session=session, ctx=ctx, now=now, wijk=wijk)
    return session.scalar(select(InboxItem).where(
        InboxItem.id == item_id, InboxItem.wijk == wijk, InboxItem.hidden.is_(False),
        visible_to(viewer)))


def get_items(*, session: Session, ctx: HubContext, wijk: str, item_ids: list[str],
              now: datetime, viewer: Any = None) -> dict[str, InboxItem]:
    """:func:`get_item` for many ids at once (one re-check, one query): the visible ones
    by id; an id that is not to be shown is simply absent. Records nothing: the caller
    audits what it shows (an outreach worklist records one batch per page)."""
    if not item_ids:
        return {}
    recheck(session=session, ctx=ctx, now=now, wijk=wijk)
    return {item.id: item for item in session.scalars(select(InboxItem).where(
        InboxItem.id.in_(item_ids), InboxItem.wijk == wijk, InboxItem.hidden.is_(False),
        visible_to(viewer)))}


def open_item(*, session: Session, ctx: HubContext, viewer: Any, item_id: str, now: datetime,
              reason: str | None = None) -> ItemView:
    """Show one item to ``viewer`` with the data its basis allows now, audited.

    404 when the viewer may not see it (another wijk, hidden, confidential and not
    theirs). A confidential item needs a ``reason`` (422 naming ``reason``
    otherwise); its opening is stored sealed and audited as ``read.confidential``.
    An ordinary item is audited as ``read``.
    """
    item = get_item(session=session, ctx=ctx, wijk=viewer.wijk, item_id=item_id, now=now,
                    viewer=viewer)
    if item is None:
        raise HubProblem(404, "Item not found")
    if not item.confidential:
        view = view_item(session=session, ctx=ctx, item=item)
        record_inbox_access(session, ctx=ctx, principal=viewer, action="read", views=[view])
        return view
    reason = checked_reason(reason)
    view = view_item(session=session, ctx=ctx, item=item, opened=True)
    record_read(session=session, ctx=ctx, item=item, principal=viewer, reason=reason,
                fields=list(view.data), now=now)
    return view


# --- households -------------------------------------------------------------------------

def get_household(*, session: Session, viewer: Any, household_id: str) -> Household:
    """A household of the viewer's wijk, or a 404 (another wijk's is not confirmed)."""
    household = session.get(Household, household_id)
    if household is None or viewer is None or household.wijk != viewer.wijk:
        raise HubProblem(404, "Household not found")
    return household


def household_view(*, session: Session, ctx: HubContext, viewer: Any, household_id: str,
                   now: datetime) -> HouseholdView:
    """Everything of a household ``viewer`` may see now, audited; 404 for another wijk's.

    Items: the visible ones (re-checked first), confidential ones as a neutral line
    (opening one goes through :func:`open_item`, with a reason). Outbound: see the
    module docstring. Consents: only those of residents the viewer already meets in a
    visible item, and no refusal (a refusal answers a question about a held message).
    """
    household = get_household(session=session, viewer=viewer, household_id=household_id)
    recheck(session=session, ctx=ctx, now=now, wijk=household.wijk)
    items = session.scalars(select(InboxItem).where(
        InboxItem.household_id == household.id, InboxItem.wijk == household.wijk,
        InboxItem.hidden.is_(False), visible_to(viewer))
        .order_by(InboxItem.delivered_at.desc(), InboxItem.id)).all()
    views = [view_item(session=session, ctx=ctx, item=i, opened=False) for i in items]
    outbound = _visible_outbound(session=session, viewer=viewer, household=household,
                                 visible_messages={i.message_id for i in items})
    residents = _residents(session, household.id)
    members = {r.subject for r in residents}
    subjects = sorted({v.item.subject for v in views if v.item.subject in members})
    consents = [record for subject in subjects
                for record in registry.list_grants(session=session, subject=subject)
                if record.status.value != "refused"]
    names = _partner_names(session, {p for r in consents for p in r.source_partners})
    record_inbox_access(session, ctx=ctx, principal=viewer, action="read.list", views=views)
    _record_outbound_reads(session, ctx=ctx, viewer=viewer, rows=outbound)
    shown = _outbound_views(session, outbound)
    people = household_members(session=session, ctx=ctx, residents=residents,
                               seen={v.item.subject for v in views}, now=now)
    return HouseholdView(id=household.id, wijk=household.wijk, regisseur=household.regisseur,
                         items=views, outbound=shown, consents=consents, partner_names=names,
                         members=people)


# --- the residents of a household --------------------------------------------------------

def _residents(session: Session, household_id: str) -> list[Resident]:
    # By pseudonym: a stable order that says nothing about the people.
    return list(session.scalars(select(Resident).where(Resident.household_id == household_id)
                                .order_by(Resident.subject)))


def nameable(*, session: Session, subjects: set[str], seen: set[str], now: datetime) -> set[str]:
    """Which of ``subjects`` a viewer may know by name: those about whom the viewer sees
    a visible item now (``seen``), and those with a consent in force for the wijkteam.
    Anyone else at the address is a housemate about whom nothing was shared."""
    named = subjects & seen
    for subject in sorted(subjects - seen):
        grants = registry.consents_for(session=session, subject=subject)
        if any(g.recipient == DEFAULT_RECIPIENT and g.is_active_at(now) for g in grants):
            named.add(subject)
    return named


def household_members(*, session: Session, ctx: HubContext, residents: list[Resident],
                      seen: set[str], now: datetime) -> list[Member]:
    """The registry's residents at the household's address as the viewer may see them:
    the name where :func:`nameable` allows it, else "Huisgenoot N" (N: their place in
    the list). Only the identities of nameable residents are opened."""
    named = nameable(session=session, subjects={r.subject for r in residents}, seen=seen,
                     now=now)
    return [Member(label=resident_identity(ctx, r)["name"], named=True) if r.subject in named
            else Member(label=f"Huisgenoot {number}", named=False)
            for number, r in enumerate(residents, start=1)]


@dataclass(frozen=True)
class ResidentTeam:
    """The wijkteam a resident belongs to, as the resident may know it (issue 15, item 12).

    ``regisseur`` is the designated regisseur's user id, for comparing with audit
    actors only: it is a login, never shown to the resident.
    """

    wijk: str
    wijk_name: str
    phone: str | None
    visit: str | None
    regisseur: str | None


def resident_team(*, session: Session, ctx: HubContext, subject: str) -> ResidentTeam | None:
    """The wijkteam of the resident's own household and whether it has a designated
    regisseur; None for a subject outside the registry. Nothing of other residents,
    and no read of items: it is the resident's own contact card."""
    resident = session.get(Resident, subject)
    household = session.get(Household, resident.household_id) if resident else None
    if household is None:
        return None
    wijk = ctx.wijkmap.wijken.get(household.wijk)
    return ResidentTeam(wijk=household.wijk, wijk_name=ctx.wijkmap.name(household.wijk),
                        phone=wijk.phone if wijk else None, visit=wijk.visit if wijk else None,
                        regisseur=household.regisseur)


# --- outbound messages ------------------------------------------------------------------

def outbound_message(*, session: Session, ctx: HubContext, viewer: Any, message_id: str,
                     now: datetime, message_type: str | None = None) -> OutboundMessageRow:
    """One outbound message the viewer may know of (module docstring), or a 404.

    ``message_type``: only a message of that type (a plugin's route about its own).
    """
    row = session.get(OutboundMessageRow, message_id)
    if row is None or (message_type is not None and row.type != message_type):
        raise HubProblem(404, "Message not found")
    household = session.get(Household, row.household_id) if row.household_id else None
    if household is None or viewer is None or household.wijk != viewer.wijk:
        raise HubProblem(404, "Message not found")
    recheck(session=session, ctx=ctx, now=now, wijk=household.wijk)
    visible = set()
    if row.related_message_id is not None:
        item_id = session.scalar(select(Message.item_id).where(
            Message.id == row.related_message_id))
        if item_id is not None and get_item(session=session, ctx=ctx, wijk=household.wijk,
                                            item_id=item_id, now=now, viewer=viewer):
            visible.add(row.related_message_id)
    sent = _sent_by(session, viewer) if row.related_message_id is None else set()
    if not _outbound_visible(viewer, household, row, visible, sent):
        raise HubProblem(404, "Message not found")
    _record_outbound_reads(session, ctx=ctx, viewer=viewer, rows=[row])
    return row


def _visible_outbound(*, session: Session, viewer: Any, household: Household,
                      visible_messages: set[str]) -> list[OutboundMessageRow]:
    rows = session.scalars(select(OutboundMessageRow).where(
        OutboundMessageRow.household_id == household.id)
        .order_by(OutboundMessageRow.created_at.desc(), OutboundMessageRow.id)).all()
    sent: set[str] | None = None
    shown = []
    for row in rows:
        if row.related_message_id is None and sent is None:
            sent = _sent_by(session, viewer)
        if _outbound_visible(viewer, household, row, visible_messages, sent or set()):
            shown.append(row)
    return shown


def _outbound_visible(viewer: Any, household: Household, row: OutboundMessageRow,
                      visible_messages: set[str], sent: set[str]) -> bool:
    """Whether ``viewer`` may know of ``row``. ``visible_messages``: the ids of the
    inbound messages whose items the viewer can see now; ``sent``: the ids of the
    outbound messages the viewer sent."""
    if row.related_message_id is not None:
        # About an inbound message: exactly as visible as its item. Held, refused,
        # revoked or confidential-not-addressed: it has no item this viewer can see.
        return row.related_message_id in visible_messages
    role = getattr(viewer, "role", None)
    if role == "teamlead":
        # As with confidential items: the team lead sees what waits for a regisseur.
        return household.regisseur is None
    if role != "regisseur":
        return False
    # The wijkteam's own initiative (a POH referral, a Veilig Thuis report, a Wmo
    # request): for the household's designated regisseur and whoever sent it.
    return household.regisseur == viewer.user or row.id in sent


def _sent_by(session: Session, viewer: Any) -> set[str]:
    """The outbound messages this regisseur sent (the ``message.sent`` audit events name
    the sender; the table itself does not)."""
    if getattr(viewer, "role", None) != "regisseur":
        return set()
    events = session.scalars(select(AuditEvent.data).where(
        AuditEvent.action == "message.sent", AuditEvent.actor == viewer.user,
        AuditEvent.role == "regisseur")).all()
    return {str((data or {}).get("message_id")) for data in events}


def _partner_names(session: Session, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Partner.id, Partner.name)
                                .where(Partner.id.in_(sorted(ids)))).all())


def _outbound_views(session: Session, rows: list[OutboundMessageRow]) -> list[OutboundView]:
    names = _partner_names(session, {r.partner_id for r in rows})
    return [OutboundView(id=r.id, type=r.type, partner_name=names.get(r.partner_id, ""),
                         status=r.status, created_at=r.created_at,
                         delivered_at=r.delivered_at, receipt=r.receipt) for r in rows]


def _record_outbound_reads(session: Session, *, ctx: HubContext, viewer: Any,
                           rows: list[OutboundMessageRow]) -> None:
    if not rows or viewer is None:
        return
    who = as_actor(viewer)
    record_events(session, ctx=ctx, events=[Event(
        action="read.outbound", subject=row.subject,
        data={"message_id": row.id, "type": row.type}, **who) for row in rows])
