"""The Wmo desk's work: file a request, take in the desk's answers, watch the legal terms.

Every function takes the caller's session and writes in the caller's transaction,
so a request, its outbound message and its audit event commit together.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.plugin import (
    FieldProblem,
    HubContext,
    HubProblem,
    Partner,
    Principal,
    ReceivedMessage,
    as_actor,
    format_date,
    household_of_subject,
    insert_if_absent,
    invalid,
    outbound,
    record_event,
)
from plugins.sdd.models import WmoRequest
from plugins.sdd.schemas import IWMO_CATEGORIES, WmoRequestIn

log = logging.getLogger(__name__)

KIND = "sdd"
BASIS = "statute:wmo2015"  # the audit's basis field for the plugin's events
REQUEST_TYPE = "wmo.request"
STATUS_TYPE = "wmo.status"
DECISION_TYPE = "wmo.decision"
# Wmo 2015 art. 2.3.2: the investigation within six weeks of the melding;
# art. 2.3.5: the decision within two weeks of the aanvraag.
ONDERZOEK_TERM = timedelta(weeks=6)
BESLUIT_TERM = timedelta(weeks=2)
# How far back a melding or aanvraag may lie when a request is filed.
MAX_AGE = timedelta(days=366)

try:
    _ZONE = ZoneInfo("Europe/Amsterdam")
except ZoneInfoNotFoundError:  # a slim container without tz data: at most a day off
    _ZONE = UTC


def local_date(now: datetime) -> date:
    """The calendar date in Dordrecht at ``now``: the Wmo's terms count Dutch days."""
    return now.astimezone(_ZONE).date()


def _context(request_id: str) -> str:
    return f"wmo_request:{request_id}"


# --- filing a request ---------------------------------------------------------------

def _desk(session: Session, name_or_id: str | None) -> Partner:
    desks = list(session.scalars(select(Partner).where(Partner.kind == KIND,
                                                       Partner.active.is_(True))
                                 .order_by(Partner.name)))
    if name_or_id is not None:
        for desk in desks:
            if name_or_id in (desk.id, desk.name):
                return desk
        raise invalid("desk", "is not a registered Wmo desk")
    if not desks:
        raise HubProblem(409, "No Wmo desk is registered", [FieldProblem(
            "desk", "no partner of kind sdd is registered; an operator adds one with "
                    "hub partner add --kind sdd")])
    if len(desks) > 1:
        raise invalid("desk", "more than one Wmo desk is registered: name one")
    return desks[0]


def _household_in_wijk(session: Session, subject: str, wijk: str | None) -> str:
    household = household_of_subject(session=session, subject=subject)
    # Unknown and elsewhere answer alike: a regisseur learns nothing about other wijken.
    if household is None or wijk is None or household.wijk != wijk:
        raise HubProblem(404, "Resident not found in your wijk",
                         [FieldProblem("bsn", "no resident with this BSN lives in your wijk")])
    return household.id


def deadlines(melding: date, aanvraag: date | None) -> tuple[date, date | None]:
    """The last day of the investigation term and, once applied for, of the decision term."""
    return melding + ONDERZOEK_TERM, (aanvraag + BESLUIT_TERM if aanvraag else None)


