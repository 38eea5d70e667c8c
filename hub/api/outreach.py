"""Routes for help outreach (issue 16): the wijk's worklist, a case, attempts, the close.

Every read goes through :mod:`hub.core.outreach` (the wijk's visibility, linked
items through the one read path, hub.core.reads). A case of another wijk is the same 404 as
a missing one. The resident reads their own cases at ``GET /api/v1/me/outreach``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from hub.api.deps import (
    ContextDep,
    IdPath,
    InboxReaderDep,
    RegisseurDep,
    ResidentDep,
    SessionDep,
)
from hub.core import outreach
from hub.core.audit import Event, as_actor, record_events
from hub.core.errors import HubProblem

router = APIRouter(prefix="/api/v1/outreach", tags=["outreach"])
me_router = APIRouter(prefix="/api/v1/me", tags=["resident"])
Kind = Literal["home_visit", "phone", "letter", "sms_email", "via_partner"]
Result = Literal["reached", "not_reached", "declined", "help_accepted", "already_known",
                 "referred_debt_help"]


# --- schemas: Base / Create / Public -------------------------------------------------
class SignalPublic(BaseModel):
    """A linked signal as the reader may see it."""

    item_id: str
    type: str
    partner_kind: str
    source: str
    summary: str
    amount_eur: Decimal | None
    received_at: datetime


class AttemptCreate(BaseModel):
    """One contact attempt as the regisseur records it."""

    model_config = ConfigDict(extra="forbid")
    kind: Kind = Field(description="huisbezoek, telefoon, brief, sms/e-mail, via de melder")
    result: Result = Field(description="bereikt, niet bereikt, wil geen hulp, hulpaanbod "
                                       "aanvaard, al in beeld, doorverwezen naar "
                                       "schuldhulpverlening")
    attempted_on: date


class AttemptPublic(BaseModel):
    """A recorded attempt, with the Dutch words for the screen."""

    id: str
    kind: Kind
    result: Result
    attempted_on: date
    text: str
    actor: str


class CloseCreate(BaseModel):
    """How the case ends: one of the attempt results."""

    model_config = ConfigDict(extra="forbid")
    outcome: Result


class CasePublic(BaseModel):
    """An outreach case: its signals, its due date, what was tried."""

    id: str
    status: Literal["open", "closed"]
    household_id: str
    opened_at: datetime
    due_at: datetime
    overdue: bool
    urgency: int
    partner_kinds: list[str]
    amount_total_eur: Decimal
    first_attempt_at: datetime | None
    outcome: Result | None
    has_phone: bool = Field(description="A lawful phone number is known (it is not shown).")
    has_email: bool = Field(description="A lawful e-mail address is known (it is not shown).")
    signals: list[SignalPublic]
    attempts: list[AttemptPublic]


class CasePage(BaseModel):
    """One page of the worklist, most urgent first."""

    total: int
    limit: int
    offset: int
    items: list[CasePublic]


class ResidentAttemptPublic(BaseModel):
    """One attempt as the resident reads it."""

    attempted_on: date
    text: str


class ResidentCasePublic(BaseModel):
    """Why we contacted the resident and what we tried, in plain Dutch."""

    why: str
    closed: bool
    attempts: list[ResidentAttemptPublic]


def attempt_text(kind: str, result: str) -> str:
    """``telefoon: niet bereikt``: an attempt in the regisseur's Dutch words."""
    return f"{outreach.KINDS[kind]}: {outreach.RESULTS[result]}"


def case_public(ctx, view: outreach.CaseView) -> CasePublic:
    """The public shape of a case view; the contact details only as yes/no."""
    case, contact = view.case, outreach.contact_of(ctx, view.case)
    return CasePublic(
        id=case.id, status=case.status, household_id=case.household_id,
        opened_at=case.opened_at, due_at=case.due_at, overdue=view.overdue(ctx.clock()),
        urgency=case.urgency, partner_kinds=view.partner_kinds,
        amount_total_eur=view.amount_total, first_attempt_at=case.first_attempt_at,
        outcome=case.outcome, has_phone="phone" in contact, has_email="email" in contact,
        signals=[SignalPublic(item_id=s.item_id, type=s.type, partner_kind=s.partner_kind,
                              source=s.source_name, summary=s.summary,
                              amount_eur=s.amount_eur, received_at=s.received_at)
                 for s in view.signals],
        attempts=[AttemptPublic(id=a.id, kind=a.kind, result=a.result,
                                attempted_on=a.attempted_on, actor=a.actor,
                                text=attempt_text(a.kind, a.result)) for a in view.attempts])


