"""Dependencies, declared once, so that routes read like prose."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from hub.core.context import HubContext
from hub.core.errors import FieldProblem, HubProblem
from hub.core.identity import IdentityError, Principal, partner_for_key, verify_token
from hub.core.models import Partner

_bearer = HTTPBearer(auto_error=False)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def get_context(request: Request) -> HubContext:
    """The hub this app serves."""
    return request.app.state.hub


ContextDep = Annotated[HubContext, Depends(get_context)]


def get_session(ctx: ContextDep) -> Iterator[Session]:
    """A session for one request. Routes commit what they keep *before* they answer,
    so a 2xx always means durably stored; anything uncommitted is rolled back."""
    with ctx.sessions() as session:
        try:
            yield session
        finally:
            session.rollback()


SessionDep = Annotated[Session, Depends(get_session)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _unauthorized(reason: str) -> HubProblem:
    # Name the field like every other client error: the Authorization header.
    return HubProblem(401, "Not authenticated", [FieldProblem("authorization", reason)],
                      headers=_CHALLENGE)


def get_partner(session: SessionDep, credentials: Credentials) -> Partner:
    """The partner whose API key is the bearer credential."""
    if credentials is None:
        raise _unauthorized("Missing partner API key")
    partner = partner_for_key(session=session, api_key=credentials.credentials)
    if partner is None:
        raise _unauthorized("Unknown or revoked partner API key")
    return partner


def _principal(ctx: HubContext, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None:
        raise _unauthorized("Missing bearer token")
    try:
        return verify_token(ctx, credentials.credentials)
    except IdentityError as exc:
        raise _unauthorized(str(exc)) from None


def get_regisseur(ctx: ContextDep, credentials: Credentials) -> Principal:
    """A regisseur, with the wijk they serve."""
    principal = _principal(ctx, credentials)
    if principal.role != "regisseur":
        raise HubProblem(403, "Only a regisseur may do this")
    return principal


def get_resident(ctx: ContextDep, credentials: Credentials) -> Principal:
    """A resident, with their own pseudonymous subject."""
    principal = _principal(ctx, credentials)
    if principal.role != "resident":
        raise HubProblem(403, "Only the resident may do this")
    return principal


PartnerDep = Annotated[Partner, Depends(get_partner)]
RegisseurDep = Annotated[Principal, Depends(get_regisseur)]
ResidentDep = Annotated[Principal, Depends(get_resident)]