def create_request(*, session: Session, ctx: HubContext, regisseur: Principal,
                   body: WmoRequestIn, idempotency_key: str | None,
                   now: datetime) -> tuple[WmoRequest, bool]:
    """File a Wmo request for a resident of the regisseur's wijk; returns it and whether
    this call made it (the same ``Idempotency-Key`` again returns the first one).

    The BSN is pseudonymised for the table and kept only inside the sealed data that
    goes to the desk. Raises :class:`HubProblem` (nothing stored) when the resident
    does not live in the regisseur's wijk, no desk is registered, or a date lies ahead.
    """
    today = local_date(now)
    # A melding always comes first: without its date, the aanvraag's (or today) stands in.
    melding = body.melding_date or body.aanvraag_date or today
    for field, value in (("melding_date", body.melding_date),
                         ("aanvraag_date", body.aanvraag_date)):
        if value is not None and value > today:
            raise invalid(field, "must not be in the future")
        if value is not None and value < today - MAX_AGE:
            # Long past every term: a typo, not a request to track.
            raise invalid(field, "must be within the last year")
    subject = ctx.pseudonyms.subject(body.bsn)
    household_id = _household_in_wijk(session, subject, regisseur.wijk)
    desk = _desk(session, body.desk)
    if idempotency_key is not None:
        existing = session.scalar(select(WmoRequest).where(
            WmoRequest.created_by == regisseur.user,
            WmoRequest.idempotency_key == idempotency_key))
        if existing is not None:
            return existing, False
    request_id = str(uuid.uuid4())
    data = {"request_id": request_id, "bsn": body.bsn, "provision": body.provision,
            "provision_name": IWMO_CATEGORIES[body.provision], "reason": body.reason,
            "urgency": body.urgency, "plan_ref": body.plan_ref,
            "melding_date": melding.isoformat(),
            "aanvraag_date": body.aanvraag_date.isoformat() if body.aanvraag_date else None,
            "wijk": regisseur.wijk, "regisseur": regisseur.user}
    onderzoek_due, besluit_due = deadlines(melding, body.aanvraag_date)
    created = insert_if_absent(session, WmoRequest.__table__, {
        "id": request_id, "subject": subject, "household_id": household_id,
        "wijk": regisseur.wijk, "desk_partner": desk.id, "provision": body.provision,
        "urgency": body.urgency,
        "data_sealed": ctx.cipher.seal(data, context=_context(request_id)),
        "status": "submitted", "melding_date": melding, "aanvraag_date": body.aanvraag_date,
        "onderzoek_due": onderzoek_due, "besluit_due": besluit_due,
        "created_by": regisseur.user, "idempotency_key": idempotency_key,
        "created_at": now, "updated_at": now})
    if not created:  # a concurrent call with the same Idempotency-Key won the race
        return session.scalar(select(WmoRequest).where(
            WmoRequest.created_by == regisseur.user,
            WmoRequest.idempotency_key == idempotency_key)), False
    request = session.get(WmoRequest, request_id)
    send_to_desk(session=session, ctx=ctx, request=request, data=data, regisseur=regisseur,
                 now=now)
    record_event(session, ctx=ctx, action="wmo.request.created", **as_actor(regisseur),
                 subject=subject, data={"request_id": request_id, "desk": desk.id,
                                        "provision": body.provision,
                                        "fields": sorted(k for k, v in data.items()
                                                         if v is not None)},
                 basis=BASIS)
    log.info("wmo request %s filed for desk %s", request_id, desk.id)
    return request, True


def send_to_desk(*, session: Session, ctx: HubContext, request: WmoRequest,
                 data: Mapping[str, Any], regisseur: Principal, now: datetime) -> None:
    """Queue the request for the desk through the core's outbound delivery, in the same
    transaction: the worker posts it to the desk's endpoint, retrying until it answers."""
    message = outbound.send(session, ctx=ctx, partner_id=request.desk_partner,
                            message_type=REQUEST_TYPE, data=dict(data), ref=request.id,
                            subject=request.subject, household_id=request.household_id,
                            actor=regisseur.user, role=regisseur.role, now=now)
    request.message_id = message.id


def open_data(ctx: HubContext, request: WmoRequest) -> dict[str, Any]:
    """The sealed part of a request (BSN, reason, plan): for the desk and its regisseur."""
    return ctx.cipher.open(request.data_sealed, context=_context(request.id))


# --- the desk's answers (wijkhub_message_received) ------------------------------------

def _own_request(session: Session, message: ReceivedMessage) -> WmoRequest:
    request = session.get(WmoRequest, message.data["request_id"], with_for_update=True)
    if request is None or request.desk_partner != message.partner_id:
        # Another desk's request looks exactly like none at all.
        raise invalid("data.request_id", "is not a Wmo request this hub sent to your desk")
    if message.subject is None:
        raise invalid("subject.bsn", "a Wmo desk names the resident by BSN")
    if message.subject != request.subject:
        raise invalid("subject.bsn", "is not the resident this Wmo request is for")
    return request


def record_answer(*, session: Session, ctx: HubContext, message: ReceivedMessage) -> None:
    """Move a request on by the desk's ``wmo.status`` or ``wmo.decision``, or refuse it.

    Refuses (422/409, the caller stores nothing) a reference to a request that does
    not exist or went to another desk, another resident's BSN, a status after the
    decision, and a second decision.
    """
    if message.partner_kind != KIND or message.type not in (STATUS_TYPE, DECISION_TYPE):
        return
    request = _own_request(session, message)
    data, now = message.data, message.received_at
    if request.decision_message_id is not None:
        raise HubProblem(409, "The desk already decided on this request", [FieldProblem(
            "data.request_id", "already has a decision; send a new request for a new one")])
    if message.type == STATUS_TYPE:
        request.status, request.status_message_id = "in_behandeling", message.id
        if data.get("aanvraag_date"):
            aanvraag = date.fromisoformat(data["aanvraag_date"])
            if aanvraag < request.melding_date:
                raise invalid("data.aanvraag_date", "must not be before the melding date")
            if aanvraag > local_date(now):
                raise invalid("data.aanvraag_date", "must not be in the future")
            request.aanvraag_date = aanvraag
            request.besluit_due = deadlines(request.melding_date, aanvraag)[1]
    else:
        request.status, request.decision_message_id = "besluit", message.id
        request.decided_at = now
    if data.get("desk_reference"):
        request.desk_reference = data["desk_reference"]
    request.updated_at = now
    record_event(session, ctx=ctx, action=f"{message.type}.received",
                 actor=message.partner_id, role="partner", subject=request.subject,
                 data={"request_id": request.id, "message_id": message.id,
                       "status": request.status}, basis=BASIS)
    log.info("wmo request %s: %s from desk %s", request.id, request.status,
             message.partner_id)


