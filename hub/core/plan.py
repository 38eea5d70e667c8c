"""The household plan (issue 17): "1 huishouden, 1 plan, 1 regisseur".

One plan per household, written with the resident: goals per life domain in the
resident's own words, agreements (who does what by when, and its state), a date
to look back, and optionally a self-reliance score (1 to 5) per domain at the
start and now. The plan is versioned like consents: a change is a new row of
``plan_versions``, nothing is overwritten. Its body is sealed (``Cipher``,
context ``plan:<version id>``), changes are audited with ids and field names
only, and nothing of its text is logged or counted in metrics.

Every read goes through :func:`read_plan`, which applies who may see it: a
regisseur or team lead of the household's wijk (another wijk's plan is the
same 404 as a missing one), the resident of the household and their
representatives within capacity; the operator never. Only a regisseur of the
wijk writes (:func:`save_plan`, :func:`set_agreement_state`); a team lead reads.

The self-reliance score is our own generic 1–5 scale with our own Dutch words;
the ZRM's texts are not used (its terms of use restrict publishing them).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from consent.representation import CAPACITY_CATEGORIES
from hub.core.audit import record_event
from hub.core.bsn import validate_bsn
from hub.core.context import HubContext
from hub.core.errors import FieldProblem, HubProblem, invalid, pydantic_problems
from hub.core.households import household_of_subject
from hub.core.models import Partner, PlanProgress, PlanResponse, PlanVersion, Resident
from hub.core.reads import get_household

# Life domains, with the Dutch label the resident and regisseur read and the data
# category the consent registry knows them by (for sharing an agreement).
DOMAINS: dict[str, tuple[str, str]] = {
    "financien": ("Geld en schulden", "financieel"),
    "wonen": ("Wonen", "wonen"),
    "gezondheid": ("Gezondheid", "zorg"),
    "werk-inkomen": ("Werk en inkomen", "werk-inkomen"),
    "sociaal-netwerk": ("Familie, vrienden en buren", "zorg"),
    "dagbesteding": ("Overdag iets te doen", "zorg"),
    "veiligheid": ("Veiligheid", "veiligheid"),
}
Domain = Literal["financien", "wonen", "gezondheid", "werk-inkomen", "sociaal-netwerk",
                 "dagbesteding", "veiligheid"]
WHO_LABELS = {"resident": "U zelf", "network": "Iemand uit uw omgeving",
              "wijkteam": "Het wijkteam", "partner": "Een organisatie"}
Who = Literal["resident", "network", "wijkteam", "partner"]
STATE_LABELS = {"open": "Nog niet begonnen", "in_progress": "Bezig", "done": "Klaar",
                "stopped": "Gestopt"}
State = Literal["open", "in_progress", "done", "stopped"]
# Our own generic scale (not the ZRM's texts): how well does the household manage alone?
SCORE_LABELS = {1: "Het lukt nu niet", 2: "Het lukt bijna niet", 3: "Het lukt met veel hulp",
                4: "Het lukt met een beetje hulp", 5: "Het lukt zelf"}
RESPONSE_KINDS = ("agree", "comment", "suggest")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ID = r"^[A-Za-z0-9_-]{1,64}$"


def _text(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


class GoalIn(BaseModel):
    """One goal: a life domain and the resident's own words; a score at the start and now."""

    model_config = ConfigDict(extra="forbid")
    domain: Domain
    text: str = Field(min_length=1, max_length=2000)
    score_start: int | None = Field(default=None, ge=1, le=5)
    score_now: int | None = Field(default=None, ge=1, le=5)

    _clean = field_validator("text")(_text)


