"""The other way: a regisseur refers a resident to the practice's POH (``referral.poh``).

- ``POST /api/v1/referrals/poh`` (regisseur): for a resident of the regisseur's own
  wijk, to a practice (a partner of kind ``huisarts``). Stored as an outbound
  message through the core (``hub.core.outbound.send``: sealed, queued, audited)
  with the plugin's Task row in the same transaction.
- The worker delivers it: :func:`poh_request` builds the transaction Bundle the
  practice's FHIR server receives (Patient, ServiceRequest, Task, each a
  conditional create on the hub's identifier, so a retry creates nothing twice).
- ``GET /api/v1/referrals/poh/{id}``: delivery status and, once delivered, the
  status of the practice's Task, read from the practice's server.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.plugin import (
    ContextDep,
    FieldProblem,
    HubProblem,
    IdPath,
    OutboundEnvelope,
    OutboundRequest,
    Partner,
    PartnerInfo,
    RegisseurDep,
    Resident,
    SessionDep,
    household_of_subject,
    outbound,
    outbound_message,
    validate_bsn,
)
from plugins.huisarts import tasks
from plugins.huisarts.referral import BSN_SYSTEM, WIJKHUB

if TYPE_CHECKING:
    import httpx

KIND = "huisarts"
TASK_SYSTEM = f"{WIJKHUB}/NamingSystem/poh-task"
REQUEST_SYSTEM = f"{WIJKHUB}/NamingSystem/poh-service-request"
log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/referrals", tags=["referrals"])


class PohReferralCreate(BaseModel):
    """A referral to the POH (GGz) of a GP practice."""

    model_config = ConfigDict(extra="forbid")
    partner_id: str = Field(min_length=1, max_length=36, description="The GP practice.")
    bsn: str = Field(min_length=1, max_length=20, description="The resident's BSN (elfproef).")
    reason: str = Field(min_length=1, max_length=2000, description="Why, for the POH.")
    urgency: str = Field("routine", pattern="^(routine|urgent|asap|stat)$")

    @field_validator("bsn")
    @classmethod
    def _valid_bsn(cls, value: str) -> str:
        return validate_bsn(value)


class PohReferralPublic(BaseModel):
    """A referral to the POH as the regisseur follows it."""

    id: str
    delivery: str = Field(description="queued, delivered, failed or dead (the hub's sending)")
    task_status: str = Field(description="The practice's Task status as last seen, e.g. "
                                         "requested, accepted, in-progress, completed")
    attempts: int = 0


def _resident_in_wijk(session: Session, subject: str, wijk: str | None) -> Resident | None:
    household = household_of_subject(session=session, subject=subject)
    if household is None or household.wijk != wijk:
        return None
    return session.get(Resident, subject)


@router.post("/poh", status_code=202, response_model=PohReferralPublic)
def refer_to_poh(body: PohReferralCreate, ctx: ContextDep, session: SessionDep,
                 regisseur: RegisseurDep) -> PohReferralPublic:
    """Refer a resident of your own wijk to a practice's POH; the hub delivers it."""
    subject = ctx.pseudonyms.subject(body.bsn)
    resident = _resident_in_wijk(session, subject, regisseur.wijk)
    if resident is None:
        raise HubProblem(404, "Resident not found in your wijk",
                         [FieldProblem("bsn", "no resident with this BSN lives in your wijk")])
    practice = session.get(Partner, body.partner_id)
    if practice is None or practice.kind != KIND or not practice.active:
        raise HubProblem(404, "Practice not found",
                         [FieldProblem("partner_id", "no GP practice has this id")])
    now = ctx.clock()
    data = {"bsn": body.bsn, "reason": body.reason, "urgency": body.urgency,
            "regisseur": regisseur.user, "wijk": regisseur.wijk}
    message = outbound.send(session, ctx=ctx, partner_id=practice.id,
                            message_type="referral.poh", data=data, ref=str(uuid.uuid4()),
                            subject=subject, household_id=resident.household_id,
                            actor=regisseur.user, role=regisseur.role, now=now)
    task = tasks.create_outbound(session=session, partner_id=practice.id,
                                 message_id=message.id, requester=f"wijkteam:{regisseur.wijk}",
                                 now=now)
    session.commit()
    ctx.work_available.set()
    return PohReferralPublic(id=message.id, delivery=message.status, task_status=task.status)


