"""The resident's own page (``/mijn``): what is known, who got what, consents, questions, reads.

Everything comes from the same functions as the API's ``/api/v1/me`` routes
(:mod:`hub.api.me`, :mod:`hub.api.audit`): the same texts from
:mod:`consent.explain`, the same audit events, the same immediate effect of a
revocation. Revoking asks for confirmation on a page of its own, so it works
without JavaScript.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from hub.api import audit as audit_api
from hub.api import me as me_api
from hub.api.deps import ContextDep, SessionDep
from hub.core.errors import HubProblem
from hub.web.deps import CsrfChecked, ResidentPage, valid_id
from hub.web.render import page, redirect
from hub.web.session import WebError

router = APIRouter(prefix="/mijn", include_in_schema=False)
AUDIT_SHOWN = 30
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


def _checked(value: str) -> str:
    if not valid_id(value):
        raise WebError(404, "Niet gevonden", "Dit bestaat niet (meer), of het is niet van u.")
    return value


@router.get("")
def overview(request: Request, ctx: ContextDep, session: SessionDep, who: ResidentPage,
             melding: str | None = None) -> Response:
    """The resident's page: questions, consents, what is known, what was shared, who looked."""
    requests = [r for r in me_api.my_requests(ctx=ctx, session=session, resident=who)
                if r.status == "pending"]
    consents = me_api.my_consents(ctx=ctx, session=session, resident=who)
    known = me_api.what_is_known(ctx=ctx, session=session, resident=who)
    shared = me_api.my_disclosures(ctx=ctx, session=session, resident=who)
    looked = audit_api.my_audit(ctx=ctx, session=session, resident=who, limit=AUDIT_SHOWN,
                                offset=0)
    return page(request, ctx, "mijn/overzicht.html", title="Mijn gegevens",
                requests=requests, consents=consents, known=known, shared=shared,
                looked=looked, notice=NOTICES.get(melding or ""))


@router.get("/toestemming/{consent_id}/intrekken")
def confirm_revoke(consent_id: str, request: Request, ctx: ContextDep, session: SessionDep,
                   who: ResidentPage) -> Response:
    """Ask once more before revoking: what stops, and what does not."""
    try:
        consent = me_api.my_consent(consent_id=_checked(consent_id), ctx=ctx, session=session,
                                    resident=who)
    except HubProblem as exc:
        raise _from_problem(exc) from None
    return page(request, ctx, "mijn/intrekken.html", title="Toestemming intrekken",
                consent=consent)


@router.post("/toestemming/{consent_id}/intrekken", dependencies=[CsrfChecked])
def revoke(consent_id: str, request: Request, ctx: ContextDep, session: SessionDep,
           who: ResidentPage) -> Response:
    """Revoke: effective before this answers."""
    try:
        me_api.revoke_consent(consent_id=_checked(consent_id), ctx=ctx, session=session,
                              resident=who)
    except HubProblem as exc:
        raise _from_problem(exc) from None
    return redirect(request, ctx, "/mijn?melding=ingetrokken#toestemmingen")


@router.post("/vraag/{request_id}/toestaan", dependencies=[CsrfChecked])
def approve(request_id: str, request: Request, ctx: ContextDep, session: SessionDep,
            who: ResidentPage) -> Response:
    """Say yes to a question: consent for exactly that partner and kind of data."""
    try:
        me_api.approve(request_id=_checked(request_id), ctx=ctx, session=session, resident=who)
    except HubProblem as exc:
        raise _from_problem(exc) from None
    return redirect(request, ctx, "/mijn?melding=toegestaan")


@router.post("/vraag/{request_id}/weigeren", dependencies=[CsrfChecked])
def deny(request_id: str, request: Request, ctx: ContextDep, session: SessionDep,
         who: ResidentPage) -> Response:
    """Say no to a question: the held messages are not shared."""
    try:
        me_api.deny(request_id=_checked(request_id), ctx=ctx, session=session, resident=who)
    except HubProblem as exc:
        raise _from_problem(exc) from None
    return redirect(request, ctx, "/mijn?melding=geweigerd")
