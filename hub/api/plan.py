"""Routes for the household plan (issue 17): the regisseur writes it, the resident reads and
answers it, the partner in an agreement reports progress; the resident asks a question;
a triage item is attached to a resident.

Every read goes through :func:`hub.core.plan.read_plan` (who may see what); routes
commit before they answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

from consent.model import CATEGORIES
from hub.api import me as me_api
from hub.api.deps import (
    ContextDep,
    InboxReaderDep,
    PartnerDep,
    RegisseurDep,
    ResidentDep,
    SessionDep,
)
from hub.api.inbox import item_public
from hub.api.me import OnBehalfOf
from hub.api.schemas import InboxItemPublic
from hub.core import plan as plan_core
from hub.core import questions, triage
from hub.core.errors import HubProblem
from hub.core.plan import PlanIn, PlanView
from hub.core.plan_sharing import accept_progress

router = APIRouter(tags=["plan"])
_ID = r"^[A-Za-z0-9_-]+$"
IdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=_ID)]


# --- shapes ----------------------------------------------------------------------------------

class GoalPublic(BaseModel):
    """One goal of the plan, in the resident's words."""

    domain: str
    domain_label: str
    text: str
    score_start: int | None
    score_now: int | None


class SharePublic(BaseModel):
    """Whether a partner's agreement reaches that partner now, and why (Dutch)."""

    status: Literal["shared", "not_shared"]
    reason: str


class ProgressPublic(BaseModel):
    """What the partner reported on its agreement."""

    state: str
    state_label: str
    at: datetime
    note: str | None


class AgreementPublic(BaseModel):
    """One agreement: what, who, by when, how far; for a partner's agreement, its sharing."""

    id: str
    domain: str
    domain_label: str
    text: str
    who: str
    who_label: str
    partner_id: str | None
    partner_name: str | None
    network_person: str | None
    due: str | None
    state: str
    state_label: str
    share: SharePublic | None
    progress: list[ProgressPublic]


class ResponsePublic(BaseModel):
    """The resident's agreement, comment or suggestion on a version of the plan."""

    id: str
    kind: str
    version: int
    at: datetime
    by_representative: bool
    text: str | None


class PlanPublic(BaseModel):
    """A household's plan as the caller may see it; version 0 means none yet."""

    household_id: str
    wijk: str = Field(description="The wijk of the household (its team answers questions).")
    regisseur: str | None = Field(description="The household's designated regisseur, or null.")
    version: int
    created_at: datetime | None
    evaluation_date: str | None
    goals: list[GoalPublic]
    agreements: list[AgreementPublic]
    responses: list[ResponsePublic]


class StateChange(BaseModel):
    """A new state for one agreement."""

    model_config = ConfigDict(extra="forbid")
    state: Literal["open", "in_progress", "done", "stopped"]


