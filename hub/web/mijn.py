"""The resident's own page (``/mijn``): what is known, who got what, consents, questions, reads.

A representative (a parent, guardian, curator, mentor or bewindvoerder) sees
whom they act for and switches with ``?namens=<representation id>``: the same
``on_behalf_of`` the API takes, held to the same capacity by the registry.

Everything comes from the same functions as the API's ``/api/v1/me`` routes
(:mod:`hub.api.me`, :mod:`hub.api.audit`): the same texts from
:mod:`consent.explain`, the same audit events, the same immediate effect of a
revocation. Revoking asks for confirmation on a page of its own, so it works
without JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from consent import registry
from hub.api import audit as audit_api
from hub.api import me as me_api
from hub.api import outreach as outreach_api
from hub.api.deps import ContextDep, SessionDep
from hub.core.audit_text import group_repeats
from hub.core.errors import HubProblem
from hub.core.models import Resident
from hub.core.reads import resident_team
from hub.core.residents import resident_identity
from hub.web.deps import CsrfChecked, ResidentPage, valid_id
from hub.web.render import page, redirect
from hub.web.session import WebError

router = APIRouter(prefix="/mijn", include_in_schema=False)
# Enough of the trail to fold repeats ("3 keer bekeken") into a short list (issue 15.12).
AUDIT_SHOWN = 200
NOTICES = {
    "ingetrokken": "Uw toestemming is ingetrokken. Vanaf nu wordt er niets meer gedeeld op "
                   "grond van deze toestemming, en uw wijkteam ziet wat al gedeeld was niet "
                   "meer.",
    "toegestaan": "Dank u. U heeft toestemming gegeven. Uw wijkteam krijgt deze melding nu.",
    "geweigerd": "U heeft nee gezegd. De melding wordt niet gedeeld met uw wijkteam.",
}


def _from_problem(exc: HubProblem) -> WebError:
    if exc.status == 404:
        return WebError(404, "Niet gevonden", "Dit bestaat niet (meer), of het is niet van u.")
    if exc.status == 409:
        return WebError(409, "Dit kan niet meer",
                        "Deze vraag of toestemming is al afgehandeld. Kijk op uw pagina hoe "
                        "het nu staat.")
    if exc.status == 403:
        return WebError(403, "Dit mag u niet doen", "Dit valt buiten wat u voor deze persoon "
                        "mag regelen.")
    return WebError(exc.status if exc.status < 500 else 503, "Dit lukte niet",
                    "Er ging iets mis. Probeer het later opnieuw.")


_CAPACITY = {"parent": "ouder", "guardian": "voogd", "curator": "curator", "mentor": "mentor",
             "bewindvoerder": "bewindvoerder"}


@dataclass(frozen=True)
class Represented:
    """Someone the logged-in resident may act for, as the page names them."""

    id: str
    name: str
    capacity: str
    subject: str


def _represented(ctx, session: Session, who) -> list[Represented]:
    now = ctx.clock()
    people = []
    for rep in registry.list_representations(session=session, representative=who.subject):
        if not rep.is_active_at(now):
            continue
        resident = session.get(Resident, rep.subject)
        name = resident_identity(ctx, resident)["name"] if resident else "iemand"
        people.append(Represented(rep.id, name, _CAPACITY.get(rep.capacity.value,
                                                              rep.capacity.value), rep.subject))
    return people


def acting_person(ctx, session: Session, who, namens: str | None) -> Represented | None:
    """The person acted for (``?namens=``), or None for the resident's own page."""
    if namens is None:
        return None
    chosen = [p for p in _represented(ctx, session, who) if p.id == _checked(namens)]
    if not chosen:
        raise WebError(404, "Niet gevonden", "U regelt geen zaken (meer) voor deze persoon.")
    return chosen[0]


def _topic(catalog, type_name: str) -> str:
    mt = catalog.type(type_name)
    return mt.topic if mt is not None else "een melding"


def namens_query(namens: str | None) -> str:
    return "?" + urlencode({"namens": namens}) if namens else ""


def _checked(value: str) -> str:
    if not valid_id(value):
        raise WebError(404, "Niet gevonden", "Dit bestaat niet (meer), of het is niet van u.")
    return value


