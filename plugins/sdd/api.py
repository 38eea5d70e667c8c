"""The regisseur's Wmo routes: file a request, follow it, see which terms run out."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.plugin import (
    ContextDep,
    Event,
    HubContext,
    HubProblem,
    IdPath,
    InboxReaderDep,
    Message,
    Partner,
    Principal,
    RegisseurDep,
    SessionDep,
    as_actor,
    outbound,
    record_events,
)
from plugins.sdd import service
from plugins.sdd.config import WmoSettings
from plugins.sdd.models import WmoRequest
from plugins.sdd.schemas import IWMO_CATEGORIES, WmoRequestIn

router = APIRouter(prefix="/api/v1/wmo", tags=["wmo"])
IdempotencyKey = Annotated[str | None, Header(
    min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$", alias="Idempotency-Key",
    description="Makes a retry safe: the same key returns the request made with it.")]

Status = Literal["queued", "delivery_failed", "submitted", "in_behandeling", "besluit"]
STATUS_TEXT = {
    "queued": "Wordt verstuurd naar de Wmo-desk.",
    "delivery_failed": "Versturen naar de Wmo-desk lukt niet. De beheerder van de hub kan "
                       "het opnieuw versturen.",
    "submitted": "Aangevraagd bij de Wmo-desk.",
    "in_behandeling": "In behandeling bij de Wmo-desk.",
    "besluit": "De Wmo-desk heeft een besluit genomen.",
}


class TermPublic(BaseModel):
    """A legal term that runs now."""

    kind: Literal["onderzoek", "besluit"]
    due: date
    working_days_left: int
    near: bool = Field(description="At most HUB_WMO_WARN_DAYS working days left, or past.")
    overdue: bool
    text: str = Field(description="For the regisseur, in Dutch.")


class DeliveryPublic(BaseModel):
    """How delivery of the request to the desk went (the core's outbound status)."""

    status: Literal["queued", "delivered", "failed"]
    attempts: int
    last_error: str | None = Field(description="The last attempt's error (an HTTP status or "
                                               "an error type), never message data.")
    delivered_at: datetime | None
    receipt: str | None = Field(description="The desk's reference from its answer.")


class DecisionLink(BaseModel):
    """Where the decision is: the message, and the inbox item once it was delivered."""

    message_id: str
    decided_at: datetime
    inbox_item_id: str | None


class WmoRequestPublic(BaseModel):
    """A Wmo request as its wijk sees it. The decision itself is read in the inbox,
    where its legal basis is checked at every read."""

    id: str
    status: Status
    status_text: str
    provision: str = Field(description="iWmo 3.2 product category code.")
    provision_name: str
    urgency: str
    reason: str
    plan_ref: str | None
    household_id: str
    desk: str = Field(description="The desk's name.")
    desk_reference: str | None
    melding_date: date
    aanvraag_date: date | None
    onderzoek_due: date
    besluit_due: date | None
    terms: list[TermPublic]
    flagged_term: str | None
    flagged_at: datetime | None
    delivery: DeliveryPublic | None
    decision: DecisionLink | None
    created_by: str
    created_at: datetime


class WmoRequestPage(BaseModel):
    """One page of a wijk's Wmo requests."""

    total: int
    limit: int
    offset: int
    items: list[WmoRequestPublic]


def _delivery(session: Session, request: WmoRequest) -> DeliveryPublic | None:
    if request.message_id is None:
        return None
    st = outbound.status(session, message_id=request.message_id)
    if st is None:
        return None
    return DeliveryPublic(status=st.status, attempts=st.attempts, last_error=st.last_error,
                          delivered_at=st.delivered_at, receipt=st.receipt)


def _status(request: WmoRequest, delivery: DeliveryPublic | None) -> str:
    # The desk's own word wins; before it speaks, the delivery says where it stands.
    if request.status != "submitted" or delivery is None:
        return request.status
    if delivery.status == "delivered":
        return "submitted"
    if delivery.status == "failed":
        return "delivery_failed"
    return "queued"


def public(session: Session, ctx: HubContext, request: WmoRequest,
           desk_names: dict[str, str], warn_days: int) -> WmoRequestPublic:
    """The request as the API shows it, with its running terms at the hub's clock now."""
    data = service.open_data(ctx, request)
    delivery = _delivery(session, request)
    status = _status(request, delivery)
    decision = None
    if request.decision_message_id is not None:
        item_id = session.scalar(select(Message.item_id).where(
            Message.id == request.decision_message_id))
        decision = DecisionLink(message_id=request.decision_message_id,
                                decided_at=request.decided_at, inbox_item_id=item_id)
    desk_reference = request.desk_reference or (delivery.receipt if delivery else None)
    terms = service.running_terms(request, today=service.local_date(ctx.clock()),
                                  warn_days=warn_days)
    return WmoRequestPublic(
        id=request.id, status=status, status_text=STATUS_TEXT[status],
        provision=request.provision, provision_name=IWMO_CATEGORIES[request.provision],
        urgency=request.urgency, reason=data["reason"], plan_ref=data.get("plan_ref"),
        household_id=request.household_id, desk=desk_names.get(request.desk_partner, ""),
        desk_reference=desk_reference, melding_date=request.melding_date,
        aanvraag_date=request.aanvraag_date, onderzoek_due=request.onderzoek_due,
        besluit_due=request.besluit_due,
        terms=[TermPublic(kind=t.kind, due=t.due, working_days_left=t.working_days_left,
                          near=t.near, overdue=t.overdue, text=t.text) for t in terms],
        flagged_term=request.flagged_term, flagged_at=request.flagged_at,
        delivery=delivery, decision=decision, created_by=request.created_by,
        created_at=request.created_at)


def _desk_names(session: Session, requests: list[WmoRequest]) -> dict[str, str]:
    ids = sorted({r.desk_partner for r in requests})
    if not ids:
        return {}
    return dict(session.execute(select(Partner.id, Partner.name)
                                .where(Partner.id.in_(ids))).all())


def _audit_reads(session: Session, ctx: HubContext, reader: Principal, action: str,
                 requests: list[WmoRequest]) -> None:
    record_events(session, ctx=ctx, events=[Event(
        action=action, **as_actor(reader), subject=r.subject,
        data={"request_id": r.id}, basis=service.BASIS) for r in requests])


@router.post("/requests", status_code=201, response_model=WmoRequestPublic)
def create(body: WmoRequestIn, ctx: ContextDep, session: SessionDep, regisseur: RegisseurDep,
           response: Response,
           idempotency_key: IdempotencyKey = None) -> Any:
    """Ask the Wmo desk for a maatwerkvoorziening for a resident of your wijk.

    The hub delivers it to the desk (retrying until the desk confirms) and tracks it:
    queued → submitted → in_behandeling → besluit. With an ``Idempotency-Key``, a
    retry returns the first request (200) and sends nothing twice.
    """
    request, created = service.create_request(
        session=session, ctx=ctx, regisseur=regisseur, body=body,
        idempotency_key=idempotency_key, now=ctx.clock())
    result = public(session, ctx, request, _desk_names(session, [request]),
                    WmoSettings().warn_days)
    session.commit()
    ctx.work_available.set()
    if not created:
        response.status_code = 200
    return result


@router.get("/requests", response_model=WmoRequestPage)
def list_requests(ctx: ContextDep, session: SessionDep, reader: InboxReaderDep,
                  due: Annotated[Literal["soon"] | None, Query(
                      description="soon: only requests whose legal term runs out within "
                                  "HUB_WMO_WARN_DAYS working days, or has passed.")] = None,
                  status: Literal["submitted", "in_behandeling", "besluit"] | None = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> WmoRequestPage:
    """Your wijk's Wmo requests, newest first; ``?due=soon`` lists the ones to chase."""
    warn_days = WmoSettings().warn_days
    query = select(WmoRequest).where(WmoRequest.wijk == reader.wijk)
    if status is not None:
        query = query.where(WmoRequest.status == status)
    if due == "soon":
        # Terms are computed at read time: a missed terms check never hides one.
        today = service.local_date(ctx.clock())
        rows = [r for r in session.scalars(query.where(WmoRequest.status != "besluit")
                                           .order_by(WmoRequest.created_at.desc(),
                                                     WmoRequest.id))
                if any(t.near for t in service.running_terms(r, today=today,
                                                              warn_days=warn_days))]
        total, rows = len(rows), rows[offset:offset + limit]
    else:
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        rows = list(session.scalars(query.order_by(WmoRequest.created_at.desc(),
                                                   WmoRequest.id)
                                    .limit(limit).offset(offset)))
    names = _desk_names(session, rows)
    page = WmoRequestPage(total=total, limit=limit, offset=offset,
                          items=[public(session, ctx, r, names, warn_days) for r in rows])
    _audit_reads(session, ctx, reader, "wmo.request.read.list", rows)
    session.commit()
    return page


@router.get("/requests/{wmo_request_id}", response_model=WmoRequestPublic)
def get_request(wmo_request_id: IdPath, ctx: ContextDep, session: SessionDep,
                reader: InboxReaderDep) -> WmoRequestPublic:
    """One Wmo request of your wijk: where it stands, its terms, and where the decision is."""
    request = session.get(WmoRequest, wmo_request_id)
    if request is None or request.wijk != reader.wijk:
        raise HubProblem(404, "Wmo request not found")
    result = public(session, ctx, request, _desk_names(session, [request]),
                    WmoSettings().warn_days)
    _audit_reads(session, ctx, reader, "wmo.request.read", [request])
    session.commit()
    return result
