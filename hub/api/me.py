"""Routes for the resident: my consents, my requests, what was shared about me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import select

from consent import registry
from consent.errors import ConsentError, NotFound
from consent.records import GrantRecord
from hub.api.deps import ContextDep, ResidentDep, SessionDep
from hub.api.schemas import (
    ConsentCreate,
    ConsentCreated,
    ConsentPublic,
    ConsentRequestPublic,
    DisclosurePublic,
)
from hub.core import consents
from hub.core.errors import HubProblem, invalid
from hub.core.models import Disclosure, Partner

router = APIRouter(prefix="/api/v1/me", tags=["resident"])
IdPath = Annotated[str, Path(min_length=1, max_length=64)]


def _public(record: GrantRecord) -> ConsentPublic:
    return ConsentPublic(
        id=record.id, recipient=record.recipient, source_kinds=sorted(record.source_kinds),
        source_partners=sorted(record.source_partners), categories=sorted(record.categories),
        purpose=record.purpose, status=record.status.value, valid_from=record.valid_from,
        valid_until=record.valid_until, revoked_at=record.revoked_at,
        provenance=dict(record.provenance))


def _consent_problem(exc: ConsentError) -> HubProblem:
    return invalid(exc.field, exc.reason)


@router.post("/consents", status_code=201, response_model=ConsentCreated)
def give_consent(body: ConsentCreate, ctx: ContextDep, session: SessionDep,
                 resident: ResidentDep) -> ConsentCreated:
    """Give consent. Messages held for lack of it are decided again at once."""
    try:
        grant = consents.grant(session=session, subject=resident.subject, now=ctx.clock(),
                               provenance={"method": "portal"}, recipient=body.recipient,
                               source_kinds=body.source_kinds,
                               source_partners=body.source_partners,
                               categories=body.categories, purpose=body.purpose,
                               valid_until=body.valid_until)
    except ConsentError as exc:
        raise _consent_problem(exc) from None
    session.commit()
    ctx.work_available.set()
    return ConsentCreated(id=grant.id)


@router.get("/consents", response_model=list[ConsentPublic])
def my_consents(session: SessionDep, resident: ResidentDep) -> list[ConsentPublic]:
    """Every consent, revocation and refusal, newest first."""
    return [_public(r) for r in registry.list_grants(session=session, subject=resident.subject)]


@router.post("/consents/{consent_id}/revoke", response_model=ConsentPublic)
def revoke_consent(consent_id: IdPath, ctx: ContextDep, session: SessionDep,
                   resident: ResidentDep) -> ConsentPublic:
    """Revoke a consent. From the moment this returns nothing more flows on it."""
    try:
        registry.revoke(session=session, subject=resident.subject, consent_id=consent_id,
                        now=ctx.clock())
    except NotFound:
        raise HubProblem(404, "Consent not found") from None
    records = {r.id: r for r in registry.list_grants(session=session, subject=resident.subject)}
    session.commit()
    return _public(records[consent_id])


def _request_public(req) -> ConsentRequestPublic:
    return ConsentRequestPublic(id=req.id, text=req.text, source=req.source_name,
                                category=req.category, status=req.status.value,
                                created_at=req.created_at, expires_at=req.expires_at)


@router.get("/requests", response_model=list[ConsentRequestPublic])
def my_requests(ctx: ContextDep, session: SessionDep,
                resident: ResidentDep) -> list[ConsentRequestPublic]:
    """Questions to the resident: may this be shared with your wijkteam?"""
    requests = registry.list_requests(session=session, subject=resident.subject,
                                      now=ctx.clock())
    session.commit()
    return [_request_public(r) for r in requests]


@router.post("/requests/{request_id}/approve", response_model=ConsentCreated)
def approve(request_id: IdPath, ctx: ContextDep, session: SessionDep,
            resident: ResidentDep) -> ConsentCreated:
    """Say yes: a consent for exactly this partner and kind of data."""
    try:
        grant = consents.approve_request(session=session, subject=resident.subject,
                                         request_id=request_id, now=ctx.clock())
    except NotFound:
        raise HubProblem(404, "Request not found") from None
    except ConsentError as exc:
        raise HubProblem(409, "Request is no longer open",
                         _consent_problem(exc).problems) from None
    session.commit()
    ctx.work_available.set()
    return ConsentCreated(id=grant.id)


@router.post("/requests/{request_id}/deny", response_model=ConsentRequestPublic)
def deny(request_id: IdPath, ctx: ContextDep, session: SessionDep,
         resident: ResidentDep) -> ConsentRequestPublic:
    """Say no: the held messages are closed and not shared."""
    try:
        consents.deny_request(session=session, subject=resident.subject, request_id=request_id,
                              now=ctx.clock())
    except NotFound:
        raise HubProblem(404, "Request not found") from None
    except ConsentError as exc:
        raise HubProblem(409, "Request is no longer open",
                         _consent_problem(exc).problems) from None
    req = registry.get_request(session=session, subject=resident.subject,
                               request_id=request_id)
    session.commit()
    return _request_public(req)


@router.get("/disclosures", response_model=list[DisclosurePublic])
def my_disclosures(session: SessionDep, resident: ResidentDep) -> list[DisclosurePublic]:
    """What about me went to whom, when, which fields, and on which basis."""
    rows = session.execute(
        select(Disclosure, Partner.name).join(Partner, Partner.id == Disclosure.source_partner)
        .where(Disclosure.subject == resident.subject).order_by(Disclosure.at.desc()))
    return [DisclosurePublic(message_type=d.message_type, source=name, recipient=d.recipient,
                             basis=d.basis, fields=d.fields, reason=d.reason, at=d.at)
            for d, name in rows]