@router.get("")
def overview(request: Request, ctx: ContextDep, session: SessionDep, who: ResidentPage,
             melding: str | None = None, namens: str | None = None) -> Response:
    """The resident's page: questions, consents, what is known, what was shared, who looked."""
    acting = acting_person(ctx, session, who, namens)
    on_behalf_of = acting.id if acting else None
    try:
        requests = [r for r in me_api.my_requests(ctx=ctx, session=session, resident=who,
                                                  on_behalf_of=on_behalf_of)
                    if r.status == "pending"]
        consents = me_api.my_consents(ctx=ctx, session=session, resident=who,
                                      on_behalf_of=on_behalf_of)
        known = me_api.what_is_known(ctx=ctx, session=session, resident=who,
                                     on_behalf_of=on_behalf_of)
        shared = me_api.my_disclosures(ctx=ctx, session=session, resident=who,
                                       on_behalf_of=on_behalf_of)
    except HubProblem as exc:
        raise _from_problem(exc) from None
    # The audit trail is the resident's own; a representative reads it on their own page.
    looked = None if acting else audit_api.my_audit(ctx=ctx, session=session, resident=who,
                                                    limit=AUDIT_SHOWN, offset=0)
    # Issue 16: what the wijkteam tried after an early signal, on the resident's own page.
    tried = None if acting else outreach_api.my_outreach(ctx=ctx, session=session,
                                                         resident=who)
    team = resident_team(session=session, ctx=ctx,
                         subject=acting.subject if acting else who.subject)
    catalog = ctx.plugins.catalog
    # Which report each line is about: two rent arrears from one partner must not read
    # as the same line twice (issue 15, item 12).
    shared_lines = [(_topic(catalog, d.message_type), d) for d in shared]
    return page(request, ctx, "mijn/overzicht.html", title="Mijn gegevens",
                requests=requests, consents=consents, known=known, shared=shared_lines,
                looked=looked, looked_lines=group_repeats(looked.items) if looked else [],
                team=team, tried=tried, notice=NOTICES.get(melding or ""), acting=acting,
                represented=_represented(ctx, session, who), q=namens_query(on_behalf_of))


@router.get("/toestemming/{consent_id}/intrekken")
def confirm_revoke(consent_id: str, request: Request, ctx: ContextDep, session: SessionDep,
                   who: ResidentPage, namens: str | None = None) -> Response:
    """Ask once more before revoking: what stops, and what does not."""
    acting = acting_person(ctx, session, who, namens)
    try:
        consent = me_api.my_consent(consent_id=_checked(consent_id), ctx=ctx, session=session,
                                    resident=who, on_behalf_of=acting.id if acting else None)
    except HubProblem as exc:
        raise _from_problem(exc) from None
    return page(request, ctx, "mijn/intrekken.html", title="Toestemming intrekken",
                consent=consent, acting=acting, q=namens_query(acting.id if acting else None))


def _back(namens: str | None, melding: str, anchor: str = "") -> str:
    query = {"melding": melding, **({"namens": namens} if namens else {})}
    return f"/mijn?{urlencode(query)}{anchor}"


@router.post("/toestemming/{consent_id}/intrekken", dependencies=[CsrfChecked])
def revoke(consent_id: str, request: Request, ctx: ContextDep, session: SessionDep,
           who: ResidentPage, namens: str | None = None) -> Response:
    """Revoke: effective before this answers."""
    acting = acting_person(ctx, session, who, namens)
    try:
        me_api.revoke_consent(consent_id=_checked(consent_id), ctx=ctx, session=session,
                              resident=who, on_behalf_of=acting.id if acting else None)
    except HubProblem as exc:
        raise _from_problem(exc) from None
    return redirect(request, ctx, _back(namens, "ingetrokken", "#toestemmingen"))


@router.post("/vraag/{request_id}/toestaan", dependencies=[CsrfChecked])
def approve(request_id: str, request: Request, ctx: ContextDep, session: SessionDep,
            who: ResidentPage, namens: str | None = None) -> Response:
    """Say yes to a question: consent for exactly that partner and kind of data."""
    acting = acting_person(ctx, session, who, namens)
    try:
        me_api.approve(request_id=_checked(request_id), ctx=ctx, session=session, resident=who,
                       on_behalf_of=acting.id if acting else None)
    except HubProblem as exc:
        raise _from_problem(exc) from None
    return redirect(request, ctx, _back(namens, "toegestaan"))


@router.post("/vraag/{request_id}/weigeren", dependencies=[CsrfChecked])
def deny(request_id: str, request: Request, ctx: ContextDep, session: SessionDep,
         who: ResidentPage, namens: str | None = None) -> Response:
    """Say no to a question: the held messages are not shared."""
    acting = acting_person(ctx, session, who, namens)
    try:
        me_api.deny(request_id=_checked(request_id), ctx=ctx, session=session, resident=who,
                    on_behalf_of=acting.id if acting else None)
    except HubProblem as exc:
        raise _from_problem(exc) from None
    return redirect(request, ctx, _back(namens, "geweigerd"))
