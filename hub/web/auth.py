"""Logging in and out of the screens.

Only with the explicit development switch (``HUB_ENV`` development or test, as
``hub demo`` and the tests set it; the default is production): a
chooser lists the demo identities — the residents in the registry, a regisseur
and a team lead per wijk, an operator — and logs in with a token of the
development issuer, exactly the token ``hub token`` prints. In production the
chooser is switched off and ``/inloggen`` offers the OIDC authorization-code
flow of :mod:`hub.web.oidc_login` when it is configured.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import select

from hub.api.deps import ContextDep, SessionDep
from hub.core.identity import IdentityError, issue_token, verify_token
from hub.core.models import Resident
from hub.core.residents import resident_identity
from hub.web import oidc_login
from hub.web import session as web_session
from hub.web.deps import HOME, CsrfChecked
from hub.web.render import page, redirect
from hub.web.session import LoginRequired, WebError

router = APIRouter(include_in_schema=False)
# The chooser is a demo tool: a short list is enough to pick someone to be.
CHOOSER_RESIDENTS = 12


def _safe_next(target: str | None) -> str | None:
    # Only a path on this site: never an open redirect to somewhere else.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def chooser_enabled(ctx) -> bool:
    """The demo chooser exists only where the development issuer does: in development mode."""
    from hub.core.mode import is_development

    return is_development(ctx.settings)


def _demo_residents(ctx, session) -> list[tuple[str, str]]:
    rows = session.scalars(select(Resident).order_by(Resident.subject)
                           .limit(CHOOSER_RESIDENTS)).all()
    people = [(r.subject, resident_identity(ctx, r)["name"]) for r in rows]
    return sorted(people, key=lambda p: p[1])


@router.get("/")
def root(request: Request, ctx: ContextDep) -> Response:
    """The start: your own page when logged in, else the log-in page."""
    try:
        who = web_session.principal(request, ctx)
    except LoginRequired:
        return redirect(request, ctx, "/inloggen")
    return redirect(request, ctx, HOME[who.role])


@router.get("/inloggen")
def login_page(request: Request, ctx: ContextDep, session: SessionDep,
               volgende: str | None = None) -> Response:
    """The log-in page: the demo chooser, or the button to the identity provider."""
    web_session.load_session(request, ctx)
    wijken = sorted(((slug, w.name) for slug, w in ctx.wijkmap.wijken.items()),
                    key=lambda w: w[1])
    return page(request, ctx, "inloggen.html", title="Inloggen",
                chooser=chooser_enabled(ctx),
                residents=_demo_residents(ctx, session) if chooser_enabled(ctx) else [],
                wijken=wijken, oidc=oidc_login.configured(ctx),
                next=_safe_next(volgende) or "")


@router.post("/inloggen", dependencies=[CsrfChecked])
def login(request: Request, ctx: ContextDep, session: SessionDep,
          rol: Annotated[str | None, Form()] = None,
          wijk: Annotated[str | None, Form()] = None,
          bewoner: Annotated[str | None, Form()] = None,
          volgende: Annotated[str | None, Form()] = None) -> Response:
    """Log in as the chosen demo identity (development and test only)."""
    if not chooser_enabled(ctx):
        raise WebError(404, "Deze pagina bestaat niet",
                       "Inloggen gaat hier via de knop op de inlogpagina.")
    if rol in ("regisseur", "teamlead"):
        if wijk not in ctx.wijkmap.wijken:
            raise WebError(422, "Kies een wijk", "Kies de wijk waarin u werkt.")
        token = issue_token(ctx, role=rol, user=f"{rol}-{wijk}", wijk=wijk)
        word = "Regisseur" if rol == "regisseur" else "Teamleider"
        name = f"{word} {ctx.wijkmap.name(wijk)}"
    elif rol == "resident":
        resident = session.get(Resident, bewoner) if bewoner else None
        if resident is None:
            raise WebError(422, "Kies een bewoner", "Kies de bewoner als wie u wilt inloggen.")
        token = issue_token(ctx, role="resident", user=f"bewoner-{resident.subject[:12]}",
                            subject=resident.subject)
        name = resident_identity(ctx, resident)["name"]
    elif rol == "operator":
        token = issue_token(ctx, role="operator", user="beheerder")
        name = "Beheerder"
    else:
        raise WebError(422, "Kies een rol", "Kies als wie u wilt inloggen.")
    # The same check an API call makes: the session holds nothing the API would refuse.
    try:
        who = verify_token(ctx, token)
    except IdentityError:
        raise WebError(422, "Inloggen lukt niet", "Deze keuze kan niet inloggen.") from None
    web_session.start(web_session.load_session(request, ctx), token=token, name=name)
    return redirect(request, ctx, _safe_next(volgende) or HOME[who.role])


@router.post("/uitloggen", dependencies=[CsrfChecked])
def logout(request: Request, ctx: ContextDep) -> Response:
    """Log out: the session forgets the token."""
    web_session.end(web_session.load_session(request, ctx))
    return redirect(request, ctx, "/inloggen?uitgelogd=1")
