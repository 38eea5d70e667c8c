"""The wijk's outreach worklist (``/werkplek/vroegsignalering``): one case per household.

Reads and actions go through the same functions as the API routes
(:mod:`hub.api.outreach`): the same visibility, the same audit events, the same
statuses sent to the partners. A form per case records a contact attempt or
closes the case; every form is CSRF-checked. The page is a list of cards that
stacks on a 360 px phone.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from hub.api import outreach as outreach_api
from hub.api.deps import ContextDep, SessionDep
from hub.core.errors import HubProblem
from hub.core.money import euro
from hub.core.outreach import KINDS, RESULTS
from hub.web.deps import CsrfChecked, InboxPage, RegisseurAction, valid_id
from hub.web.render import page, redirect
from hub.web.session import WebError

router = APIRouter(prefix="/werkplek/vroegsignalering", include_in_schema=False)
HOME = "/werkplek/vroegsignalering"
PAGE_SIZE = 25
NOTICES = {"poging": "De contactpoging is vastgelegd.",
           "afgesloten": "De zaak is afgesloten. De melders zien alleen dat hij is afgesloten."}
_FIELD_WORDS = {"kind": "Manier", "result": "Uitkomst", "outcome": "Uitkomst",
                "attempted_on": "Datum"}


def _from_problem(exc: HubProblem) -> WebError:
    if exc.status == 404:
        return WebError(404, "Niet gevonden", "Deze zaak bestaat niet, is niet van uw wijk, "
                        "of u mag de meldingen erin niet (meer) zien.")
    if exc.status == 409:
        # The core's conflicts are Dutch sentences for the regisseur.
        return WebError(409, "Dit kan niet", f"{exc.title}.")
    if exc.status == 422:
        reasons = "; ".join(f"{_FIELD_WORDS.get(p.field.split('.')[-1], p.field)}: {p.reason}"
                            for p in exc.problems)
        return WebError(422, "Dit klopt nog niet", reasons or "Controleer wat u invulde.")
    return WebError(exc.status if exc.status < 500 else 503, "Dit lukte niet",
                    "Probeer het later opnieuw.")


@router.get("")
def worklist(request: Request, ctx: ContextDep, session: SessionDep, who: InboxPage,
             melding: str | None = None, pagina: str | None = None) -> Response:
    """The open cases of the wijk, most urgent first, each with its forms."""
    number = int(pagina) if pagina and pagina.isdigit() and 0 < int(pagina) < 10_000 else 1
    listing = outreach_api.worklist(ctx=ctx, session=session, reader=who, limit=PAGE_SIZE,
                                    offset=(number - 1) * PAGE_SIZE, status="open")
    pages = max(1, -(-listing.total // PAGE_SIZE))
    return page(request, ctx, "werkplek/vroegsignalering.html", title="Vroegsignalering",
                listing=listing, kinds=KINDS, results=RESULTS, today=ctx.clock().date(),
                notice=NOTICES.get(melding or ""), can_act=who.role == "regisseur",
                number=number, pages=pages, euro=euro)


@router.post("/{case_id}/poging", dependencies=[CsrfChecked])
def attempt(case_id: str, request: Request, ctx: ContextDep, session: SessionDep,
            who: RegisseurAction, manier: Annotated[str, Form(max_length=20)] = "",
            uitkomst: Annotated[str, Form(max_length=40)] = "",
            datum: Annotated[str, Form(max_length=10)] = "") -> Response:
    """Record one contact attempt for the case."""
    if not valid_id(case_id):
        raise _from_problem(HubProblem(404, "not found"))
    try:
        on = date.fromisoformat(datum)
    except ValueError:
        raise WebError(422, "Dit klopt nog niet", "Datum: vul een datum in.") from None
    try:
        body = outreach_api.AttemptCreate.model_validate(
            {"kind": manier, "result": uitkomst, "attempted_on": on})
    except ValueError:
        raise WebError(422, "Dit klopt nog niet", "Kies een manier en een uitkomst.") from None
    try:
        outreach_api.add_attempt(case_id=case_id, body=body, ctx=ctx, session=session,
                                 regisseur=who)
    except HubProblem as exc:
        raise _from_problem(exc) from None
    return redirect(request, ctx, f"{HOME}?melding=poging")


@router.post("/{case_id}/afsluiten", dependencies=[CsrfChecked])
def close(case_id: str, request: Request, ctx: ContextDep, session: SessionDep,
          who: RegisseurAction,
          uitkomst: Annotated[str, Form(max_length=40)] = "") -> Response:
    """Close the case with its outcome (after at least one attempt)."""
    if not valid_id(case_id):
        raise _from_problem(HubProblem(404, "not found"))
    if uitkomst not in RESULTS:
        raise WebError(422, "Dit klopt nog niet", "Uitkomst: kies hoe de zaak afloopt.")
    try:
        outreach_api.close_case(case_id=case_id, body=outreach_api.CloseCreate(
            outcome=uitkomst), ctx=ctx, session=session, regisseur=who)
    except HubProblem as exc:
        raise _from_problem(exc) from None
    return redirect(request, ctx, f"{HOME}?melding=afgesloten")
