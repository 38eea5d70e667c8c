"""The plan's screens (issue 17): the regisseur's editor and the resident's "Mijn plan".

``/werkplek/huishouden/{id}/plan``: the household plan; a regisseur of the wijk edits
it in one form (a team lead reads). ``/mijn/plan``: the resident's plan in plain
Dutch, their answer (akkoord, een opmerking, een voorstel), the questions about
sharing an agreement with a partner, who their regisseur is, and "Ik heb een vraag".

Every page calls the API's route functions (:mod:`hub.api.plan`, :mod:`hub.api.me`),
so the reads go through :func:`hub.core.plan.read_plan` with the same checks and audit.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from consent import explain
from hub.api import me as me_api
from hub.api import plan as plan_api
from hub.api.deps import ContextDep, SessionDep
from hub.core.errors import FieldProblem, HubProblem
from hub.core.plan import (
    DOMAINS,
    MAX_AGREEMENTS,
    MAX_GOALS,
    SCORE_LABELS,
    STATE_LABELS,
    WHO_LABELS,
    partner_choices,
)
from hub.web.deps import CsrfChecked, InboxPage, RegisseurAction, ResidentPage, valid_id
from hub.web.mijn import acting_person, namens_query
from hub.web.render import TEMPLATES, page, redirect
from hub.web.session import WebError

router = APIRouter(include_in_schema=False)


def date_words(value: str | None) -> str:
    """An ISO date ("2027-01-31") as a resident reads it ("31 januari 2027")."""
    if not value:
        return ""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return value
    return explain.format_date(datetime(day.year, day.month, day.day, 12, tzinfo=UTC))


TEMPLATES.env.filters["dagtekst"] = date_words
EMPTY_GOALS, EMPTY_AGREEMENTS = 1, 3
NOTICES = {
    "opgeslagen": "Het plan is opgeslagen.",
    "akkoord": "Dank u. U bent akkoord met uw plan. Uw regisseur ziet dat.",
    "reactie": "Dank u. Uw regisseur leest uw bericht.",
    "vraag": "Dank u. Uw vraag is verstuurd. Uw regisseur neemt contact met u op.",
    "gedeeld": "Dank u. De organisatie krijgt alleen die ene afspraak uit uw plan.",
    "niet-gedeeld": "U zei nee. De afspraak wordt niet gedeeld.",
}
# Dutch names of the editor's fields, so a refusal names the field in the reader's words.
_FIELD_WORDS = {"domain": "levensgebied", "text": "tekst", "who": "wie", "partner_id":
                "organisatie", "network_person": "wie uit de omgeving", "due": "datum",
                "state": "stand", "score_start": "score bij de start", "score_now":
                "score nu", "id": "afspraak"}


def _not_found() -> WebError:
    return WebError(404, "Niet gevonden",
                    "Dit plan bestaat niet, of het is niet van uw wijk.")


def _field_words(field: str) -> str:
    parts = field.split(".")
    if parts[0] == "goals" and len(parts) > 1:
        return f"Doel {int(parts[1]) + 1}" + (
            f", {_FIELD_WORDS.get(parts[2], parts[2])}" if len(parts) > 2 else "")
    if parts[0] == "agreements" and len(parts) > 1:
        return f"Afspraak {int(parts[1]) + 1}" + (
            f", {_FIELD_WORDS.get(parts[2], parts[2])}" if len(parts) > 2 else "")
    return {"evaluation_date": "Datum om terug te kijken", "resident_bsn": "BSN van de bewoner",
            "based_on": "Versie", "state": "Stand", "text": "Uw tekst", "goals": "Doelen",
            "agreements": "Afspraken"}.get(field, field)


def _problems(exc: HubProblem) -> list[str]:
    return [f"{_field_words(p.field)}: dit is niet goed ingevuld." for p in exc.problems] or [
        "Dit lukte niet. Controleer wat u invulde."]


# --- the regisseur -------------------------------------------------------------------------

def _editor(request: Request, ctx, session, who, household_id: str, *, status: int = 200,
            errors: list[str] | None = None, melding: str | None = None) -> Response:
    try:
        plan = plan_api.household_plan(household_id=household_id, ctx=ctx, session=session,
                                       staff=who)
    except HubProblem as exc:
        raise _not_found() if exc.status == 404 else WebError(
            exc.status, "Dit lukte niet", "Probeer het later opnieuw.") from None
    goals = [g.model_dump() for g in plan.goals] + [{}] * EMPTY_GOALS
    agreements = [a.model_dump() for a in plan.agreements] + [{}] * EMPTY_AGREEMENTS
    return page(request, ctx, "plan/werkplek.html", status=status, title="Plan",
                plan=plan, goals=goals, agreements=agreements, errors=errors or [],
                notice=NOTICES.get(melding or ""), domains=DOMAINS, scores=SCORE_LABELS,
                states=STATE_LABELS, whos=WHO_LABELS, writer=who.role == "regisseur",
                partners=partner_choices(session=session, ctx=ctx))


@router.get("/werkplek/huishouden/{household_id}/plan")
def household_plan(household_id: str, request: Request, ctx: ContextDep, session: SessionDep,
                   who: InboxPage, melding: str | None = None) -> Response:
    """The household plan: to read (team lead) or to edit (regisseur)."""
    if not valid_id(household_id):
        raise _not_found()
    return _editor(request, ctx, session, who, household_id, melding=melding)


def _form_plan(form: Any) -> dict[str, Any]:
    """The editor's form as the API's plan body; empty rows are left out."""
    def value(name: str) -> str | None:
        raw = form.get(name)
        return raw.strip() if isinstance(raw, str) and raw.strip() else None

    def rows(name: str, limit: int) -> int:
        # The editor's own row count; bounded, so a forged form cannot make this loop run
        # for minutes (the plan holds at most ``limit`` of them anyway).
        raw = value(name) or "0"
        if not (raw.isascii() and raw.isdigit()) or int(raw) > limit:
            raise HubProblem(422, "Invalid plan", [FieldProblem(
                name, f"must be a whole number from 0 to {limit}")])
        return int(raw)

    goals, agreements = [], []
    for n in range(rows("goals", MAX_GOALS)):
        if value(f"goal-{n}-text") is None:
            continue
        goals.append({"domain": value(f"goal-{n}-domain"), "text": value(f"goal-{n}-text"),
                      "score_start": value(f"goal-{n}-score_start"),
                      "score_now": value(f"goal-{n}-score_now")})
    for n in range(rows("agreements", MAX_AGREEMENTS)):
        if value(f"agr-{n}-text") is None:
            continue
        who = value(f"agr-{n}-who")
        agreement = {"domain": value(f"agr-{n}-domain"), "text": value(f"agr-{n}-text"),
                     "who": who, "due": value(f"agr-{n}-due"),
                     "state": value(f"agr-{n}-state") or "open",
                     "partner_id": value(f"agr-{n}-partner_id") if who == "partner" else None,
                     "network_person": value(f"agr-{n}-network_person")
                     if who == "network" else None}
        if value(f"agr-{n}-id"):
            agreement["id"] = value(f"agr-{n}-id")
        agreements.append(agreement)
    body = {"goals": goals, "agreements": agreements,
            "evaluation_date": value("evaluation_date"), "based_on": value("based_on")}
    if value("resident_bsn"):
        body["resident_bsn"] = value("resident_bsn")
    return body


@router.post("/werkplek/huishouden/{household_id}/plan", dependencies=[CsrfChecked])
async def save_plan(household_id: str, request: Request, ctx: ContextDep, session: SessionDep,
                    who: RegisseurAction) -> Response:
    """Save the whole plan as a new version; a refusal shows the editor with the fields."""
    if not valid_id(household_id):
        raise _not_found()
    form = await request.form()
    try:
        try:
            body = plan_api.PlanIn.model_validate(_form_plan(form))
        except (ValidationError, ValueError) as exc:
            from hub.core.errors import pydantic_problems

            problems = pydantic_problems(exc) if isinstance(exc, ValidationError) else []
            raise HubProblem(422, "Invalid plan", problems) from None
        plan_api.write_plan(household_id=household_id, body=body, ctx=ctx, session=session,
                            staff=who)
    except HubProblem as exc:
        session.rollback()
        if exc.status == 404:
            raise _not_found() from None
        return _editor(request, ctx, session, who, household_id, status=exc.status,
                       errors=_problems(exc))
    return redirect(request, ctx, f"/werkplek/huishouden/{household_id}/plan?melding=opgeslagen")


# --- the resident ----------------------------------------------------------------------------

def _resident_plan(request: Request, ctx, session, who, namens: str | None,
                   melding: str | None = None, status: int = 200,
                   errors: list[str] | None = None) -> Response:
    acting = acting_person(ctx, session, who, namens)
    on_behalf_of = acting.id if acting else None
    try:
        plan = plan_api.my_plan(ctx=ctx, session=session, resident=who,
                                on_behalf_of=on_behalf_of)
        requests = [r for r in me_api.my_requests(ctx=ctx, session=session, resident=who,
                                                  on_behalf_of=on_behalf_of)
                    if r.status == "pending" and r.purpose == "plan.share"]
    except HubProblem as exc:
        raise WebError(exc.status if exc.status < 500 else 503, "Dit lukte niet",
                       "Probeer het later opnieuw.") from None
    return page(request, ctx, "plan/mijn.html", status=status, title="Mijn plan", plan=plan,
                requests=requests, acting=acting, q=namens_query(on_behalf_of),
                notice=NOTICES.get(melding or ""), errors=errors or [], scores=SCORE_LABELS,
                wijk=ctx.wijkmap.name(plan.wijk))


@router.get("/mijn/plan")
def my_plan(request: Request, ctx: ContextDep, session: SessionDep, who: ResidentPage,
            melding: str | None = None, namens: str | None = None) -> Response:
    """Mijn plan: goals, agreements, who is my regisseur, and ways to answer and ask."""
    return _resident_plan(request, ctx, session, who, namens, melding)


def _back(namens: str | None, melding: str) -> str:
    return f"/mijn/plan?melding={melding}" + (f"&namens={namens}" if namens else "")


async def _text_of(request: Request) -> str:
    form = await request.form()
    value = form.get("tekst")
    return value if isinstance(value, str) else ""


def _answer(request, ctx, session, who, namens, call) -> Response | None:
    try:
        call()
    except HubProblem as exc:
        session.rollback()
        if exc.status in (403, 404):
            raise WebError(exc.status, "Dit kan niet",
                           "Dit kunt u hier niet doen, of er is nog geen plan.") from None
        return _resident_plan(request, ctx, session, who, namens, status=exc.status,
                              errors=["Schrijf eerst iets in het vak. Gebruik niet meer dan "
                                      "2000 tekens."])
    return None


@router.post("/mijn/plan/akkoord", dependencies=[CsrfChecked])
def agree(request: Request, ctx: ContextDep, session: SessionDep, who: ResidentPage,
          namens: str | None = None) -> Response:
    """"Ik ga akkoord" with the plan as it is now."""
    acting = acting_person(ctx, session, who, namens)
    failed = _answer(request, ctx, session, who, namens, lambda: plan_api.agree(
        ctx=ctx, session=session, resident=who, on_behalf_of=acting.id if acting else None))
    return failed or redirect(request, ctx, _back(namens, "akkoord"))


@router.post("/mijn/plan/reactie", dependencies=[CsrfChecked])
async def respond(request: Request, ctx: ContextDep, session: SessionDep, who: ResidentPage,
                  namens: str | None = None) -> Response:
    """A comment ("opmerking") or a suggested change ("voorstel") on the plan."""
    form = await request.form()
    text = form.get("tekst") if isinstance(form.get("tekst"), str) else ""
    kind = plan_api.suggest if form.get("soort") == "voorstel" else plan_api.comment
    acting = acting_person(ctx, session, who, namens)

    def call():
        body = plan_api.ResidentText.model_validate({"text": text})
        kind(body=body, ctx=ctx, session=session, resident=who,
             on_behalf_of=acting.id if acting else None)

    failed = _answer(request, ctx, session, who, namens, _validated(call))
    return failed or redirect(request, ctx, _back(namens, "reactie"))


@router.post("/mijn/plan/vraag", dependencies=[CsrfChecked])
async def ask(request: Request, ctx: ContextDep, session: SessionDep, who: ResidentPage,
              namens: str | None = None) -> Response:
    """"Ik heb een vraag": the question goes to the regisseur's inbox."""
    text = await _text_of(request)
    acting = acting_person(ctx, session, who, namens)

    def call():
        body = plan_api.ResidentText.model_validate({"text": text})
        plan_api.ask(body=body, ctx=ctx, session=session, resident=who,
                     on_behalf_of=acting.id if acting else None)

    failed = _answer(request, ctx, session, who, namens, _validated(call))
    return failed or redirect(request, ctx, _back(namens, "vraag"))