# --- the legal terms ------------------------------------------------------------------

@dataclass(frozen=True)
class Term:
    """One running legal term of a request, as the regisseur reads it."""

    kind: str  # onderzoek | besluit
    due: date
    working_days_left: int
    overdue: bool
    near: bool
    text: str


def working_days_between(start: date, end: date) -> int:
    """Monday-to-Friday days after ``start`` up to and including ``end`` (negative if past).

    Public holidays count as working days: a warning a day early does no harm.
    """
    if end < start:
        return -working_days_between(end, start)
    weeks, rest = divmod((end - start).days, 7)
    # Whole weeks hold five working days each; the rest starts on start's own weekday.
    return weeks * 5 + sum((start + timedelta(days=i)).weekday() < 5
                           for i in range(1, rest + 1))


def _long_date(day: date) -> str:
    return format_date(datetime(day.year, day.month, day.day, 12, tzinfo=UTC))


def _term_text(kind: str, due: date, left: int, overdue: bool) -> str:
    what, since = (("het onderzoek afronden", "6 weken na de melding") if kind == "onderzoek"
                   else ("een besluit nemen", "2 weken na de aanvraag"))
    if overdue:
        return (f"De termijn is verlopen: de Wmo-desk had uiterlijk {_long_date(due)} "
                f"{what} moeten hebben ({since}). Neem contact op met de Wmo-desk.")
    days = "vandaag" if left <= 0 else f"nog {left} werkdag" + ("en" if left != 1 else "")
    return (f"Let op: de Wmo-desk moet uiterlijk {_long_date(due)} {what} ({since}). "
            f"De termijn loopt af: {days}.")


def running_terms(request: WmoRequest, *, today: date, warn_days: int) -> list[Term]:
    """The term that runs now (none once decided): the investigation until the desk
    has the aanvraag, then the decision. ``near`` when at most ``warn_days`` working
    days are left."""
    if request.status == "besluit":
        return []
    if request.aanvraag_date is None:
        kind, due = "onderzoek", request.onderzoek_due
    else:
        kind, due = "besluit", request.besluit_due
    left = working_days_between(today, due)
    overdue = today > due
    near = overdue or left <= warn_days
    return [Term(kind=kind, due=due, working_days_left=left, overdue=overdue, near=near,
                 text=_term_text(kind, due, left, overdue))]


@dataclass
class TermsReport:
    """What a terms check found: requests checked and the ones it flagged now."""

    at: datetime
    checked: int = 0
    flagged: int = 0
    overdue: int = 0

    def as_json(self) -> dict[str, Any]:
        """The report as ``hub wmo check-terms`` prints it (counts only)."""
        return {"at": self.at.isoformat(), "checked": self.checked, "flagged": self.flagged,
                "overdue": self.overdue}


def check_terms(*, session: Session, ctx: HubContext, now: datetime,
                warn_days: int) -> TermsReport:
    """Flag, in the caller's transaction, every undecided request whose running term has
    at most ``warn_days`` working days left (or has passed), once per term.

    A flag is what ``GET /api/v1/wmo/requests?due=soon`` shows its regisseur, with the
    Dutch text; each new flag is audited. Running it again flags nothing new.
    """
    report = TermsReport(at=now)
    today = local_date(now)
    rows = session.scalars(select(WmoRequest).where(WmoRequest.status != "besluit")
                           .order_by(WmoRequest.created_at, WmoRequest.id)
                           .with_for_update()).all()
    for request in rows:
        report.checked += 1
        for term in running_terms(request, today=today, warn_days=warn_days):
            if term.overdue:
                report.overdue += 1
            if not term.near or request.flagged_term == term.kind:
                continue
            request.flagged_term, request.flagged_at = term.kind, now
            report.flagged += 1
            record_event(session, ctx=ctx, action="wmo.term.flagged", actor="wmo-terms",
                         role="system", subject=request.subject,
                         data={"request_id": request.id, "term": term.kind,
                               "due": term.due.isoformat(), "wijk": request.wijk},
                         basis=BASIS)
    log.info("wmo terms checked: %s requests, %s flagged now, %s overdue", report.checked,
             report.flagged, report.overdue)
    return report