@router.get("/poh/{referral_id}", response_model=PohReferralPublic)
def follow_poh_referral(referral_id: IdPath, ctx: ContextDep, session: SessionDep,
                        regisseur: RegisseurDep) -> PohReferralPublic:
    """Where a referral to the POH stands: delivered yet, and the practice's Task status."""
    task = session.scalar(select(tasks.ReferralTask).where(
        tasks.ReferralTask.message_id == referral_id, tasks.ReferralTask.direction == "out"))
    if task is None or task.requester != f"wijkteam:{regisseur.wijk}":
        raise HubProblem(404, "Referral not found",
                         [FieldProblem("referral_id", "no referral of your wijk has this id")])
    try:
        # The one read path decides who may know of an outbound message (issue 13).
        outbound_message(session=session, ctx=ctx, viewer=regisseur, message_id=referral_id,
                         now=ctx.clock(), message_type="referral.poh")
    except HubProblem:
        raise HubProblem(404, "Referral not found", [FieldProblem(
            "referral_id", "no referral of your wijk has this id")]) from None
    sent = outbound.status(session, message_id=referral_id)
    if sent.receipt and task.remote_id != sent.receipt:
        task.remote_id = sent.receipt
    if task.remote_id and task.status not in tasks.FINAL:
        _poll(ctx, session, task)
    session.commit()
    return PohReferralPublic(id=referral_id, delivery=sent.status, task_status=task.status,
                             attempts=sent.attempts)


def _poll(ctx: Any, session: Session, task: tasks.ReferralTask) -> None:
    """Read the practice's Task once; on any failure keep the status last seen."""
    import httpx  # here, not at the top: a command that never polls need not load it

    partner = session.get(Partner, task.partner_id)
    if not partner or not partner.endpoint:
        return
    url = f"{partner.endpoint.rstrip('/')}/{task.remote_id}"
    try:
        response = ctx.http.get(url, headers={"Accept": "application/fhir+json"})
        response.raise_for_status()
        status = response.json().get("status")
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        log.info("POH task of message %s not read: %s", task.message_id, type(exc).__name__)
        return
    if isinstance(status, str) and status in tasks.ORDER:
        tasks.move(task=task, status=status, now=ctx.clock())


# --- building what the worker sends -------------------------------------------------------


def poh_request(envelope: OutboundEnvelope, partner: PartnerInfo) -> OutboundRequest:
    """The transaction Bundle that puts a referral to the POH on the practice's FHIR server."""
    data, mid = envelope.data, envelope.id
    task_id, sr_id = tasks.task_id_for(mid), tasks.service_request_id_for(mid)
    patient = {"resourceType": "Patient",
               "identifier": [{"system": BSN_SYSTEM, "value": data["bsn"]}]}
    request = {
        "resourceType": "ServiceRequest", "status": "active", "intent": "order",
        "identifier": [{"system": REQUEST_SYSTEM, "value": sr_id}],
        "priority": data.get("urgency", "routine"),
        "subject": {"reference": "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, mid))},
        "requester": {"reference": "Organization/wijkteam",
                      "display": f"Sociaal wijkteam {data.get('wijk', '')}".strip()},
        "reasonCode": [{"text": data["reason"]}],
        "authoredOn": envelope.created_at.isoformat(),
    }
    patient_url = request["subject"]["reference"]
    task = {
        "resourceType": "Task", "status": "requested", "intent": "order",
        "identifier": [{"system": TASK_SYSTEM, "value": task_id}],
        "focus": {"reference": f"urn:uuid:{sr_id}"}, "for": {"reference": patient_url},
        "requester": {"reference": "Organization/wijkteam"},
        "owner": {"display": partner.name},
        "authoredOn": envelope.created_at.isoformat(),
    }
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": patient_url, "resource": patient, "request": {
            "method": "POST", "url": "Patient",
            "ifNoneExist": f"identifier={quote(BSN_SYSTEM + '|' + data['bsn'])}"}},
        {"fullUrl": f"urn:uuid:{sr_id}", "resource": request, "request": {
            "method": "POST", "url": "ServiceRequest",
            "ifNoneExist": f"identifier={quote(REQUEST_SYSTEM + '|' + sr_id)}"}},
        {"fullUrl": f"urn:uuid:{task_id}", "resource": task, "request": {
            "method": "POST", "url": "Task",
            "ifNoneExist": f"identifier={quote(TASK_SYSTEM + '|' + task_id)}"}},
    ]}
    return OutboundRequest(method="POST", path="", json=bundle,
                           headers={"Content-Type": "application/fhir+json",
                                    "Accept": "application/fhir+json"},
                           receipt=task_location)


def task_location(response: httpx.Response) -> str | None:
    """The practice's Task (``Task/123``) from its transaction-response, if it says."""
    try:
        body = response.json()
        for entry in body.get("entry") or []:
            location = (entry.get("response") or {}).get("location") or ""
            if location.startswith("Task/"):
                return "/".join(location.split("/")[:2])[:200]
    except (ValueError, AttributeError, TypeError):
        return None
    return None
