"""The regisseur's caseload (issue 17, item 1): "Mijn huishoudens", then for the team lead
the wijk's households without a regisseur and the items still to be attached (triage).

A read of households and items, so it belongs to the read path: the items are
decided again first (:func:`hub.core.inbox.recheck`) and counted only where the
viewer may see them (:func:`hub.core.confidential.visible_to`, as the inbox): a
held or hidden item never counts, a confidential one only for its addressee (or,
while the household has no regisseur, the team lead). Names are those the viewer
may know (:func:`hub.core.reads.nameable`); housemates are a number.

Cost: the sections and their order come from two grouped queries on ids and
dates; only the households on the requested page have their residents'
identities and their current plan opened. A search never opens an identity: it
looks up keyed-hash tokens (:mod:`hub.core.search`).

Due outreach dates come from an outreach module when one is installed (issue 16,
built elsewhere): :data:`OUTREACH_MODULE` providing
``due_dates(*, session, household_ids) -> dict[household id, date]``. Without it the
column stays empty.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from hub.core.audit import record_inbox_access
from hub.core.confidential import visible_to
from hub.core.context import HubContext
from hub.core.errors import HubProblem, invalid
from hub.core.inbox import ItemView, recheck, view_item
from hub.core.models import Household, InboxItem, Resident, SearchToken
from hub.core.plan import evaluation_dates
from hub.core.reads import nameable
from hub.core.residents import resident_identity
from hub.core.search import all_tokens, parse_query

# The hook point for the outreach cases of issue 16: a module with ``due_dates``.
OUTREACH_MODULE = "hub.core.outreach"
SECTIONS = ("mine", "unassigned", "triage")


@dataclass(frozen=True)
class CaseloadEntry:
    """One line of the caseload: a household (``mine``, ``unassigned``) or a triage item.

    ``names``: the residents the viewer may know by name; ``housemates``: how many
    others live there. ``open_items``: the visible items not closed, newest first;
    ``newest``: the newest visible item (closed or not). ``outreach_due`` is filled
    only when the outreach module is installed.
    """

    section: str
    household_id: str | None
    address: str | None
    names: list[str]
    housemates: int
    regisseur: str | None
    open_items: list[ItemView]
    newest: ItemView | None
    outreach_due: date | None
    evaluation_date: str | None


@dataclass(frozen=True)
class Caseload:
    """One page of the caseload, with the number of lines before paging."""

    total: int
    entries: list[CaseloadEntry]


def _item_stats(session: Session, wijk: str, viewer: Any):
    """Per household of the wijk: the newest visible item's time and the open ones' count."""
    visible = [InboxItem.wijk == wijk, InboxItem.hidden.is_(False), visible_to(viewer),
               InboxItem.household_id.is_not(None)]
    rows = session.execute(
        select(InboxItem.household_id, func.max(InboxItem.delivered_at),
               func.sum(case((InboxItem.status != "closed", 1), else_=0)))
        .where(*visible).group_by(InboxItem.household_id)).all()
    return {hid: (newest, int(open_ or 0)) for hid, newest, open_ in rows}


def _matching(session: Session, ctx: HubContext, viewer: Any, q: str,
              candidates: set[str], now: datetime) -> set[str]:
    """The candidate households every search term matches (names only where nameable)."""
    terms = parse_query(ctx, q)
    if not terms:
        raise invalid("q", "needs a word of at least 2 letters, a postcode or a house number")
    rows = session.execute(select(SearchToken.token, SearchToken.kind,
                                  SearchToken.household_id, SearchToken.subject)
                           .where(SearchToken.token.in_(all_tokens(terms)),
                                  SearchToken.household_id.in_(candidates))).all()
    by_household: dict[str, list] = {}
    for row in rows:
        by_household.setdefault(row.household_id, []).append(row)
    found = set()
    for household_id, hits in by_household.items():
        named_hits = {h.subject for h in hits if h.kind == "name"}
        seen = _seen_subjects(session, viewer, household_id) if named_hits else set()
        may = nameable(session=session, subjects=named_hits, seen=seen, now=now)
        usable = {h.token for h in hits if h.kind != "name" or h.subject in may}
        if all(term.tokens & usable for term in terms):
            found.add(household_id)
    return found


def _seen_subjects(session: Session, viewer: Any, household_id: str) -> set[str]:
    return set(session.scalars(select(InboxItem.subject).where(
        InboxItem.household_id == household_id, InboxItem.hidden.is_(False),
        visible_to(viewer), InboxItem.subject.is_not(None))))


def _outreach_due(session: Session, household_ids: list[str]) -> dict[str, date]:
    try:
        module = importlib.import_module(OUTREACH_MODULE)
    except ModuleNotFoundError:
        return {}
    due_dates = getattr(module, "due_dates", None)
    return due_dates(session=session, household_ids=household_ids) if due_dates else {}


def read_caseload(*, session: Session, ctx: HubContext, viewer: Any, now: datetime,
                  q: str | None = None, offset: int = 0, limit: int = 25) -> Caseload:
    """The viewer's caseload, paged, audited as ``read.list`` for the items it shows.

    A regisseur: the households of their wijk they are the designated regisseur of,
    the most recent signal first (those without a visible item last). A team lead: the
    wijk's households without a regisseur that have an open visible item, then the open
    triage items. ``q`` (name, street, place, postcode, house number; whole words,
    every word must match) narrows the households; triage items are not searched (they
    have no registry entry). 422 for a search with no usable word.
    """
    if viewer.role not in ("regisseur", "teamlead") or not viewer.wijk:
        raise HubProblem(403, "Only the wijk's regisseurs and team leads have a caseload")
    wijk = viewer.wijk
    recheck(session=session, ctx=ctx, now=now, wijk=wijk)
    stats = _item_stats(session, wijk, viewer)
    if viewer.role == "regisseur":
        ids = list(session.scalars(select(Household.id).where(
            Household.wijk == wijk, Household.regisseur == viewer.user)))
        lines = [("mine", hid) for hid in ids]
    else:
        waiting = [hid for hid, (_newest, open_) in stats.items() if open_]
        ids = list(session.scalars(select(Household.id).where(
            Household.id.in_(waiting), Household.wijk == wijk,
            Household.regisseur.is_(None)))) if waiting else []
        lines = [("unassigned", hid) for hid in ids]
    if q is not None and q.strip():
        found = _matching(session, ctx, viewer, q, {hid for _s, hid in lines}, now)
        lines = [line for line in lines if line[1] in found]
    # Newest signal first; households without a visible item after them (by id: stable).
    lines.sort(key=lambda line: (stats.get(line[1], (None, 0))[0] is None,
                                 -(stats[line[1]][0].timestamp() if line[1] in stats else 0),
                                 line[1]))
    triage: list[InboxItem] = []
    if viewer.role == "teamlead" and not (q and q.strip()):
        triage = list(session.scalars(select(InboxItem).where(
            InboxItem.wijk == wijk, InboxItem.triage.is_(True), InboxItem.hidden.is_(False),
            InboxItem.status != "closed", visible_to(viewer))
            .order_by(InboxItem.delivered_at.desc(), InboxItem.id)))
    total = len(lines) + len(triage)
    page_lines = lines[offset:offset + limit]
    page_triage = triage[max(0, offset - len(lines)):max(0, offset + limit - len(lines))]
    entries = _household_entries(session, ctx, viewer, page_lines, now)
    entries += [_triage_entry(session, ctx, item) for item in page_triage]
    record_inbox_access(session, ctx=ctx, principal=viewer, action="read.list",
                        views=[v for e in entries for v in e.open_items])
    return Caseload(total=total, entries=entries)


def _household_entries(session: Session, ctx: HubContext, viewer: Any,
                       lines: list[tuple[str, str]], now: datetime) -> list[CaseloadEntry]:
    ids = [hid for _section, hid in lines]
    if not ids:
        return []
    households = {h.id: h for h in session.scalars(select(Household).where(Household.id.in_(ids)))}
    items = session.scalars(select(InboxItem).where(
        InboxItem.household_id.in_(ids), InboxItem.wijk == viewer.wijk,
        InboxItem.hidden.is_(False), visible_to(viewer))
        .order_by(InboxItem.delivered_at.desc(), InboxItem.id)).all()
    residents = session.scalars(select(Resident).where(Resident.household_id.in_(ids))
                                .order_by(Resident.subject)).all()
    evaluations = evaluation_dates(session=session, ctx=ctx, household_ids=ids)
    outreach = _outreach_due(session, ids)
    entries = []
    for section, hid in lines:
        own = [i for i in items if i.household_id == hid]
        views = [view_item(session=session, ctx=ctx, item=i, opened=False) for i in own]
        people = [r for r in residents if r.household_id == hid]
        named = nameable(session=session, subjects={r.subject for r in people},
                         seen={i.subject for i in own if i.subject}, now=now)
        identities = {r.subject: resident_identity(ctx, r) for r in people}
        entries.append(CaseloadEntry(
            section=section, household_id=hid,
            address=_address(next(iter(identities.values()), None)),
            names=[identities[r.subject]["name"] for r in people if r.subject in named],
            housemates=sum(1 for r in people if r.subject not in named),
            regisseur=households[hid].regisseur,
            open_items=[v for v in views if v.item.status != "closed"],
            newest=views[0] if views else None, outreach_due=outreach.get(hid),
            evaluation_date=evaluations.get(hid)))
    return entries


def _address(identity: dict | None) -> str | None:
    """"Dordtsestraat 12, 3311 AB Dordrecht" from what the registry has."""
    if not identity:
        return None
    postcode = identity.get("postcode") or ""
    postcode = f"{postcode[:4]} {postcode[4:]}" if len(postcode) == 6 else postcode
    street = " ".join(p for p in (identity.get("street"), identity.get("huisnummer")) if p)
    place = " ".join(p for p in (postcode, identity.get("place")) if p)
    return ", ".join(p for p in (street, place) if p) or None


def _triage_entry(session: Session, ctx: HubContext, item: InboxItem) -> CaseloadEntry:
    view = view_item(session=session, ctx=ctx, item=item, opened=False)
    return CaseloadEntry(section="triage", household_id=None, address=None, names=[],
                         housemates=0, regisseur=None, open_items=[view], newest=view,
                         outreach_due=None, evaluation_date=None)