def _validated(call):
    def run():
        try:
            call()
        except ValidationError:
            raise HubProblem(422, "Invalid text") from None
    return run


@router.post("/mijn/plan/delen/{request_id}/{answer}", dependencies=[CsrfChecked])
def share_answer(request_id: str, answer: str, request: Request, ctx: ContextDep,
                 session: SessionDep, who: ResidentPage, namens: str | None = None) -> Response:
    """The resident's yes ("ja") or no ("nee") to sharing one agreement with a partner."""
    if not valid_id(request_id) or answer not in ("ja", "nee"):
        raise WebError(404, "Niet gevonden", "Deze vraag bestaat niet (meer).")
    acting = acting_person(ctx, session, who, namens)
    call = me_api.approve if answer == "ja" else me_api.deny
    try:
        call(request_id=request_id, ctx=ctx, session=session, resident=who,
             on_behalf_of=acting.id if acting else None)
    except HubProblem as exc:
        raise WebError(exc.status if exc.status < 500 else 503, "Dit kan niet (meer)",
                       "Deze vraag is al beantwoord of bestaat niet.") from None
    return redirect(request, ctx, _back(namens, "gedeeld" if answer == "ja" else "niet-gedeeld"))


# --- triage: attaching an item to a resident -----------------------------------------------

