"""The regisseur's screens (``/werkplek``): the wijk's inbox, one item, one household's plan.

Every read and action goes through the same functions as the API routes
(:mod:`hub.api.inbox`): the same re-check of the basis, the same audit events,
the same status sent back to the partner on take-up and close. The household
page adds nothing the inbox would not show: only items visible now (decided
again first), what the wijkteam sent out for the household, and the consents
of its residents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import select

from consent import explain, registry
from hub.api import inbox as inbox_api
from hub.api.deps import ContextDep, SessionDep
from hub.api.schemas import OpenConfidential
from hub.core.audit import record_inbox_access
from hub.core.errors import HubProblem
from hub.core.inbox import recheck, view_item
from hub.core.models import Household, InboxItem, OutboundMessageRow, Partner, Resident
from hub.web.deps import CsrfChecked, InboxPage, RegisseurAction, valid_id
from hub.web.render import page, redirect
from hub.web.session import WebError

router = APIRouter(prefix="/werkplek", include_in_schema=False)
PAGE_SIZE = 25
BASES = (("consent", "toestemming"), ("statute", "wet"), ("safety", "veiligheid"))
STATUSES = (("new", "nieuw"), ("taken_up", "opgepakt"), ("closed", "afgesloten"))
NOTICES = {"opgepakt": "U heeft deze melding opgepakt. De afzender ziet dat er hulp is "
                       "gestart.",
           "afgesloten": "U heeft deze melding afgesloten.",
           "gekoppeld": "De melding hoort nu bij de bewoner. U ziet wat de toestemmingen van "
                        "die bewoner toelaten."}


def _not_found() -> WebError:
    return WebError(404, "Niet gevonden",
                    "Deze melding of dit huishouden bestaat niet, is niet van uw wijk, of u "
                    "mag het niet (meer) zien, bijvoorbeeld omdat de bewoner de toestemming "
                    "heeft ingetrokken.")


def _from_problem(exc: HubProblem) -> WebError:
    if exc.status == 404:
        return _not_found()
    if exc.status == 409:
        return WebError(409, "Dit kan niet meer", "Deze melding is al afgesloten.")
    return WebError(exc.status if exc.status < 500 else 503, "Dit lukte niet",
                    "Probeer het later opnieuw.")


def _types(ctx) -> list[tuple[str, str]]:
    catalog = ctx.plugins.catalog
    # Only what partners send can be in an inbox (outbound-only types are not).
    return [(name, mt.topic) for name, mt in sorted(catalog.types.items()) if mt.inbound]


@router.get("")
def inbox(request: Request, ctx: ContextDep, session: SessionDep, who: InboxPage,
          type: str | None = None, grondslag: str | None = None, status: str | None = None,
          pagina: str | None = None) -> Response:
    """The wijk's inbox, newest first, with filters for type, basis and status."""
    types = _types(ctx)
    type_ = type if type in {t for t, _ in types} else None
    basis = grondslag if grondslag in {b for b, _ in BASES} else None
    status_ = status if status in {s for s, _ in STATUSES} else None
    number = int(pagina) if pagina and pagina.isdigit() and 0 < int(pagina) < 10_000 else 1
    listing = inbox_api.inbox(ctx=ctx, session=session, regisseur=who, limit=PAGE_SIZE,
                              offset=(number - 1) * PAGE_SIZE, type=type_, basis=basis,
                              status=status_)
    pages = max(1, -(-listing.total // PAGE_SIZE))
    query = {"type": type_ or "", "grondslag": basis or "", "status": status_ or ""}
    return page(request, ctx, "werkplek/inbox.html", title="Inbox", listing=listing,
                types=types, bases=BASES, statuses=STATUSES, chosen=query, number=number,
                pages=pages)


@router.get("/melding/{item_id}")
def item(item_id: str, request: Request, ctx: ContextDep, session: SessionDep,
         who: InboxPage, melding: str | None = None) -> Response:
    """One item: the data its basis allows, and why the regisseur may see it."""
    if not valid_id(item_id):
        raise _not_found()
    try:
        shown = inbox_api.inbox_item(item_id=item_id, ctx=ctx, session=session, regisseur=who)
    except HubProblem as exc:
        if _asks_for_reason(exc):
            # A confidential item opens only with a reason: ask for it, show nothing yet.
            return page(request, ctx, "werkplek/openen.html", title="Vertrouwelijke melding",
                        item_id=item_id, error=None)
        raise _from_problem(exc) from None
    return _item_page(request, ctx, shown, who, melding)


def _asks_for_reason(exc: HubProblem) -> bool:
    return exc.status == 422 and any(p.field == "reason" for p in exc.problems)


def _item_page(request: Request, ctx, shown, who, melding: str | None = None) -> Response:
    return page(request, ctx, "werkplek/item.html", title="Melding", item=shown,
                topic=_topic(ctx, shown.type), notice=NOTICES.get(melding or ""),
                can_act=who.role == "regisseur")


@router.post("/melding/{item_id}/openen", dependencies=[CsrfChecked])
def open_confidential(item_id: str, request: Request, ctx: ContextDep, session: SessionDep,
                      who: InboxPage,
                      reden: Annotated[str, Form(max_length=1000)] = "") -> Response:
    """Open a confidential item with the reason the reader gives (stored sealed, audited).

    The item is shown on this answer, not after a redirect: a GET would need the
    reason again, and a reason must never travel in a URL.
    """
    if not valid_id(item_id):
        raise _not_found()
    try:
        shown = inbox_api.open_item(item_id=item_id, body=OpenConfidential(reason=reden),
                                    ctx=ctx, session=session, regisseur=who)
    except HubProblem as exc:
        if _asks_for_reason(exc):
            return page(request, ctx, "werkplek/openen.html", status=422,
                        title="Vertrouwelijke melding", item_id=item_id,
                        error="Schrijf op waarom u deze melding opent.")
        raise _from_problem(exc) from None
    return _item_page(request, ctx, shown, who)


def _topic(ctx, type_name: str) -> str:
    mt = ctx.plugins.catalog.type(type_name)
    return mt.topic if mt is not None else type_name


@router.post("/melding/{item_id}/oppakken", dependencies=[CsrfChecked])
def take_up(item_id: str, request: Request, ctx: ContextDep, session: SessionDep,
            who: RegisseurAction) -> Response:
    """Take the item up: the sender hears that help started."""
    if not valid_id(item_id):
        raise _not_found()
    try:
        inbox_api.take_up(item_id=item_id, ctx=ctx, session=session, regisseur=who)
    except HubProblem as exc:
        raise _from_problem(exc) from None
    return redirect(request, ctx, f"/werkplek/melding/{item_id}?melding=opgepakt")


@router.post("/melding/{item_id}/afsluiten", dependencies=[CsrfChecked])
def close(item_id: str, request: Request, ctx: ContextDep, session: SessionDep,
          who: RegisseurAction,
          samenvatting: Annotated[str | None, Form(max_length=2000)] = None) -> Response:
    """Close the item, optionally with a short summary for the sender."""
    if not valid_id(item_id):
        raise _not_found()
    summary = (samenvatting or "").strip() or None
    try:
        inbox_api.close(item_id=item_id, ctx=ctx, session=session, regisseur=who,
                        body=inbox_api.CloseBody(summary=summary))
    except HubProblem as exc:
        raise _from_problem(exc) from None
    return redirect(request, ctx, f"/werkplek/melding/{item_id}?melding=afgesloten")


# --- the household: one plan ----------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One line on a household's timeline."""

    at: datetime
    kind: str          # "melding" | "verstuurd" | "toestemming"
    title: str
    text: str
    link: str | None = None


def _consent_entries(session, ctx, subjects: list[str]) -> list[Entry]:
    entries: list[Entry] = []
    partner_ids = set()
    grants = []
    for subject in subjects:
        for record in registry.list_grants(session=session, subject=subject):
            grants.append(record)
            partner_ids |= set(record.source_partners)
    names = dict(session.execute(select(Partner.id, Partner.name)
                                 .where(Partner.id.in_(sorted(partner_ids)))).all()) \
        if partner_ids else {}
    for record in grants:
        sources = explain.describe_sources(
            kinds=sorted(record.source_kinds),
            partner_names=[names.get(p, p) for p in sorted(record.source_partners)])
        about = explain.join_dutch([explain.describe_category(c)
                                    for c in sorted(record.categories)])
        scope = f"Over {about}, van {sources}."
        if record.status.value == "refused":
            # A refusal answers a question about a held message: showing it would tell
            # the regisseur that a partner sent something the resident kept back.
            continue
        entries.append(Entry(record.granted_at, "toestemming", "Toestemming gegeven", scope))
        if record.revoked_at is not None:
            entries.append(Entry(record.revoked_at, "toestemming", "Toestemming ingetrokken",
                                 scope))
    return entries


def _outbound_entries(session, ctx, household_id: str) -> list[Entry]:
    # What the hub sent to partners for this household (a status back, a Wmo request,
    # a referral): generic, so every plugin's outbound type shows without code here.
    rows = session.scalars(select(OutboundMessageRow).where(
        OutboundMessageRow.household_id == household_id)).all()
    targets = sorted({m.partner_id for m in rows})
    names = dict(session.execute(select(Partner.id, Partner.name)
                                 .where(Partner.id.in_(targets))).all()) if targets else {}
    return [Entry(message.created_at, "verstuurd",
                  f"Verstuurd naar {names.get(message.partner_id, 'een partner')}: "
                  f"{_topic(ctx, message.type)}",
                  f"Stand: {_OUT_WORDS.get(message.status, message.status)}.")
            for message in rows]


_OUT_WORDS = {"queued": "wordt verstuurd", "delivered": "aangekomen",
              "failed": "niet aangekomen; de beheerder kijkt ernaar",
              "withheld": "niet verstuurd: de toestemming van de bewoner geldt niet meer"}


@router.get("/huishouden/{household_id}")
def household(household_id: str, request: Request, ctx: ContextDep, session: SessionDep,
              who: InboxPage) -> Response:
    """One household, one plan: every visible item, everything sent, and the consents of
    the residents those items are about, on one line."""
    house = session.get(Household, household_id) if valid_id(household_id) else None
    if house is None or house.wijk != who.wijk:
        raise _not_found()
    now = ctx.clock()
    recheck(session=session, ctx=ctx, now=now, wijk=who.wijk)
    items = session.scalars(select(InboxItem).where(
        InboxItem.household_id == house.id, InboxItem.wijk == who.wijk,
        InboxItem.hidden.is_(False))).all()
    views = [view_item(session=session, ctx=ctx, item=i) for i in items]
    entries = [Entry(v.item.delivered_at, "melding", v.summary or _topic(ctx, v.item.type),
                     f"Van {v.source_name}. {v.item.reason}",
                     f"/werkplek/melding/{v.item.id}") for v in views]
    entries += _outbound_entries(session, ctx, house.id)
    # Only the consents of residents the regisseur already meets in a visible item: a
    # housemate's consent (say, for medical data) would otherwise reveal a relationship
    # the regisseur has no basis to know about.
    members = set(session.scalars(select(Resident.subject)
                                  .where(Resident.household_id == house.id)))
    subjects = sorted({v.item.subject for v in views if v.item.subject in members})
    entries += _consent_entries(session, ctx, subjects)
    entries.sort(key=lambda e: e.at, reverse=True)
    record_inbox_access(session, ctx=ctx, principal=who, action="read.list", views=views)
    session.commit()
    names = sorted({str(v.data["name"]) for v in views if v.data.get("name")})
    return page(request, ctx, "werkplek/huishouden.html", title="Huishouden",
                entries=entries, names=names, regisseur=house.regisseur,
                open_items=sum(1 for v in views if v.item.status != "closed"))
