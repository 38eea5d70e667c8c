"""The regisseur's screens (``/werkplek``): the caseload ("Mijn huishoudens"), the wijk's
inbox (``/werkplek/inbox``), one item, one household's plan.

Every read and action goes through the same functions as the API routes
(:mod:`hub.api.inbox`, and so :mod:`hub.core.reads`, the one read path): the same
re-check of the basis, the same visibility rules, the same audit events, the same
status sent back to the partner on take-up and close. The household page adds
nothing the inbox would not show this viewer: only items visible to them now
(confidential ones as a neutral line, opened with a reason on the item's page),
the outbound messages tied to those items or sent by them, and the consents of
the residents they meet in those items (issue 13).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from consent import explain
from hub.api import caseload as caseload_api
from hub.api import inbox as inbox_api
from hub.api.deps import ContextDep, SessionDep
from hub.api.schemas import OpenConfidential
from hub.core.errors import HubProblem
from hub.core.reads import household_view
from hub.web.deps import CsrfChecked, InboxPage, RegisseurAction, valid_id
from hub.web.plan import date_words
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
    # The regisseur's wording, not the resident's ("uw Wmo-aanvraag"; issue 15, item 13).
    return [(name, mt.staff_wording) for name, mt in sorted(catalog.types.items())
            if mt.inbound]


@router.get("")
def caseload(request: Request, ctx: ContextDep, session: SessionDep, who: InboxPage,
             zoek: str | None = None, pagina: str | None = None) -> Response:
    """"Mijn huishoudens" (a regisseur), or the wijk's households without a regisseur and
    the items still to be attached (a team lead); searchable, paged. Same function as
    ``GET /api/v1/caseload``."""
    q = (zoek or "").strip()[:200] or None
    number = int(pagina) if pagina and pagina.isdigit() and 0 < int(pagina) < 10_000 else 1
    error = None
    try:
        listing = caseload_api.caseload(ctx=ctx, session=session, staff=who, q=q,
                                        offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    except HubProblem as exc:
        if exc.status != 422:
            raise _from_problem(exc) from None
        session.rollback()
        error = ("Zoek op een woord van minstens 2 letters, een postcode of een "
                 "huisnummer.")
        listing = caseload_api.CaseloadPage(total=0, offset=0, limit=PAGE_SIZE, entries=[])
    pages = max(1, -(-listing.total // PAGE_SIZE))
    sections = {name: [e for e in listing.entries if e.section == name]
                for name in ("mine", "unassigned", "triage")}
    return page(request, ctx, "werkplek/caseload.html",
                title="Mijn huishoudens" if who.role == "regisseur" else "Huishoudens",
                listing=listing, sections=sections, zoek=q or "", error=error,
                number=number, pages=pages, date_words=date_words,
                status=422 if error else 200)


@router.get("/inbox")
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
    return mt.staff_wording if mt is not None else type_name


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


def _consent_entries(house) -> list[Entry]:
    entries: list[Entry] = []
    for record in house.consents:
        sources = explain.describe_sources(
            kinds=sorted(record.source_kinds),
            partner_names=[house.partner_names.get(p, p) for p in sorted(record.source_partners)])
        about = explain.join_dutch([explain.describe_category(c)
                                    for c in sorted(record.categories)])
        scope = f"Over {about}, van {sources}."
        entries.append(Entry(record.granted_at, "toestemming", "Toestemming gegeven", scope))
        if record.revoked_at is not None:
            entries.append(Entry(record.revoked_at, "toestemming", "Toestemming ingetrokken",
                                 scope))
    return entries


def _outbound_entries(ctx, house) -> list[Entry]:
    # What the hub sent to partners for this household that this viewer may know of
    # (hub.core.reads decides): generic, so every plugin's outbound type shows here.
    return [Entry(message.created_at, "verstuurd",
                  f"Verstuurd naar {message.partner_name or 'een partner'}: "
                  f"{_topic(ctx, message.type)}",
                  f"Stand: {_OUT_WORDS.get(message.status, message.status)}.")
            for message in house.outbound]


_OUT_WORDS = {"queued": "wordt verstuurd", "delivered": "aangekomen",
              "failed": "niet aangekomen; de beheerder kijkt ernaar",
              "withheld": "niet verstuurd: de toestemming van de bewoner geldt niet meer"}


@router.get("/huishouden/{household_id}")
def household(household_id: str, request: Request, ctx: ContextDep, session: SessionDep,
              who: InboxPage) -> Response:
    """One household, one plan: every visible item, everything sent, and the consents of
    the residents those items are about, on one line."""
    if not valid_id(household_id):
        raise _not_found()
    try:
        house = household_view(session=session, ctx=ctx, viewer=who,
                               household_id=household_id, now=ctx.clock())
    except HubProblem as exc:
        raise _from_problem(exc) from None
    views = house.items
    entries = [Entry(v.item.delivered_at, "melding", v.summary or _topic(ctx, v.item.type),
                     f"Van {v.source_name}. {v.staff_reason or v.item.reason}",
                     f"/werkplek/melding/{v.item.id}") for v in views]
    entries += _outbound_entries(ctx, house)
    entries += _consent_entries(house)
    entries.sort(key=lambda e: e.at, reverse=True)
    session.commit()
    return page(request, ctx, "werkplek/huishouden.html", title="Huishouden",
                entries=entries, members=house.members, regisseur=house.regisseur,
                open_items=sum(1 for v in views if v.item.status != "closed"))