@router.get("/werkplek/melding/{item_id}/koppelen")
def attach_form(item_id: str, request: Request, ctx: ContextDep, session: SessionDep,
                who: RegisseurAction) -> Response:
    """The form to attach a triage item to a resident of the wijk, by BSN."""
    from hub.core.reads import get_item

    item = (get_item(session=session, ctx=ctx, wijk=who.wijk, item_id=item_id, now=ctx.clock(),
                     viewer=who) if valid_id(item_id) else None)
    if item is None or item.confidential:
        raise WebError(404, "Niet gevonden", "Deze melding bestaat niet of is niet van uw wijk.")
    if not item.triage:
        raise WebError(409, "Al gekoppeld", "Deze melding hoort al bij een bewoner.")
    return page(request, ctx, "plan/koppelen.html", title="Koppelen", item_id=item_id,
                error=None)


@router.post("/werkplek/melding/{item_id}/koppelen", dependencies=[CsrfChecked])
async def attach(item_id: str, request: Request, ctx: ContextDep, session: SessionDep,
                 who: RegisseurAction) -> Response:
    """Attach the item; then the household's plan is one click away."""
    if not valid_id(item_id):
        raise WebError(404, "Niet gevonden", "Deze melding bestaat niet of is niet van uw wijk.")
    form = await request.form()
    bsn = form.get("bsn") if isinstance(form.get("bsn"), str) else ""
    try:
        shown = plan_api.attach(item_id=item_id, body=plan_api.AttachIn.model_validate(
            {"bsn": bsn.strip() or "-"}), ctx=ctx, session=session, regisseur=who)
    except (HubProblem, ValidationError) as exc:
        session.rollback()
        status = exc.status if isinstance(exc, HubProblem) else 422
        if status == 404:
            raise WebError(404, "Niet gevonden",
                           "Deze melding bestaat niet of is niet van uw wijk.") from None
        if status == 409:
            raise WebError(409, "Al gekoppeld", "Deze melding hoort al bij een bewoner.") from None
        return page(request, ctx, "plan/koppelen.html", status=422, title="Koppelen",
                    item_id=item_id, error="BSN: dit is geen geldig BSN van een bewoner van "
                                           "uw wijk. Controleer het nummer.")
    return redirect(request, ctx, f"/werkplek/melding/{shown.id}?melding=gekoppeld")