class AgreementIn(BaseModel):
    """One agreement: what, who does it, by when, and how far it is.

    ``id`` keeps an agreement of the current version (its state and sharing refer to
    it); leave it out for a new agreement. ``partner_id`` when a partner does it;
    ``network_person`` (e.g. "mijn zus") when someone of the resident's own network does.
    """

    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(default=None, pattern=_ID)
    domain: Domain
    text: str = Field(min_length=1, max_length=1000)
    who: Who
    partner_id: str | None = Field(default=None, pattern=_ID)
    network_person: str | None = Field(default=None, max_length=200)
    due: date | None = None
    state: State = "open"

    _clean = field_validator("text")(_text)

    @field_validator("network_person")
    @classmethod
    def _person(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else _text(value)

    @model_validator(mode="after")
    def _partner_only_for_partner(self) -> AgreementIn:
        if self.who == "partner" and self.partner_id is None:
            raise ValueError("partner_id: name the partner organisation that does this")
        if self.who != "partner" and self.partner_id is not None:
            raise ValueError("partner_id: only an agreement a partner does names a partner")
        return self


#: How many goals and agreements one plan holds at most (a plan a household can follow).
MAX_GOALS = 30
MAX_AGREEMENTS = 50


class PlanIn(BaseModel):
    """A whole plan as the regisseur saves it (a new version).

    ``resident_bsn``: the resident the plan is written with (whose consent shares an
    agreement), needed once for a household of more than one resident. ``based_on``:
    the version the editor started from; another change in between answers 409.
    """

    model_config = ConfigDict(extra="forbid")
    goals: list[GoalIn] = Field(default_factory=list, max_length=MAX_GOALS)
    agreements: list[AgreementIn] = Field(default_factory=list, max_length=MAX_AGREEMENTS)
    evaluation_date: date
    resident_bsn: str | None = Field(default=None, max_length=20)
    based_on: int | None = Field(default=None, ge=0, le=2**31 - 1)


@dataclass(frozen=True)
class ShareView:
    """Whether an agreement reached its partner: shared | asked | not_shared."""

    status: str
    reason: str


@dataclass(frozen=True)
class PlanView:
    """A plan as this viewer may see it (a representative: only domains within capacity)."""

    household_id: str
    wijk: str
    regisseur: str | None
    version: int
    created_at: datetime | None
    evaluation_date: str | None
    goals: list[dict[str, Any]]
    agreements: list[dict[str, Any]]
    responses: list[dict[str, Any]] = field(default_factory=list)
    has_resident: bool = False


# --- reading --------------------------------------------------------------------------------

# A household row is found through the read path (hub.core.reads) or the household
# module, never queried here; hence ``Any`` for its type (tests/test_architecture.py).

def _household_for_staff(session: Session, viewer: Any, household_id: str) -> Any:
    if viewer.role not in ("regisseur", "teamlead"):
        raise HubProblem(404, "Plan not found")
    try:
        return get_household(session=session, viewer=viewer, household_id=household_id)
    except HubProblem:
        # Another wijk's plan is the same 404 as a missing one: an id is not confirmed.
        raise HubProblem(404, "Plan not found") from None


def _household_for_resident(session: Session, subject: str | None,
                            household_id: str | None) -> Any:
    household = household_of_subject(session=session, subject=subject) if subject else None
    if household is None or (household_id is not None and household.id != household_id):
        raise HubProblem(404, "Plan not found")
    return household


def current_version(*, session: Session, household_id: str) -> PlanVersion | None:
    """The newest version of the household's plan, or None if it has none yet."""
    return session.scalar(select(PlanVersion).where(PlanVersion.household_id == household_id)
                          .order_by(PlanVersion.version.desc()).limit(1))


def open_body(ctx: HubContext, row: PlanVersion) -> dict[str, Any]:
    """The plan body of one version, opened."""
    return ctx.cipher.open(row.body_sealed, context=f"plan:{row.id}")


def read_plan(*, session: Session, ctx: HubContext, viewer: Any, household_id: str | None,
              subject: str | None = None, categories: frozenset[str] | None = None,
              audit: bool = True) -> PlanView:
    """The one read of a household plan: applies who may see what, and audits the read.

    ``viewer`` is the Principal. Staff name ``household_id``; a resident passes the
    ``subject`` they act for (their own, or checked by the caller as represented) and
    ``categories`` (a representative's capacity, None for the resident themselves);
    ``household_id`` may then be None (their own household). Raises HubProblem 404 for
    a plan this viewer may not see, as for a missing one; 403 for the operator.
    A household without a plan yet reads as version 0 with nothing in it.
    """
    if viewer.role == "resident":
        household = _household_for_resident(session, subject, household_id)
    elif viewer.role in ("regisseur", "teamlead"):
        household = _household_for_staff(session, viewer, household_id)
    else:
        raise HubProblem(403, "Only the household's wijkteam and the resident see a plan")
    row = current_version(session=session, household_id=household.id)
    view = _view(session, ctx, household, row, categories)
    if audit:
        who = ({"actor": viewer.subject, "role": "resident"} if viewer.role == "resident"
               else {"actor": viewer.user, "role": viewer.role})
        record_event(session, ctx=ctx, action="read.plan", **who,
                     subject=row.subject if row is not None else subject,
                     data={"household_id": household.id, "version": view.version})
    return view


def evaluation_dates(*, session: Session, ctx: HubContext,
                     household_ids: list[str]) -> dict[str, str]:
    """The evaluation date (ISO) of each of these households' current plan, for the
    caseload of a viewer who may see those households; a household without a plan is
    left out. Opens one sealed plan per household: call it for one page, not a wijk.
    """
    if not household_ids:
        return {}
    newest = (select(PlanVersion.household_id, func.max(PlanVersion.version).label("v"))
              .where(PlanVersion.household_id.in_(household_ids))
              .group_by(PlanVersion.household_id).subquery())
    rows = session.scalars(select(PlanVersion).join(
        newest, (PlanVersion.household_id == newest.c.household_id)
        & (PlanVersion.version == newest.c.v)))
    return {row.household_id: open_body(ctx, row)["evaluation_date"] for row in rows}


def _view(session: Session, ctx: HubContext, household: Any, row: PlanVersion | None,
          categories: frozenset[str] | None) -> PlanView:
    if row is None:
        return PlanView(household_id=household.id, wijk=household.wijk,
                        regisseur=household.regisseur, version=0, created_at=None,
                        evaluation_date=None, goals=[], agreements=[])
    body = open_body(ctx, row)

    def allowed(domain: str) -> bool:
        return categories is None or DOMAINS[domain][1] in categories

    goals = [{**g, "domain_label": DOMAINS[g["domain"]][0]} for g in body["goals"]
             if allowed(g["domain"])]
    from hub.core.plan_sharing import share_state  # the sharing module builds on this one

    names = dict(session.execute(select(Partner.id, Partner.name)).all())
    agreements = []
    for a in body["agreements"]:
        if not allowed(a["domain"]):
            continue
        entry = {**a, "domain_label": DOMAINS[a["domain"]][0],
                 "who_label": WHO_LABELS[a["who"]], "state_label": STATE_LABELS[a["state"]],
                 "partner_name": names.get(a.get("partner_id")), "share": None,
                 "progress": progress_of(session=session, ctx=ctx, agreement_id=a["id"])}
        if a["who"] == "partner":
            entry["share"] = share_state(session=session, household_id=household.id,
                                         subject=row.subject, agreement=a,
                                         partner_name=names.get(a["partner_id"], ""),
                                         now=ctx.clock())
        agreements.append(entry)
    return PlanView(household_id=household.id, wijk=household.wijk,
                    regisseur=household.regisseur, version=row.version,
                    created_at=row.created_at, evaluation_date=body["evaluation_date"],
                    goals=goals, agreements=agreements,
                    responses=_responses(session, ctx, household.id),
                    has_resident=row.subject is not None)


def _responses(session: Session, ctx: HubContext, household_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(PlanResponse).where(PlanResponse.household_id == household_id)
                           .order_by(PlanResponse.created_at, PlanResponse.id))
    return [{"id": r.id, "kind": r.kind, "version": r.plan_version, "at": r.created_at,
             "by_representative": r.representation_id is not None,
             "text": (ctx.cipher.open(r.text_sealed, context=f"plan-response:{r.id}")
                      if r.text_sealed else None)} for r in rows]


def progress_of(*, session: Session, ctx: HubContext, agreement_id: str) -> list[dict[str, Any]]:
    """What partners reported on an agreement, oldest first."""
    rows = session.scalars(select(PlanProgress).where(PlanProgress.agreement_id == agreement_id)
                           .order_by(PlanProgress.created_at, PlanProgress.id))
    return [{"state": r.state, "state_label": STATE_LABELS.get(r.state, r.state),
             "at": r.created_at,
             "note": (ctx.cipher.open(r.note_sealed, context=f"plan-progress:{r.id}")
                      if r.note_sealed else None)} for r in rows]


def capacity_categories(representation: Any) -> frozenset[str] | None:
    """The categories a representation covers (None: the resident acts themselves)."""
    return None if representation is None else CAPACITY_CATEGORIES[representation.capacity]


# --- writing --------------------------------------------------------------------------------

def _check_writer(session: Session, viewer: Any, household_id: str) -> Any:
    if viewer.role == "teamlead":
        _household_for_staff(session, viewer, household_id)  # 404 first for another wijk
        raise HubProblem(403, "A team lead reads the plan but does not write it")
    if viewer.role != "regisseur":
        raise HubProblem(403, "Only a regisseur of the household's wijk writes a plan")
    return _household_for_staff(session, viewer, household_id)


def parse_plan(data: Any) -> PlanIn:
    """Validate a plan body; a HubProblem 422 names every faulty field."""
    try:
        return PlanIn.model_validate(data)
    except ValidationError as exc:
        raise HubProblem(422, "Invalid plan", pydantic_problems(exc)) from None


def _plan_subject(session: Session, ctx: HubContext, household: Any, plan: PlanIn,
                  previous: PlanVersion | None) -> str | None:
    if plan.resident_bsn is not None:
        try:
            bsn = validate_bsn(plan.resident_bsn)
        except ValueError as exc:
            raise invalid("resident_bsn", str(exc)) from None
        resident = session.get(Resident, ctx.pseudonyms.subject(bsn))
        if resident is None or resident.household_id != household.id:
            raise invalid("resident_bsn", "is not a resident of this household")
        return resident.subject
    if previous is not None and previous.subject is not None:
        return previous.subject
    members = session.scalars(select(Resident.subject)
                              .where(Resident.household_id == household.id).limit(2)).all()
    if len(members) == 1:
        return members[0]
    if any(a.who == "partner" for a in plan.agreements):
        raise invalid("resident_bsn", "name the resident this plan is written with: their "
                                      "consent decides what a partner may see")
    return None


def save_plan(*, session: Session, ctx: HubContext, viewer: Any, household_id: str,
              plan: PlanIn, now: datetime) -> PlanView:
    """Save the plan as a new version, in the caller's transaction, and share what may be shared.

    Checks: the viewer is a regisseur of the household's wijk (a team lead 403, another
    wijk 404); every partner is an active partner; an agreement ``id`` is one of the
    current version (else a new agreement gets a fresh id); the evaluation date is not
    in the past; ``based_on`` (if given) is the current version (else 409). Audited as
    ``plan.write`` with ids and the names of the parts that changed, never text.
    """
    household = _check_writer(session, viewer, household_id)
    previous = current_version(session=session, household_id=household.id)
    current = previous.version if previous is not None else 0
    if plan.based_on is not None and plan.based_on != current:
        raise HubProblem(409, "The plan changed meanwhile", [FieldProblem(
            "based_on", f"the plan is now at version {current}: reload it and try again")])
    if plan.evaluation_date < now.date():
        raise invalid("evaluation_date", "must be today or later")
    old = open_body(ctx, previous) if previous is not None else {"goals": [], "agreements": [],
                                                                  "evaluation_date": None}
    known = {a["id"] for a in old["agreements"]}
    agreements, seen = [], set()
    for n, a in enumerate(plan.agreements):
        if a.id is not None and a.id not in known:
            raise invalid(f"agreements.{n}.id", "is not an agreement of this plan; leave it "
                                                "out for a new one")
        if a.id is not None and a.id in seen:
            raise invalid(f"agreements.{n}.id", "appears twice")
        if a.partner_id is not None:
            partner = session.get(Partner, a.partner_id)
            if partner is None or not partner.active:
                raise invalid(f"agreements.{n}.partner_id", "no active partner with this id")
            if partner.kind not in _plan_partner_kinds(ctx):
                # Refused here, not when the resident says yes: their answer must not fail.
                raise invalid(f"agreements.{n}.partner_id",
                              "this partner does not receive plan agreements")
        aid = a.id or str(uuid.uuid4())
        seen.add(aid)
        agreements.append({**a.model_dump(mode="json"), "id": aid})
    body = {"goals": [g.model_dump(mode="json") for g in plan.goals], "agreements": agreements,
            "evaluation_date": plan.evaluation_date.isoformat()}
    subject = _plan_subject(session, ctx, household, plan, previous)
    row = _new_version(session, ctx, household, body, subject, current + 1, viewer, now)
    changed = sorted(k for k in ("goals", "agreements", "evaluation_date")
                     if body[k] != old.get(k)) + (
        ["resident"] if previous is None or previous.subject != subject else [])
    record_event(session, ctx=ctx, action="plan.write", actor=viewer.user, role=viewer.role,
                 subject=subject, data={"household_id": household.id, "version": row.version,
                                        "changed": changed,
                                        "agreements": [a["id"] for a in agreements]})
    _share(session, ctx, household, row, body, viewer, now)
    return read_plan(session=session, ctx=ctx, viewer=viewer, household_id=household.id,
                     audit=False)


def set_agreement_state(*, session: Session, ctx: HubContext, viewer: Any, household_id: str,
                        agreement_id: str, state: str, now: datetime) -> PlanView:
    """Move one agreement to ``state`` (a new version of the plan); audited as ``plan.state``.

    Unknown agreement: 404. Setting the state it already has writes nothing.
    """
    household = _check_writer(session, viewer, household_id)
    if state not in STATE_LABELS:
        raise invalid("state", f"must be one of {', '.join(STATE_LABELS)}")
    previous = current_version(session=session, household_id=household.id)
    body = open_body(ctx, previous) if previous is not None else {"agreements": []}
    target = next((a for a in body["agreements"] if a["id"] == agreement_id), None)
    if target is None:
        raise HubProblem(404, "Agreement not found")
    if target["state"] != state:
        target["state"] = state
        row = _new_version(session, ctx, household, body, previous.subject,
                           previous.version + 1, viewer, now)
        record_event(session, ctx=ctx, action="plan.state", actor=viewer.user,
                     role=viewer.role, subject=previous.subject,
                     data={"household_id": household.id, "version": row.version,
                           "agreement_id": agreement_id, "state": state})
        _share(session, ctx, household, row, body, viewer, now)
    return read_plan(session=session, ctx=ctx, viewer=viewer, household_id=household.id,
                     audit=False)


def _new_version(session: Session, ctx: HubContext, household: Any, body: dict,
                 subject: str | None, version: int, viewer: Any, now: datetime) -> PlanVersion:
    row_id = str(uuid.uuid4())
    row = PlanVersion(id=row_id, household_id=household.id, version=version, subject=subject,
                      created_at=now, created_by=viewer.user, created_role=viewer.role,
                      body_sealed=ctx.cipher.seal(body, context=f"plan:{row_id}"))
    # A savepoint: two regisseurs saving at once must not both make the same version.
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise HubProblem(409, "The plan changed meanwhile", [FieldProblem(
            "based_on", "someone else saved the plan at the same moment: reload it")]) from None
    return row


def _share(session: Session, ctx: HubContext, household: Any, row: PlanVersion,
           body: dict, viewer: Any, now: datetime) -> None:
    from hub.core.plan_sharing import share_agreements

    share_agreements(session=session, ctx=ctx, household=household, version=row, body=body,
                     actor=viewer.user, role=viewer.role, now=now)


# --- the resident's side ----------------------------------------------------------------------

def respond(*, session: Session, ctx: HubContext, viewer: Any, subject: str, kind: str,
            text: str | None, representation_id: str | None = None,
            categories: frozenset[str] | None = None, now: datetime) -> dict[str, Any]:
    """The resident agrees with the current plan, comments on it, or suggests a change.

    ``subject`` is the resident acted for (checked by the caller); a comment or a
    suggestion needs ``text`` (1 to 2,000 characters). A plan that does not exist yet
    is 404. Audited as ``plan.respond`` with the kind and version, never the text.
    """
    if kind not in RESPONSE_KINDS:
        raise invalid("kind", f"must be one of {', '.join(RESPONSE_KINDS)}")
    view = read_plan(session=session, ctx=ctx, viewer=viewer, household_id=None,
                     subject=subject, categories=categories, audit=False)
    if view.version == 0:
        raise HubProblem(404, "Plan not found")
    if kind == "agree":
        text = None
    else:
        if not isinstance(text, str):
            raise invalid("text", "write what you want to say")
        try:
            text = _text(text)
        except ValueError as exc:
            raise invalid("text", str(exc)) from None
        if len(text) > 2000:
            raise invalid("text", "must be at most 2000 characters")
    row_id = str(uuid.uuid4())
    session.add(PlanResponse(
        id=row_id, household_id=view.household_id, plan_version=view.version, kind=kind,
        actor=viewer.subject, representation_id=representation_id, created_at=now,
        text_sealed=ctx.cipher.seal(text, context=f"plan-response:{row_id}") if text else None))
    record_event(session, ctx=ctx, action="plan.respond", actor=viewer.subject, role="resident",
                 subject=subject, data={"household_id": view.household_id,
                                        "version": view.version, "kind": kind,
                                        "response_id": row_id})
    return {"id": row_id, "kind": kind, "version": view.version}



def _plan_partner_kinds(ctx: HubContext) -> tuple[str, ...]:
    from consent.sharing import SHARE_TYPE

    mt = ctx.plugins.catalog.type(SHARE_TYPE)
    return mt.partner_kinds if mt is not None and mt.outbound else ()


def partner_choices(*, session: Session, ctx: HubContext) -> list[tuple[str, str]]:
    """The active partners an agreement can be assigned to: those whose kind receives
    ``plan.agreement`` (id and name, by name), for the plan editor."""
    kinds = _plan_partner_kinds(ctx)
    if not kinds:
        return []
    return [(p.id, p.name) for p in session.scalars(
        select(Partner).where(Partner.active.is_(True), Partner.kind.in_(kinds))
        .order_by(Partner.name))]
