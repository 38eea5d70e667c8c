"""Who may open a screen: the logged-in principal, checked for the page's roles."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Form, Request

from hub.api.deps import ContextDep
from hub.core.identity import Principal
from hub.web import session as web_session
from hub.web.session import WebError

# Ids are UUIDs (or integers); anything else is not found, before it reaches the database
# (a NUL byte would make PostgreSQL fail the query).
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

HOME = {"resident": "/mijn", "regisseur": "/werkplek", "teamlead": "/werkplek",
        "operator": "/beheer"}


def _who(request: Request, ctx, roles: tuple[str, ...]) -> Principal:
    principal = web_session.principal(request, ctx)
    request.state.web_principal = principal
    if principal.role not in roles:
        raise WebError(403, "Deze pagina is niet voor u",
                       "U bent ingelogd, maar deze pagina hoort bij een andere rol. "
                       "Via de link bovenaan komt u bij uw eigen pagina.")
    return principal


def resident_page(request: Request, ctx: ContextDep) -> Principal:
    """A resident (bewoner) is logged in."""
    return _who(request, ctx, ("resident",))


def inbox_page(request: Request, ctx: ContextDep) -> Principal:
    """A regisseur or team lead is logged in (the team lead reads along, never acts)."""
    return _who(request, ctx, ("regisseur", "teamlead"))


def regisseur_action(request: Request, ctx: ContextDep) -> Principal:
    """A regisseur is logged in: may take up and close items."""
    return _who(request, ctx, ("regisseur",))


def operator_page(request: Request, ctx: ContextDep) -> Principal:
    """An operator is logged in."""
    return _who(request, ctx, ("operator",))


def csrf_checked(request: Request, ctx: ContextDep,
                 csrf: Annotated[str | None, Form()] = None) -> None:
    """Every POST form carries the session's CSRF token in a hidden field."""
    web_session.check_csrf(request, ctx, csrf)


ResidentPage = Annotated[Principal, Depends(resident_page)]
InboxPage = Annotated[Principal, Depends(inbox_page)]
RegisseurAction = Annotated[Principal, Depends(regisseur_action)]
OperatorPage = Annotated[Principal, Depends(operator_page)]
CsrfChecked = Depends(csrf_checked)


def valid_id(value: str) -> bool:
    """Whether a path id has the shape of one of the hub's ids."""
    return _ID.fullmatch(value) is not None  # fullmatch: no trailing newline either