def _read_event(session, ctx, reader, views, action: str) -> None:
    # A read of a case shows its signals: audited like an inbox read (ids only), one
    # event per case (its resident), appended as one batch: one signature per page.
    record_events(session, ctx=ctx, events=[Event(
        action=action, subject=view.case.subject, data={
            "case_id": view.case.id, "item_ids": [s.item_id for s in view.signals]},
        **as_actor(reader)) for view in views])


def _own_case(ctx, session, principal, case_id: str) -> outreach.CaseView:
    view = outreach.get_case(session=session, ctx=ctx, viewer=principal, case_id=case_id,
                             now=ctx.clock())
    if view is None:
        raise HubProblem(404, "Outreach case not found")
    return view


@router.get("", response_model=CasePage)
def worklist(ctx: ContextDep, session: SessionDep, reader: InboxReaderDep,
             limit: Annotated[int, Query(ge=1, le=200)] = 50,
             offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
             status: Literal["open", "closed"] = "open") -> CasePage:
    """The wijk's outreach cases, most urgent first: an end-of-supply notice, then the
    total amount, then the number of partners, then the due date."""
    total, views = outreach.worklist(session=session, ctx=ctx, viewer=reader,
                                     now=ctx.clock(), limit=limit, offset=offset,
                                     status=status)
    page = CasePage(total=total, limit=limit, offset=offset,
                    items=[case_public(ctx, v) for v in views])
    _read_event(session, ctx, reader, views, "outreach.read.list")
    session.commit()
    return page


@router.get("/{case_id}", response_model=CasePublic)
def get_case(case_id: IdPath, ctx: ContextDep, session: SessionDep,
             reader: InboxReaderDep) -> CasePublic:
    """One case with its linked signals (those the reader may see) and attempts."""
    view = _own_case(ctx, session, reader, case_id)
    public = case_public(ctx, view)
    _read_event(session, ctx, reader, [view], "outreach.read")
    session.commit()
    return public


@router.post("/{case_id}/attempts", response_model=CasePublic, status_code=201)
def add_attempt(case_id: IdPath, body: AttemptCreate, ctx: ContextDep, session: SessionDep,
                regisseur: RegisseurDep) -> CasePublic:
    """Record a contact attempt. ``help_accepted`` or ``referred_debt_help`` takes the
    linked items up, so each partner hears ``taken_up``."""
    view = _own_case(ctx, session, regisseur, case_id)
    outreach.record_attempt(session=session, ctx=ctx, case=view.case, kind=body.kind,
                            result=body.result, attempted_on=body.attempted_on,
                            now=ctx.clock(), **as_actor(regisseur))
    public = case_public(ctx, _own_case(ctx, session, regisseur, case_id))
    session.commit()
    return public


@router.post("/{case_id}/close", response_model=CasePublic)
def close_case(case_id: IdPath, body: CloseCreate, ctx: ContextDep, session: SessionDep,
               regisseur: RegisseurDep) -> CasePublic:
    """Close the case with its outcome; its linked items close too (each partner hears
    ``closed``, or ``not_taken_up`` if help never started). Needs an attempt first."""
    view = _own_case(ctx, session, regisseur, case_id)
    outreach.close_case(session=session, ctx=ctx, case=view.case, outcome=body.outcome,
                        now=ctx.clock(), **as_actor(regisseur))
    public = case_public(ctx, _own_case(ctx, session, regisseur, case_id))
    session.commit()
    return public


@me_router.get("/outreach", response_model=list[ResidentCasePublic])
def my_outreach(ctx: ContextDep, session: SessionDep,
                resident: ResidentDep) -> list[ResidentCasePublic]:
    """What the wijkteam tried to reach me about, and why, in plain Dutch."""
    cases = outreach.for_resident(session=session, ctx=ctx, subject=resident.subject)
    return [ResidentCasePublic(why=c.why, closed=c.closed, attempts=[
        ResidentAttemptPublic(attempted_on=a.attempted_on, text=a.text) for a in c.attempts])
        for c in cases]
