"""Routes for the resident: my consents, my requests, what is known and shared about me.

A representative uses the same routes with their own resident token and
``?on_behalf_of=<representation id>`` (from ``GET /api/v1/me/representations``);
the registry then holds them to their capacity: 403 outside it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from consent import explain, registry, sharing
from consent.errors import ConsentError, IdempotencyConflict, NotFound
from consent.records import ConsentVersion, GrantRecord, Representation
from consent.representation import CAPACITY_CATEGORIES, NotPermitted
from hub.api.deps import ID_PATTERN, ContextDep, IdPath, ResidentDep, SessionDep
from hub.api.schemas import (
    ActedBy,
    ConsentChange,
    ConsentCreate,
    ConsentCreated,
    ConsentPublic,
    ConsentRequestPublic,
    ConsentVersionPublic,
    DisclosurePublic,
    KnownItemPublic,
    MyRepresentations,
    RepresentationPublic,
)
from hub.core import consents
from hub.core.audit import as_actor, record_event
from hub.core.context import HubContext
from hub.core.errors import FieldProblem, HubProblem, invalid
from hub.core.identity import Principal
from hub.core.models import Partner
from hub.core.representatives import acting_for
from hub.core.transparency import disclosures_for, known_about
from hub.core.transport import consent_changed

router = APIRouter(prefix="/api/v1/me", tags=["resident"])
# Ids are UUIDs; the pattern also keeps a NUL byte away from PostgreSQL, which
# refuses it in a query with an error that would otherwise be a 500.
OnBehalfOf = Annotated[str | None, Query(
    min_length=1, max_length=64, pattern=ID_PATTERN,
    description="Act as a representative: the id of one of your representations.")]


# --- who acts ---------------------------------------------------------------------

def acting_subject(ctx: HubContext, session: Session, resident: Principal,
            on_behalf_of: str | None) -> tuple[str, Representation | None]:
    """The subject whose consents are at stake, and the representation acting (or None)."""
    if on_behalf_of is None:
        return resident.subject, None
    rep = acting_for(session=session, actor=resident.subject, representation_id=on_behalf_of,
                     now=ctx.clock())
    return rep.subject, rep


def _within(rep: Representation | None, categories) -> bool:
    return rep is None or set(categories) <= CAPACITY_CATEGORIES[rep.capacity]


def _allowed(rep: Representation | None) -> frozenset[str] | None:
    return None if rep is None else CAPACITY_CATEGORIES[rep.capacity]


def _problem(exc: ConsentError) -> HubProblem:
    if isinstance(exc, NotPermitted):
        return HubProblem(403, "Not within your capacity as representative",
                          [FieldProblem(exc.field, exc.reason)])
    if isinstance(exc, IdempotencyConflict):
        return HubProblem(409, "Idempotency-Key already used for another request",
                          [FieldProblem(exc.field, exc.reason)])
    if exc.field == "status":
        return HubProblem(409, "Consent can no longer be changed",
                          [FieldProblem(exc.field, exc.reason)])
    return invalid(exc.field, exc.reason)


# --- shapes -------------------------------------------------------------------------

def _acted_by(representation_id: str | None, capacity) -> ActedBy | None:
    if representation_id is None or capacity is None:
        return None
    return ActedBy(representation_id=representation_id, capacity=capacity.value)


def _partner_names(session: Session, ids) -> dict[str, str]:
    ids = sorted(set(ids))
    if not ids:
        return {}
    return dict(session.execute(select(Partner.id, Partner.name).where(Partner.id.in_(ids))).all())


def _share_text(record: GrantRecord, names: dict[str, str]) -> str:
    # A plan.share consent (issue 17): names the partner, never the agreement's words.
    partner_id = record.recipient.removeprefix("partner:")
    return sharing.share_explanation(partner_name=names.get(partner_id, partner_id),
                                     active=record.status.value == "active")


def _public(record: GrantRecord, names: dict[str, str]) -> ConsentPublic:
    sources = explain.describe_sources(
        kinds=sorted(record.source_kinds),
        partner_names=[names.get(p, p) for p in sorted(record.source_partners)])
    return ConsentPublic(
        id=record.id, recipient=record.recipient, source_kinds=sorted(record.source_kinds),
        source_partners=sorted(record.source_partners), categories=sorted(record.categories),
        purpose=record.purpose, status=record.status.value, valid_from=record.valid_from,
        valid_until=record.valid_until, revoked_at=record.revoked_at,
        provenance=dict(record.provenance), version=record.version,
        changed_at=record.changed_at,
        acted_by=_acted_by(record.representation_id, record.capacity),
        explanation=_share_text(record, names)
        if sharing.is_share(record.recipient, record.purpose) else explain.consent_explanation(
            status=record.status.value, granted_at=record.granted_at,
            recipient=record.recipient, categories=sorted(record.categories), sources=sources,
            valid_until=record.valid_until, revoked_at=record.revoked_at,
            capacity=record.capacity.value if record.capacity else None))


def _publics(session: Session, records: list[GrantRecord]) -> list[ConsentPublic]:
    names = _partner_names(session, [p for r in records for p in r.source_partners]
                           + [r.recipient.removeprefix("partner:") for r in records])
    return [_public(r, names) for r in records]


def _version_public(v: ConsentVersion) -> ConsentVersionPublic:
    return ConsentVersionPublic(
        version=v.version, change=v.change.value, changed_at=v.changed_at, status=v.status.value,
        recipient=v.recipient, source_kinds=sorted(v.source_kinds),
        source_partners=sorted(v.source_partners), categories=sorted(v.categories),
        purpose=v.purpose, valid_from=v.valid_from, valid_until=v.valid_until,
        revoked_at=v.revoked_at, provenance=dict(v.provenance),
        acted_by=_acted_by(v.representation_id, v.capacity))


def _own_consent(session: Session, subject: str, rep: Representation | None,
                 consent_id: str) -> GrantRecord:
    try:
        record = registry.get_grant(session=session, subject=subject, consent_id=consent_id)
    except NotFound:
        raise HubProblem(404, "Consent not found") from None
    if not _within(rep, record.categories):
        # Outside the capacity the representative may not even see it exists.
        raise HubProblem(404, "Consent not found")
    return record


# --- consents -----------------------------------------------------------------------

IdempotencyKey = Annotated[str | None, Header(
    min_length=1, max_length=100, alias="Idempotency-Key",
    description="Makes a retry safe: the same key returns the consent made with it.")]


@router.post("/consents", status_code=201, response_model=ConsentCreated)
def give_consent(body: ConsentCreate, ctx: ContextDep, session: SessionDep,
                 resident: ResidentDep, on_behalf_of: OnBehalfOf = None,
                 idempotency_key: IdempotencyKey = None) -> ConsentCreated:
    """Give consent. Messages held for lack of it are decided again at once.

    With an ``Idempotency-Key`` header, sending the same request again (a retry)
    returns the same consent and records nothing, even if it was revoked since.
    """
    subject, rep = acting_subject(ctx, session, resident, on_behalf_of)
    try:
        grant = consents.grant(session=session, ctx=ctx, subject=subject, now=ctx.clock(),
                               provenance={"method": "portal"}, representation=rep,
                               idempotency_key=idempotency_key, **body.model_dump())
    except ConsentError as exc:
        raise _problem(exc) from None
    record_event(session, ctx=ctx, action="consent.grant", **as_actor(resident),
                 subject=subject, data={"consent_id": grant.id})
    session.commit()
    ctx.work_available.set()
    consent_changed(ctx, subject)
    return ConsentCreated(id=grant.id)


@router.get("/consents", response_model=list[ConsentPublic])
def my_consents(ctx: ContextDep, session: SessionDep, resident: ResidentDep,
                on_behalf_of: OnBehalfOf = None) -> list[ConsentPublic]:
    """Every consent, revocation, expiry and refusal, newest first.

    A representative sees only the consents wholly within their capacity.
    """
    subject, rep = acting_subject(ctx, session, resident, on_behalf_of)
    # Writing the "expired" versions here keeps the list truthful; deciding
    # never depended on it.
    registry.lock_subject(session=session, subject=subject)
    registry.expire_due(session=session, subject=subject, now=ctx.clock())
    records = [r for r in registry.list_grants(session=session, subject=subject)
               if _within(rep, r.categories)]
    public = _publics(session, records)
    session.commit()
    return public


@router.get("/consents/{consent_id}", response_model=ConsentPublic)
def my_consent(consent_id: IdPath, ctx: ContextDep, session: SessionDep,
               resident: ResidentDep, on_behalf_of: OnBehalfOf = None) -> ConsentPublic:
    """One consent as it is now."""
    subject, rep = acting_subject(ctx, session, resident, on_behalf_of)
    registry.lock_subject(session=session, subject=subject)
    registry.expire_due(session=session, subject=subject, now=ctx.clock())
    [public] = _publics(session, [_own_consent(session, subject, rep, consent_id)])
    session.commit()
    return public


@router.patch("/consents/{consent_id}", response_model=ConsentPublic)
def change_consent(consent_id: IdPath, body: ConsentChange, ctx: ContextDep,
                   session: SessionDep, resident: ResidentDep,
                   on_behalf_of: OnBehalfOf = None) -> ConsentPublic:
    """Change an active consent (scope, purpose, end date): a new version, effective at once.

    What the wijkteam already has under it is decided again before this answers.
    """
    subject, rep = acting_subject(ctx, session, resident, on_behalf_of)
    given = body.model_dump(exclude_unset=True)
    for key in ("source_kinds", "source_partners", "categories", "purpose"):
        if key in given and given[key] is None:
            raise invalid(key, "may be left out, but not null")
    if not given:
        raise invalid("body", "name at least one field to change")
    _own_consent(session, subject, rep, consent_id)
    try:
        record = consents.change(session=session, ctx=ctx, subject=subject,
                                 consent_id=consent_id, now=ctx.clock(), representation=rep,
                                 **given)
    except ConsentError as exc:
        raise _problem(exc) from None
    [public] = _publics(session, [record])
    record_event(session, ctx=ctx, action="consent.change", **as_actor(resident),
                 subject=subject, data={"consent_id": consent_id})
    session.commit()
    ctx.work_available.set()
    consent_changed(ctx, subject)
    return public


@router.get("/consents/{consent_id}/versions", response_model=list[ConsentVersionPublic])
def consent_versions(consent_id: IdPath, ctx: ContextDep, session: SessionDep,
                     resident: ResidentDep,
                     on_behalf_of: OnBehalfOf = None) -> list[ConsentVersionPublic]:
    """Every version of a consent, oldest first: nothing is ever overwritten."""
    subject, rep = acting_subject(ctx, session, resident, on_behalf_of)
    registry.lock_subject(session=session, subject=subject)
    registry.expire_due(session=session, subject=subject, now=ctx.clock())
    _own_consent(session, subject, rep, consent_id)
    versions = registry.list_versions(session=session, subject=subject, consent_id=consent_id)
    session.commit()
    return [_version_public(v) for v in versions]


@router.post("/consents/{consent_id}/revoke", response_model=ConsentPublic)
def revoke_consent(consent_id: IdPath, ctx: ContextDep, session: SessionDep,
                   resident: ResidentDep, on_behalf_of: OnBehalfOf = None) -> ConsentPublic:
    """Revoke a consent. From the moment this returns nothing more flows on it.

    Revoking again (a retry) answers the same and changes nothing.
    """
    subject, rep = acting_subject(ctx, session, resident, on_behalf_of)
    _own_consent(session, subject, rep, consent_id)
    try:
        consents.revoke(session=session, ctx=ctx, subject=subject, consent_id=consent_id,
                        now=ctx.clock(), representation=rep)
    except NotFound:
        raise HubProblem(404, "Consent not found") from None
    except ConsentError as exc:
        raise _problem(exc) from None
    [public] = _publics(session, [registry.get_grant(session=session, subject=subject,
                                                     consent_id=consent_id)])
    record_event(session, ctx=ctx, action="consent.revoke", **as_actor(resident),
                 subject=subject, data={"consent_id": consent_id})
    session.commit()
    consent_changed(ctx, subject)
    return public


# --- requests -----------------------------------------------------------------------

def _request_public(req) -> ConsentRequestPublic:
    return ConsentRequestPublic(id=req.id, text=req.text, source=req.source_name,
                                category=req.category, status=req.status.value,
                                created_at=req.created_at, expires_at=req.expires_at,
                                purpose=req.purpose)


@router.get("/requests", response_model=list[ConsentRequestPublic])
def my_requests(ctx: ContextDep, session: SessionDep, resident: ResidentDep,
                on_behalf_of: OnBehalfOf = None) -> list[ConsentRequestPublic]:
    """Questions to the resident: may this be shared with your wijkteam?"""
    subject, rep = acting_subject(ctx, session, resident, on_behalf_of)
    requests = registry.list_requests(session=session, subject=subject, now=ctx.clock())
    session.commit()
    return [_request_public(r) for r in requests if _within(rep, [r.category])]


def _answer_problem(exc: Exception) -> HubProblem:
    if isinstance(exc, NotFound):
        return HubProblem(404, "Request not found")
    if isinstance(exc, NotPermitted):
        return _problem(exc)
    return HubProblem(409, "Request is no longer open", _problem(exc).problems)


@router.post("/requests/{request_id}/approve", response_model=ConsentCreated)
def approve(request_id: IdPath, ctx: ContextDep, session: SessionDep,
            resident: ResidentDep, on_behalf_of: OnBehalfOf = None) -> ConsentCreated:
    """Say yes: a consent for exactly this partner and kind of data."""
    subject, rep = acting_subject(ctx, session, resident, on_behalf_of)
    try:
        grant = consents.approve_request(session=session, subject=subject,
                                         request_id=request_id, now=ctx.clock(),
                                         representation=rep, ctx=ctx)
    except (NotFound, ConsentError) as exc:
        raise _answer_problem(exc) from None
    record_event(session, ctx=ctx, action="consent.approve", **as_actor(resident),
                 subject=subject, data={"request_id": request_id, "consent_id": grant.id})
    session.commit()
    ctx.work_available.set()
    consent_changed(ctx, subject)
    return ConsentCreated(id=grant.id)


@router.post("/requests/{request_id}/deny", response_model=ConsentRequestPublic)
def deny(request_id: IdPath, ctx: ContextDep, session: SessionDep,
         resident: ResidentDep, on_behalf_of: OnBehalfOf = None) -> ConsentRequestPublic:
    """Say no: the held messages are closed and not shared."""
    subject, rep = acting_subject(ctx, session, resident, on_behalf_of)
    try:
        consents.deny_request(session=session, ctx=ctx, subject=subject, request_id=request_id,
                              now=ctx.clock(), representation=rep)
    except (NotFound, ConsentError) as exc:
        raise _answer_problem(exc) from None
    req = registry.get_request(session=session, subject=subject, request_id=request_id)
    record_event(session, ctx=ctx, action="consent.deny", **as_actor(resident),
                 subject=subject, data={"request_id": request_id})
    session.commit()
    consent_changed(ctx, subject)
    return _request_public(req)


# --- representatives ----------------------------------------------------------------

def _rep_public(rep: Representation, now) -> RepresentationPublic:
    return RepresentationPublic(
        id=rep.id, capacity=rep.capacity.value,
        categories=sorted(CAPACITY_CATEGORIES[rep.capacity]), valid_from=rep.valid_from,
        valid_until=rep.valid_until, ended_at=rep.ended_at, active=rep.is_active_at(now),
        reference=rep.reference)


@router.get("/representations", response_model=MyRepresentations)
def my_representations(ctx: ContextDep, session: SessionDep,
                       resident: ResidentDep) -> MyRepresentations:
    """Whom I may act for (and in which capacity), and who may act for me."""
    now = ctx.clock()
    mine = registry.list_representations(session=session, representative=resident.subject)
    for_me = registry.list_representations(session=session, subject=resident.subject)
    return MyRepresentations(represents=[_rep_public(r, now) for r in mine],
                             represented_by=[_rep_public(r, now) for r in for_me])


# --- transparency -------------------------------------------------------------------

@router.get("/data", response_model=list[KnownItemPublic])
def what_is_known(ctx: ContextDep, session: SessionDep, resident: ResidentDep,
                  on_behalf_of: OnBehalfOf = None) -> list[KnownItemPublic]:
    """Everything the hub holds about me: each message, its fields (not their values),
    where it went, on which basis, and why, in Dutch. Never anyone else's."""
    subject, rep = acting_subject(ctx, session, resident, on_behalf_of)
    items = known_about(session=session, ctx=ctx, subject=subject, now=ctx.clock(),
                        categories=_allowed(rep))
    public = [KnownItemPublic(
        id=k.message.id, type=k.message.type, topic=k.topic, category=k.message.category,
        source=k.source_name, received_at=k.message.received_at, status=k.status,
        status_text=(f"afgesloten op {explain.format_date(k.closed_at)}" if k.closed_at
                     else explain.status_word(k.status)), fields=k.fields,
        shown_fields=k.shown_fields, basis=k.basis, explanation=k.explanation,
        summary=k.summary) for k in items]
    session.commit()
    return public


@router.get("/disclosures", response_model=list[DisclosurePublic])
def my_disclosures(ctx: ContextDep, session: SessionDep, resident: ResidentDep,
                   on_behalf_of: OnBehalfOf = None) -> list[DisclosurePublic]:
    """What about me went to whom, when, which fields, on which basis, and why (in Dutch).

    A disclosure stays listed after the recipient stops seeing it
    (``still_shown`` false): the record that it was shown is kept.
    """
    subject, rep = acting_subject(ctx, session, resident, on_behalf_of)
    views = disclosures_for(session=session, ctx=ctx, subject=subject, now=ctx.clock(),
                            categories=_allowed(rep))
    public = [DisclosurePublic(
        message_type=v.disclosure.message_type, source=v.source_name,
        recipient=v.disclosure.recipient, basis=v.disclosure.basis, fields=v.disclosure.fields,
        reason=v.disclosure.reason, at=v.disclosure.at, still_shown=v.still_shown,
        explanation=v.explanation) for v in views]
    session.commit()
    return public