class ResidentText(BaseModel):
    """The resident's own words (a comment, a suggestion, a question)."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=2000)

    _clean = field_validator("text")(plan_core._text)


class ResponseCreated(BaseModel):
    """What was recorded."""

    id: str
    kind: str
    version: int


class QuestionCreated(BaseModel):
    """The question is in the wijk's inbox, for the household's regisseur."""

    id: str = Field(description="The inbox item.")
    regisseur: str | None = Field(description="Who it is for; null: the wijk's team.")


class ProgressIn(BaseModel):
    """A partner's report on an agreement it received (message type ``plan.progress``)."""

    model_config = ConfigDict(extra="forbid")
    agreement_id: str = Field(min_length=1, max_length=64, pattern=_ID)
    state: Literal["in_progress", "done", "stopped"]
    note: str | None = Field(default=None, max_length=2000)

    @field_validator("note")
    @classmethod
    def _note(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else plan_core._text(value)


class ProgressCreated(BaseModel):
    """The report was stored."""

    id: str
    agreement_id: str
    state: str


class AttachIn(BaseModel):
    """The resident a triage item is about."""

    model_config = ConfigDict(extra="forbid")
    bsn: str = Field(min_length=1, max_length=20, description="The resident's BSN (elfproef).")


def plan_public(view: PlanView) -> PlanPublic:
    """The API shape of a plan view."""
    return PlanPublic(
        household_id=view.household_id, wijk=view.wijk, regisseur=view.regisseur,
        version=view.version,
        created_at=view.created_at, evaluation_date=view.evaluation_date,
        goals=[GoalPublic(**{k: g.get(k) for k in GoalPublic.model_fields}) for g in view.goals],
        agreements=[_agreement(a) for a in view.agreements],
        responses=[ResponsePublic(**r) for r in view.responses])


def _agreement(a: dict[str, Any]) -> AgreementPublic:
    return AgreementPublic(
        **{k: a.get(k) for k in AgreementPublic.model_fields if k not in ("share", "progress")},
        share=SharePublic(**a["share"]) if a["share"] else None,
        progress=[ProgressPublic(**p) for p in a["progress"]])


# --- the regisseur ---------------------------------------------------------------------------

@router.get("/api/v1/households/{household_id}/plan", response_model=PlanPublic)
def household_plan(household_id: IdPath, ctx: ContextDep, session: SessionDep,
                   staff: InboxReaderDep) -> PlanPublic:
    """The household's plan (version 0 when there is none yet). A regisseur or team lead
    of the household's wijk; another wijk's household is 404. The read is audited."""
    view = plan_core.read_plan(session=session, ctx=ctx, viewer=staff,
                               household_id=household_id)
    session.commit()
    return plan_public(view)


@router.put("/api/v1/households/{household_id}/plan", response_model=PlanPublic)
def write_plan(household_id: IdPath, body: PlanIn, ctx: ContextDep, session: SessionDep,
               staff: InboxReaderDep) -> PlanPublic:
    """Save the plan as a new version (a regisseur of the wijk; a team lead 403).

    An agreement a partner does is sent to that partner only on the resident's
    ``plan.share`` consent; without it the resident is asked.
    """
    view = plan_core.save_plan(session=session, ctx=ctx, viewer=staff,
                               household_id=household_id, plan=body, now=ctx.clock())
    session.commit()
    ctx.work_available.set()
    return plan_public(view)


@router.post("/api/v1/households/{household_id}/plan/agreements/{agreement_id}/state",
             response_model=PlanPublic)
def agreement_state(household_id: IdPath, agreement_id: IdPath, body: StateChange,
                    ctx: ContextDep, session: SessionDep,
                    staff: InboxReaderDep) -> PlanPublic:
    """Move one agreement to a new state (a new version of the plan)."""
    view = plan_core.set_agreement_state(session=session, ctx=ctx, viewer=staff,
                                         household_id=household_id,
                                         agreement_id=agreement_id, state=body.state,
                                         now=ctx.clock())
    session.commit()
    ctx.work_available.set()
    return plan_public(view)


@router.post("/api/v1/inbox/{item_id}/attach", response_model=InboxItemPublic)
def attach(item_id: IdPath, body: AttachIn, ctx: ContextDep, session: SessionDep,
           regisseur: RegisseurDep) -> InboxItemPublic:
    """Attach a triage item to the resident of the wijk it is about; the consent decision
    runs again for it. 404 for an item not shown to this regisseur."""
    public = item_public(triage.attach_for(session=session, ctx=ctx, viewer=regisseur,
                                           item_id=item_id, bsn=body.bsn, now=ctx.clock()))
    session.commit()
    return public


# --- the resident ----------------------------------------------------------------------------

def _resident_view(ctx, session, resident, on_behalf_of):
    subject, rep = me_api.acting_subject(ctx, session, resident, on_behalf_of)
    return subject, rep, plan_core.capacity_categories(rep)


@router.get("/api/v1/me/plan", response_model=PlanPublic)
def my_plan(ctx: ContextDep, session: SessionDep, resident: ResidentDep,
            on_behalf_of: OnBehalfOf = None) -> PlanPublic:
    """My household's plan; a representative sees the parts within their capacity."""
    subject, _rep, categories = _resident_view(ctx, session, resident, on_behalf_of)
    view = plan_core.read_plan(session=session, ctx=ctx, viewer=resident, household_id=None,
                               subject=subject, categories=categories)
    session.commit()
    return plan_public(view)


def _respond(kind: str, text: str | None, ctx, session, resident, on_behalf_of):
    subject, rep, categories = _resident_view(ctx, session, resident, on_behalf_of)
    if kind == "agree" and rep is not None and categories != CATEGORIES:
        # Agreeing with the whole plan speaks for every domain in it; a representative for
        # some domains comments or suggests on the parts they see.
        raise HubProblem(403, "Not within your capacity as representative")
    done = plan_core.respond(session=session, ctx=ctx, viewer=resident, subject=subject,
                             kind=kind, text=text, categories=categories,
                             representation_id=rep.id if rep else None, now=ctx.clock())
    session.commit()
    return ResponseCreated(**done)


@router.post("/api/v1/me/plan/agree", response_model=ResponseCreated, status_code=201)
def agree(ctx: ContextDep, session: SessionDep, resident: ResidentDep,
          on_behalf_of: OnBehalfOf = None) -> ResponseCreated:
    """I agree with this version of my plan."""
    return _respond("agree", None, ctx, session, resident, on_behalf_of)


@router.post("/api/v1/me/plan/comment", response_model=ResponseCreated, status_code=201)
def comment(body: ResidentText, ctx: ContextDep, session: SessionDep, resident: ResidentDep,
            on_behalf_of: OnBehalfOf = None) -> ResponseCreated:
    """A comment on my plan, for my regisseur."""
    return _respond("comment", body.text, ctx, session, resident, on_behalf_of)


@router.post("/api/v1/me/plan/suggest", response_model=ResponseCreated, status_code=201)
def suggest(body: ResidentText, ctx: ContextDep, session: SessionDep, resident: ResidentDep,
            on_behalf_of: OnBehalfOf = None) -> ResponseCreated:
    """A change I suggest to my plan, for my regisseur."""
    return _respond("suggest", body.text, ctx, session, resident, on_behalf_of)


@router.post("/api/v1/me/questions", response_model=QuestionCreated, status_code=201)
def ask(body: ResidentText, ctx: ContextDep, session: SessionDep, resident: ResidentDep,
        on_behalf_of: OnBehalfOf = None) -> QuestionCreated:
    """"Ik heb een vraag": my question goes to my regisseur (or my wijk's team)."""
    subject, rep = me_api.acting_subject(ctx, session, resident, on_behalf_of)
    item = questions.ask(session=session, ctx=ctx, subject=subject, text=body.text,
                         actor=resident.subject, now=ctx.clock(),
                         representation_id=rep.id if rep else None)
    public = QuestionCreated(id=item.id, regisseur=item.addressed_to)
    session.commit()
    return public


# --- the partner -----------------------------------------------------------------------------

@router.post("/api/v1/plan/progress", response_model=ProgressCreated, status_code=201)
def progress(body: ProgressIn, ctx: ContextDep, session: SessionDep,
             partner: PartnerDep) -> ProgressCreated:
    """A partner reports progress on an agreement it received (``plan.progress``).

    Only an agreement delivered to this partner, and only while the resident's consent to
    share it holds; anything else is 404.
    """
    row = accept_progress(session=session, ctx=ctx, partner=partner,
                          agreement_id=body.agreement_id, state=body.state, note=body.note,
                          now=ctx.clock())
    created = ProgressCreated(id=row.id, agreement_id=row.agreement_id, state=row.state)
    session.commit()
    return created
