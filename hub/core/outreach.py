"""One household, one outreach (issue 16): early signals become one case with a due date.

Since 2021 the Wet gemeentelijke schuldhulpverlening obliges landlords, water
companies, energy suppliers and health insurers to signal payment arrears, and
the municipality to offer help. Signals about the same household from several
partners within the policy's window (``[outreach]`` in the policy file) become
one case, not four items to call about separately; the items stay in the inbox,
linked. Which signals count is decided by the statute that delivers them (the
vroegsignalering statute named in the policy) and the type's category, never by
a partner's name, so a new creditor's plugin joins without a change here.

Every read of a case goes through :func:`worklist` or :func:`get_case`, which apply
the wijk's visibility and show a linked item only when the inbox's own read path
(:mod:`hub.core.reads`) would show it to the same person. Attempts and the
closing are audited; the partners hear only what the inbox tells them today
(``taken_up`` when help is accepted, ``closed`` at the end).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from consent.bulk import execute_many, insert_many
from hub.core import inbox, reads
from hub.core.audit import record_event
from hub.core.context import HubContext
from hub.core.errors import FieldProblem, HubProblem, invalid
from hub.core.ids import new_uuid7
from hub.core.message_rows import RoutedMessage
from hub.core.models import Household, InboxItem, Message, Partner
from hub.core.outreach_models import OutreachAttempt, OutreachCase, OutreachSignal
from hub.core.routing_reads import RoutingReads
from hub.core.store import in_list, is_postgres

#: How an attempt was made; the Dutch words are what the regisseur and resident read.
KINDS: Mapping[str, str] = {
    "home_visit": "huisbezoek",
    "phone": "telefoon",
    "letter": "brief",
    "sms_email": "sms of e-mail",
    "via_partner": "via de melder",
}
#: What came of it; the close takes one of these as the case's outcome.
RESULTS: Mapping[str, str] = {
    "reached": "bereikt",
    "not_reached": "niet bereikt",
    "declined": "wil geen hulp",
    "help_accepted": "hulpaanbod aanvaard",
    "already_known": "al in beeld",
    "referred_debt_help": "doorverwezen naar schuldhulpverlening",
}
#: Results that mean the resident was reached (Divosa: "contact gelegd").
REACHED = frozenset(RESULTS) - {"not_reached"}
#: Results after which help starts: the linked items are taken up (partners hear it).
HELP_STARTS = frozenset({"help_accepted", "referred_debt_help"})
#: The resident's own contact fields in an arrears signal (the shared arrears shape,
#: Besluit gemeentelijke schuldhulpverlening art. 3): validated at the door.
CONTACT_FIELDS = ("phone", "email")


@dataclass(frozen=True)
class SignalView:
    """One linked signal as the viewer may see it (through the inbox's read path)."""

    item_id: str
    type: str
    partner_kind: str
    source_name: str
    summary: str
    amount_eur: Decimal | None
    received_at: datetime


@dataclass(frozen=True)
class CaseView:
    """A case with the signals the viewer may see, its attempts, and its place in the list."""

    case: OutreachCase
    signals: list[SignalView]
    attempts: list[OutreachAttempt]

    @property
    def partner_kinds(self) -> list[str]:
        """The distinct kinds of partner that signalled, in order of arrival."""
        return list(dict.fromkeys(s.partner_kind for s in self.signals))

    @property
    def amount_total(self) -> Decimal:
        """The sum of the visible signals' amounts (0 when none is visible)."""
        return sum((s.amount_eur for s in self.signals if s.amount_eur is not None),
                   Decimal(0))

    def overdue(self, now: datetime) -> bool:
        """True while no attempt was made and the due date has passed."""
        return self.case.first_attempt_at is None and self.case.due_at < now


def is_outreach_type(ctx: HubContext, type_name: str) -> bool:
    """Whether signals of this type open or join outreach cases.

    A type delivered under the policy's vroegsignalering statute whose category is
    ``financieel`` (arrears), or one that declares an ``outreach_priority`` (an
    energy end-of-supply notice), whatever its partner.
    """
    mt = ctx.plugins.catalog.type(type_name)
    type_policy = ctx.policy.for_type(type_name)
    if mt is None or type_policy is None:
        return False
    if type_policy.statute != ctx.policy.outreach.statute:
        return False
    return type_policy.category == "financieel" or mt.outreach_priority > 0


@dataclass(slots=True)
class CaseRow:
    """An ``outreach_cases`` row as routing reads and changes it: a plain row, not an ORM
    entity (issue 14: the entities' loading and unit of work were a tenth of a batch).

    ``new``: opened by this batch; ``changed``: joined by it. :func:`write_cases` stores
    both kinds with one statement each at the batch's end.
    """

    id: str
    wijk: str
    household_id: str
    subject: str | None
    status: str
    opened_at: datetime
    window_ends_at: datetime
    due_at: datetime
    first_attempt_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    outcome: str | None
    urgency: int
    first_for_household: bool
    contact_sealed: str | None
    updated_at: datetime
    new: bool = False
    changed: bool = False


_CASES = OutreachCase.__table__
CASE_COLUMNS = tuple(f.name for f in fields(CaseRow) if f.name not in ("new", "changed"))
#: What joining a case changes (the rest is set when it opens).
_JOINED = ("urgency", "subject", "contact_sealed", "updated_at")
# Built once per dialect, the household ids one parameter (hub.core.store.in_list), not an
# IN list whose every value is coerced again for each batch (issue 14).
_HOUSEHOLDS = Household.__table__
_LOCK_HOUSEHOLDS = {p: select(_HOUSEHOLDS).where(in_list(_HOUSEHOLDS.c.id, "ids", postgres=p))
                    .order_by(_HOUSEHOLDS.c.id).with_for_update() for p in (False, True)}
# Every case of the households, newest first: one statement gives both the open case
# and whether the household had any (first_for_household). A household has a handful
# of cases over the years; a second statement for a count cost a round trip per batch.
_HOUSEHOLD_CASES = {p: select(*(_CASES.c[name] for name in CASE_COLUMNS))
                    .where(in_list(_CASES.c.household_id, "ids", postgres=p))
                    .order_by(_CASES.c.opened_at.desc()) for p in (False, True)}
_UPDATE_CASES = (update(_CASES).where(_CASES.c.id == bindparam("b_id"))
                 .values({_CASES.c[name]: bindparam(f"b_{name}") for name in _JOINED}))


def write_cases(*, session: Session, reads: RoutingReads) -> None:
    """Store the cases this batch opened (one INSERT) and joined (one UPDATE of what
    joining changes), in the caller's transaction; before the signals that name them."""
    cases = [case for case in reads.open_cases.values() if case is not None
             and (case.new or case.changed)]
    opened = [{name: getattr(case, name) for name in CASE_COLUMNS}
              for case in cases if case.new]
    joined = [{"b_id": case.id, **{f"b_{name}": getattr(case, name) for name in _JOINED}}
              for case in cases if not case.new]
    if opened:
        insert_many(session, _CASES, opened)
    if joined:
        execute_many(session, _UPDATE_CASES, joined)
    for case in cases:
        case.new = case.changed = False


def prefetch_cases(*, session: Session, ctx: HubContext, reads: RoutingReads,
                   household_ids: Iterable[str], now: datetime) -> None:
    """Lock these households (sorted, one statement) and read into ``reads`` their open
    outreach cases and how many cases each had: two selects for the whole batch, for
    :func:`join_case`."""
    ids = sorted(set(household_ids) - reads.locked_households)
    if not ids:
        return
    # Serialises two workers routing signals of one household: one case, not two.
    # Rows, not entities: routing reads a household, never changes it. On SQLite the
    # routing transaction holds the database's one write lock from its BEGIN IMMEDIATE,
    # which serialises them already: only households the residents' select did not
    # bring are read there (a statement a batch less, issue 14).
    postgres = is_postgres(session)
    wanted = ids if postgres else [i for i in ids if i not in reads.households]
    if wanted:
        for household in session.execute(_LOCK_HOUSEHOLDS[postgres], {"ids": wanted}):
            reads.households[household.id] = household
    reads.locked_households.update(ids)
    for household_id in ids:
        reads.open_cases[household_id] = None
        reads.case_counts[household_id] = 0
    for row in session.execute(_HOUSEHOLD_CASES[postgres], {"ids": ids}):
        reads.case_counts[row.household_id] += 1
        # The newest case per household that is open and whose window still runs.
        if (reads.open_cases[row.household_id] is None and row.status == "open"
                and row.window_ends_at >= now):
            reads.open_cases[row.household_id] = CaseRow(*row)


def join_case(*, session: Session, ctx: HubContext, item: InboxItem,
              message: Message | RoutedMessage, partner: Partner, data: Mapping[str, Any],
              now: datetime, reads: RoutingReads | None = None) -> CaseRow | None:
    """Open or join the household's outreach case for a newly delivered item, in the
    caller's (the router's) transaction; None when the item is no early signal.

    Joins the household's open case while its window runs, else opens a new case due
    ``first_contact_days`` later. Signals not yet matched to a household (triage)
    and confidential items join nothing. With ``reads`` (the router's batch) the
    household is locked and its cases read by :func:`prefetch_cases`, and a case
    opened for an earlier message of the batch is found there; the case and its
    signal are stored at the batch's end (:func:`write_cases`, then the router's
    later inserts). Without, both are stored at once.
    """
    if item.household_id is None or item.confidential or not is_outreach_type(ctx, item.type):
        return None
    rules = ctx.policy.outreach
    if reads is None:
        reads = RoutingReads()
        flush = True
    else:
        flush = False
    prefetch_cases(session=session, ctx=ctx, reads=reads, household_ids=[item.household_id],
                   now=now)
    case = reads.open_cases[item.household_id]
    if case is None:
        case = CaseRow(
            id=new_uuid7(), wijk=item.wijk, household_id=item.household_id,
            subject=item.subject, status="open", opened_at=now,
            window_ends_at=now + timedelta(days=rules.window_days),
            due_at=now + timedelta(days=rules.first_contact_days), first_attempt_at=None,
            closed_at=None, closed_by=None, outcome=None, urgency=0,
            first_for_household=not reads.case_counts[item.household_id],
            contact_sealed=None, updated_at=now, new=True)
        reads.open_cases[item.household_id] = case
        reads.case_counts[item.household_id] += 1
    mt = ctx.plugins.catalog.type(item.type)
    case.urgency = max(case.urgency or 0, mt.outreach_priority if mt else 0)
    case.subject = case.subject or item.subject
    case.updated_at = now
    case.changed = True
    # Only what the basis lets through (the statute's minimal fields, or consent).
    contact = {k: data[k] for k in CONTACT_FIELDS if data.get(k)
               and (item.fields is None or k in item.fields)}
    if contact:
        known = (ctx.cipher.open(case.contact_sealed, context=f"outreach-contact:{case.id}")
                 if case.contact_sealed else {})
        case.contact_sealed = ctx.cipher.seal({**known, **contact},
                                              context=f"outreach-contact:{case.id}")
    signal = {"case_id": case.id, "item_id": item.id, "message_id": message.id,
              "type": item.type, "partner_kind": partner.kind,
              "received_at": message.received_at or now}
    if flush:
        write_cases(session=session, reads=reads)
        session.execute(insert(OutreachSignal.__table__), [signal])
    else:
        # Inserted after the batch's write_cases, which inserts the case (the router's).
        reads.insert_later(OutreachSignal.__table__, signal)
    return case


def _signal_views(session: Session, ctx: HubContext, wijk: str, case_ids: list[str],
                  viewer: Any, now: datetime) -> dict[str, list[SignalView]]:
    """The visible linked signals of each case, in order of arrival."""
    links = list(session.scalars(select(OutreachSignal).where(
        OutreachSignal.case_id.in_(case_ids))
        .order_by(OutreachSignal.received_at, OutreachSignal.id)))
    # The one read path decides: a revoked or confidential item is not shown.
    items = reads.get_items(session=session, ctx=ctx, wijk=wijk,
                            item_ids=[link.item_id for link in links], now=now, viewer=viewer)
    views: dict[str, list[SignalView]] = {case_id: [] for case_id in case_ids}
    for link in links:
        item = items.get(link.item_id)
        if item is None:
            continue
        view = inbox.view_item(session=session, ctx=ctx, item=item)
        views[link.case_id].append(SignalView(
            item_id=item.id, type=item.type, partner_kind=link.partner_kind,
            source_name=view.source_name, summary=view.summary,
            amount_eur=_amount(view.data.get("amount_eur")), received_at=link.received_at))
    return views


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def _attempts(session: Session, case_id: str) -> list[OutreachAttempt]:
    return list(session.scalars(select(OutreachAttempt).where(
        OutreachAttempt.case_id == case_id)
        .order_by(OutreachAttempt.attempted_on, OutreachAttempt.recorded_at)))


def _may_read(viewer: Any) -> bool:
    return viewer is not None and viewer.role in ("regisseur", "teamlead") and bool(viewer.wijk)


def get_case(*, session: Session, ctx: HubContext, viewer: Any, case_id: str,
             now: datetime) -> CaseView | None:
    """One case of the viewer's wijk with what they may see of it; None when it is
    missing, of another wijk, or shows no signal to them (the caller answers 404 alike)."""
    if not _may_read(viewer):
        return None
    case = session.get(OutreachCase, case_id)
    if case is None or case.wijk != viewer.wijk:
        return None
    signals = _signal_views(session, ctx, case.wijk, [case.id], viewer, now)[case.id]
    if not signals:
        return None
    return CaseView(case=case, signals=signals, attempts=_attempts(session, case.id))


def worklist(*, session: Session, ctx: HubContext, viewer: Any, now: datetime, limit: int,
             offset: int, status: str = "open") -> tuple[int, list[CaseView]]:
    """The wijk's cases, most urgent first, with the total before paging.

    Order: the type's urgency (an end-of-supply notice first), then the total amount,
    then the number of partners, then the due date. The amounts are sealed, so the
    order is made here rather than in SQL; a wijk has tens of open cases, not thousands.
    """
    if not _may_read(viewer):
        return 0, []
    cases = list(session.scalars(select(OutreachCase).where(
        OutreachCase.wijk == viewer.wijk, OutreachCase.status == status)))
    signals = _signal_views(session, ctx, viewer.wijk, [c.id for c in cases], viewer, now)
    views = [CaseView(case=case, signals=signals[case.id], attempts=[])
             for case in cases if signals[case.id]]
    views.sort(key=lambda v: (-v.case.urgency, -v.amount_total, -len(v.partner_kinds),
                              v.case.due_at, v.case.id))
    page = views[offset:offset + limit]
    return len(views), [CaseView(case=v.case, signals=v.signals,
                                 attempts=_attempts(session, v.case.id)) for v in page]


def contact_of(ctx: HubContext, case: OutreachCase) -> dict[str, str]:
    """The resident's lawful contact details on the case (``phone``, ``email``), opened."""
    if not case.contact_sealed:
        return {}
    return dict(ctx.cipher.open(case.contact_sealed, context=f"outreach-contact:{case.id}"))


def _linked_items(session: Session, case: OutreachCase) -> list[InboxItem]:
    # Actions reach every linked item, also one hidden since: its sender still hears
    # the end, exactly as when the regisseur closes it in the inbox.
    ids = session.scalars(select(OutreachSignal.item_id).where(
        OutreachSignal.case_id == case.id).order_by(OutreachSignal.id))
    return [item for item in (session.get(InboxItem, i) for i in ids) if item is not None]


def _closed() -> HubProblem:
    return HubProblem(409, "Deze zaak is al afgesloten",
                      [FieldProblem("case_id", "de zaak is al afgesloten")])


def record_attempt(*, session: Session, ctx: HubContext, case: OutreachCase, kind: str,
                   result: str, attempted_on: date, now: datetime, actor: str,
                   role: str) -> OutreachAttempt:
    """Record one contact attempt in the caller's transaction, audited.

    Refuses (422 naming the field) an unknown kind or result and a date in the future
    or before the case opened; a closed case takes no attempts (409). When help is
    accepted or the resident is referred to debt help, the linked items are taken up,
    so each partner hears ``taken_up`` as it does from the inbox.
    """
    if kind not in KINDS:
        raise invalid("kind", f"onbekende manier; kies uit {', '.join(KINDS)}")
    if result not in RESULTS:
        raise invalid("result", f"onbekende uitkomst; kies uit {', '.join(RESULTS)}")
    if attempted_on > now.date():
        raise invalid("attempted_on", "mag niet in de toekomst liggen")
    if attempted_on < case.opened_at.date():
        raise invalid("attempted_on", "ligt voor de eerste melding")
    if case.status != "open":
        raise _closed()
    attempt = OutreachAttempt(id=str(uuid.uuid4()), case_id=case.id, kind=kind, result=result,
                              attempted_on=attempted_on, actor=actor, role=role,
                              recorded_at=now)
    session.add(attempt)
    if case.first_attempt_at is None:
        case.first_attempt_at = now
    case.updated_at = now
    if result in HELP_STARTS:
        for item in _linked_items(session, case):
            if item.status == "new":
                inbox.take_up(session=session, ctx=ctx, item=item, now=now, actor=actor,
                              role=role)
    record_event(session, ctx=ctx, action="outreach.attempt", actor=actor, role=role,
                 subject=case.subject, data={"case_id": case.id, "attempt_id": attempt.id,
                                             "kind": kind, "result": result})
    session.flush()
    return attempt


def close_case(*, session: Session, ctx: HubContext, case: OutreachCase, outcome: str,
               now: datetime, actor: str, role: str) -> None:
    """Close the case with its outcome, and every linked inbox item with it (audited).

    Needs at least one attempt first (409); an outcome outside :data:`RESULTS` is a 422
    naming ``outcome``; closing twice is a 409. Each partner then hears what the inbox
    tells it on closing: ``closed``, or ``not_taken_up`` when help never started.
    """
    if outcome not in RESULTS:
        raise invalid("outcome", f"onbekende uitkomst; kies uit {', '.join(RESULTS)}")
    if case.status != "open":
        raise _closed()
    if not session.scalar(select(func.count()).select_from(OutreachAttempt).where(
            OutreachAttempt.case_id == case.id)):
        raise HubProblem(409, "Leg eerst minstens één contactpoging vast", [FieldProblem(
            "outcome", "een zaak sluit pas na minstens één contactpoging")])
    case.status, case.outcome, case.closed_at, case.closed_by = "closed", outcome, now, actor
    case.updated_at = now
    for item in _linked_items(session, case):
        inbox.close(session=session, ctx=ctx, item=item, now=now, actor=actor, role=role)
    record_event(session, ctx=ctx, action="outreach.closed", actor=actor, role=role,
                 subject=case.subject, data={"case_id": case.id, "outcome": outcome})
    session.flush()


def forget_lapsed_contacts(*, session: Session, dry_run: bool = False) -> int:
    """Remove the sealed contact details of every case none of whose signals is still
    shown (retention removed them, or the basis lapsed); returns how many cases.

    The details came with the signals and may be kept no longer than they are
    (``hub retention run`` calls this). With ``dry_run`` nothing changes.
    """
    forgotten = 0
    for case in session.scalars(select(OutreachCase).where(
            OutreachCase.contact_sealed.is_not(None))).all():
        if all(item.hidden for item in _linked_items(session, case)):
            forgotten += 1
            if not dry_run:
                case.contact_sealed = None
    return forgotten


@dataclass(frozen=True)
class ResidentAttempt:
    """What the resident reads about one attempt in /mijn, in plain Dutch."""

    attempted_on: date
    text: str


@dataclass(frozen=True)
class ResidentCase:
    """One case as its resident sees it: why we contacted them and what we tried."""

    why: str
    attempts: list[ResidentAttempt]
    closed: bool


_TRIED = {
    "home_visit": "kwam iemand van het wijkteam bij u langs",
    "phone": "belde het wijkteam u",
    "letter": "stuurde het wijkteam u een brief",
    "sms_email": "stuurde het wijkteam u een sms of e-mail",
    "via_partner": "vroeg het wijkteam {partners} om u te laten weten dat wij willen helpen",
}
_CAME_OF_IT = {
    "reached": "We hebben met u gesproken.",
    "not_reached": "We hebben u niet bereikt.",
    "declined": "U wilde geen hulp. Dat is uw keuze.",
    "help_accepted": "U wilde hulp. Het wijkteam helpt u verder.",
    "already_known": "U kreeg al hulp.",
    "referred_debt_help": "We hebben u doorverwezen naar de schuldhulpverlening.",
}


def for_resident(*, session: Session, ctx: HubContext, subject: str) -> list[ResidentCase]:
    """The resident's own cases, newest first: what was tried and why, in plain Dutch (B1).

    The reason names the organisations that signalled (the resident knows their own
    creditors), never amounts or the regisseur's notes.
    """
    from hub.core.audit_text import dutch_date

    out = []
    statute = ctx.policy.statutes.get(ctx.policy.outreach.statute)
    law = statute.title if statute else "de wet"
    cases = session.scalars(select(OutreachCase).where(OutreachCase.subject == subject)
                            .order_by(OutreachCase.opened_at.desc()))
    for case in cases:
        names = list(dict.fromkeys(
            session.get(Partner, m.source_partner).name
            for m in session.scalars(select(Message).join(
                OutreachSignal, OutreachSignal.message_id == Message.id).where(
                OutreachSignal.case_id == case.id))))
        partners = " en ".join(filter(None, [", ".join(names[:-1]), names[-1]])) \
            if names else "een organisatie"
        why = (f"{partners} lieten ons weten dat u achterloopt met betalen. De wet "
               f"({law}) vraagt de gemeente u dan hulp aan te bieden. Daarom zochten wij "
               f"contact met u.")
        attempts = [ResidentAttempt(
            attempted_on=a.attempted_on,
            text=(f"Op {dutch_date(datetime.combine(a.attempted_on, time(12), tzinfo=UTC))} "
                  f"{_TRIED[a.kind].format(partners=partners)}. {_CAME_OF_IT[a.result]}"))
            for a in _attempts(session, case.id)]
        out.append(ResidentCase(why=why, attempts=attempts, closed=case.status == "closed"))
    return out
