"""The regisseur's report to Veilig Thuis (meldcode step 5), through the core's outbox.

``POST /api/v1/veiligthuis/reports`` stores the report sealed and queues it
(hub.core.outbound.send); the core delivers it with retries and an
``Idempotency-Key``; :func:`request_for` shapes the HTTP request and reads
Veilig Thuis' reference from its answer as the receipt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from sqlalchemy import select

from hub.plugin import (
    ContextDep,
    FieldProblem,
    HubProblem,
    IdPath,
    InboxReaderDep,
    OutboundEnvelope,
    OutboundRequest,
    Partner,
    PartnerInfo,
    RegisseurDep,
    Resident,
    SessionDep,
    as_actor,
    get_item,
    household_of_subject,
    invalid,
    outbound,
    outbound_message,
    resident_identity,
    validate_bsn,
    withhold,
)
from plugins.veiligthuis.schemas import KIND, OUTBOUND_TYPE, ReportCreate, ReportStatus

if TYPE_CHECKING:
    import httpx

# Where Veilig Thuis takes reports, below the endpoint given with `hub partner add`.
REPORTS_PATH = "/meldingen"

router = APIRouter(prefix="/api/v1/veiligthuis", tags=["regisseur"])


def _veilig_thuis(session, partner_id: str | None) -> Partner:
    active = session.scalars(select(Partner).where(Partner.kind == KIND,
                                                   Partner.active.is_(True))).all()
    if partner_id is not None:
        chosen = next((p for p in active if p.id == partner_id), None)
        if chosen is None:
            raise invalid("partner_id", "is not an active Veilig Thuis partner")
        return chosen
    if not active:
        raise HubProblem(409, "No Veilig Thuis partner", [FieldProblem(
            "partner_id", "no Veilig Thuis partner is registered (hub partner add)")])
    if len(active) > 1:
        raise invalid("partner_id", "the hub knows several Veilig Thuis partners: name one")
    return active[0]


def _resident(ctx, session, regisseur, bsn: str) -> tuple[Resident, Any]:
    try:
        subject = ctx.pseudonyms.subject(validate_bsn(bsn))
    except ValueError as exc:
        raise invalid("bsn", str(exc)) from None
    resident = session.get(Resident, subject)
    household = household_of_subject(session=session, subject=subject)
    # One answer for "unknown" and "another wijk's": a BSN's existence is not confirmed.
    if resident is None or household is None or household.wijk != regisseur.wijk:
        raise invalid("bsn", "is not a resident of your wijk")
    if household.regisseur not in (None, regisseur.user):
        raise HubProblem(403, "Only the household's designated regisseur reports about it")
    return resident, household


@router.post("/reports", status_code=202, response_model=ReportStatus)
def send_report(body: ReportCreate, ctx: ContextDep, session: SessionDep,
                regisseur: RegisseurDep) -> ReportStatus:
    """Report to Veilig Thuis about a resident of the regisseur's wijk (meldcode step 5).

    Stored sealed and queued in one transaction; delivered with retries; the same
    ``ref`` again returns the first report. 422 names the field at fault (``bsn``,
    ``report.…``, ``related_item_id``, ``partner_id``); 409 when no Veilig Thuis
    partner is registered; 403 when the household has another designated regisseur.
    """
    now = ctx.clock()
    resident, household = _resident(ctx, session, regisseur, body.bsn)
    related = None
    if body.related_item_id is not None:
        item = get_item(session=session, ctx=ctx, wijk=regisseur.wijk,
                        item_id=body.related_item_id, now=now, viewer=regisseur)
        if item is None:
            raise invalid("related_item_id", "is not an item of your inbox")
        related = item.message_id
    partner = _veilig_thuis(session, body.partner_id)
    identity = resident_identity(ctx, resident)
    person = {k: identity.get(k) for k in ("name", "birthdate", "postcode", "huisnummer")}
    data = {**body.report.model_dump(mode="json"), "person": person}
    row = outbound.send(session, ctx=ctx, partner_id=partner.id, message_type=OUTBOUND_TYPE,
                        data=data, ref=body.ref, subject=resident.subject,
                        household_id=household.id, related_message_id=related, now=now,
                        **as_actor(regisseur))
    # The policy may keep the report from the resident's overview (and its audit lines).
    withhold(session=session, ctx=ctx, message_id=row.id, message_type=OUTBOUND_TYPE,
             subject=resident.subject, wijk=household.wijk, household_id=household.id,
             item_id=None, now=now)
    session.commit()
    return _status(session, ctx, row)


def _status(session, ctx, row) -> ReportStatus:
    state = outbound.status(session, message_id=row.id)
    # The ref is stored sealed (issue 13, item 10): opened for the answer.
    return ReportStatus(id=row.id, ref=outbound.ref_of(ctx, row), status=state.status,
                        attempts=state.attempts,
                        receipt=state.receipt, delivered_at=state.delivered_at,
                        last_error=state.last_error)


@router.get("/reports/{report_id}", response_model=ReportStatus)
def report_status(report_id: IdPath, ctx: ContextDep, session: SessionDep,
                  reader: InboxReaderDep) -> ReportStatus:
    """Where a report stands: for the regisseur who sent it and the household's designated
    regisseur, and, when it is about a safety report, for whoever may see that item
    (hub.core.reads). Anyone else: 404, since that a report exists is itself confidential."""
    try:
        row = outbound_message(session=session, ctx=ctx, viewer=reader, message_id=report_id,
                               now=ctx.clock(), message_type=OUTBOUND_TYPE)
    except HubProblem:
        raise HubProblem(404, "Report not found") from None
    status = _status(session, ctx, row)
    session.commit()  # the read is audited
    return status


def _reference(response: httpx.Response) -> str | None:
    # Veilig Thuis answers {"reference": "VT-…"}; anything else is no receipt.
    try:
        body: Any = response.json()
    except ValueError:
        return None
    value = body.get("reference") if isinstance(body, dict) else None
    return value if isinstance(value, str) and value else None


def request_for(envelope: OutboundEnvelope, partner: PartnerInfo) -> OutboundRequest | None:
    """The HTTP request for a report to Veilig Thuis; None for anything else."""
    if envelope.type != OUTBOUND_TYPE or partner.kind != KIND:
        return None
    data = dict(envelope.data)
    return OutboundRequest(method="POST", path=REPORTS_PATH, receipt=_reference, json={
        "id": envelope.id, "ref": envelope.ref, "sent_at": envelope.created_at.isoformat(),
        "case_ref": data.get("case_ref"), "concern": data["concern"],
        "acute": data.get("acute", False), "description": data["description"],
        "resident_informed": data["resident_informed"],
        "not_informed_reason": data.get("not_informed_reason"),
        "reporter": data["reporter"], "person": data["person"]})
