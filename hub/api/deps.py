"""Dependencies, declared once, so that routes read like prose."""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from hub.api.tls import presented_fingerprint
from hub.core.context import HubContext
from hub.core.errors import FieldProblem, HubProblem
from hub.core.identity import IdentityError, IssuerDown, Principal, verify_token
from hub.core.ids import ID_PATTERN
from hub.core.models import Partner
from hub.core.partner_keys import KeyRefused, KeyThrottled, VerifiedKey, key_id_of
from hub.core.ratelimit import retry_after
from hub.core.signatures import SignatureRefused, verify_request

T = TypeVar("T")

_bearer = HTTPBearer(auto_error=False)

# The id rule (hub.core.ids, issue 13, item 7) for an id in a path.
IdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
# Counts and offsets fit the database's integer columns (PostgreSQL's 4-byte integer):
# a larger one is a 422, never an overflow in the driver (issue 13, item 8).
MAX_INT = 2**31 - 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


async def refuse_control_characters(request: Request) -> None:
    """Refuse (422, naming the parameter) a path or query value with a control character.

    Installed on every route of the app, so a route added later, also a plugin's, is
    covered: no id or search value can carry a NUL byte to the database.
    """
    # async although it never waits: FastAPI runs a plain function dependency on the
    # threadpool, a thread hand-off per request for a few regex searches (issue 14).
    values = [*request.path_params.items(), *request.query_params.multi_items()]
    for name, value in values:
        if isinstance(value, str) and _CONTROL.search(value):
            raise HubProblem(422, "Invalid input", [FieldProblem(
                name, "must not contain control characters (such as a NUL byte)")])

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def get_context(request: Request) -> HubContext:
    """The hub this app serves."""
    # async for the same reason as refuse_control_characters: no threadpool hop.
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


def unauthorized(reason: str, field: str = "authorization") -> HubProblem:
    """The 401 problem (with its Bearer challenge) naming the field at fault."""
    # Name the field like every other client error: the Authorization header (or the
    # signature header or client certificate that is at fault).
    return HubProblem(401, "Not authenticated", [FieldProblem(field, reason)],
                      headers=_CHALLENGE)


async def get_partner(request: Request, ctx: ContextDep, session: SessionDep,
                      credentials: Credentials) -> Partner:
    """The partner whose API key is the bearer credential, with every proof it pinned
    (client certificate, request signature), within its rate limit."""
    if credentials is None:
        raise unauthorized("Missing partner API key")
    gate = request.app.state.partner_gate
    client = request.client.host if request.client else None

    def check_key() -> Partner:
        try:
            # A read: on SQLite it must not take the write lock that BEGIN IMMEDIATE
            # takes, or a flood of key checks stalls every writer (issue 13, item 5).
            session.connection(execution_options={"read_only": True})
            partner = gate.keys.partner_for(session=session, api_key=credentials.credentials,
                                            now=ctx.clock(), client=client)
        except BaseException:
            session.rollback()  # a failed statement leaves nothing to commit
            raise
        # End the lookup's transaction before the body streams in; nothing was written
        # (save a re-hash). Commit, not rollback: a rollback would
        # expire the partner object the route is about to use.
        session.commit()
        return partner

    partner = await _key_checked(check_key)
    await _proofs_and_rate(request, ctx, partner)
    return partner


async def _key_checked(check: Callable[[], T]) -> T:
    """Run a key check off the event loop (argon2 takes tens of milliseconds on a cache
    miss); a refused key as the 401 problem, a throttled one as the 429."""
    try:
        return await run_in_threadpool(check)
    except KeyRefused as exc:
        raise unauthorized(str(exc)) from None
    except KeyThrottled as exc:
        raise _too_many(str(exc), exc.retry_after) from None


async def sender_of(request: Request, *, again: bool = False) -> VerifiedKey:
    """For ``POST /api/v1/messages`` only: the partner's key as :func:`get_partner` checks
    it (every pinned proof, the rate limit), answered as a snapshot whose key state the
    group commit re-checks in the transaction that stores the message (issue 14).

    A key this process verified within ``HUB_PARTNER_KEY_CACHE_SECONDS`` costs no
    database round trip and no thread here; any other key is looked up (argon2 on a
    miss) in a transaction of its own, as :func:`get_partner` does. The route must
    hand the snapshot to the group commit, never act on it alone. ``again``: as
    :func:`verify_sender`'s (the snapshot changed; checked in full, no second token).

    Called by the route itself, not declared as a dependency: each dependant FastAPI
    resolves costs it tens of microseconds per request, and this is the hot route (the
    route's OpenAPI entry names the bearer scheme itself).
    """
    credentials = await _bearer(request)
    if credentials is None:
        raise unauthorized("Missing partner API key")
    return await verify_sender(request, request.app.state.hub, credentials.credentials,
                               again=again)


async def verify_sender(request: Request, ctx: HubContext, api_key: str, *,
                        again: bool = False) -> VerifiedKey:
    """:func:`sender_of`'s check of ``api_key``. ``again``: the group commit found the
    remembered snapshot changed (:class:`~hub.core.partner_keys.KeyChanged`): the key is
    forgotten and checked in full (database, argon2, every pinned proof), without taking
    a second token of the partner's rate limit for the same message."""
    gate = request.app.state.partner_gate
    client = request.client.host if request.client else None
    if again:
        gate.keys.forget(key_id_of(api_key))
    sender = None if again else gate.keys.cached(api_key, client=client)
    if sender is None:
        def check_key() -> VerifiedKey:
            with ctx.sessions() as session:
                # A read: on SQLite it must not take the write lock (issue 13, item 5).
                session.connection(execution_options={"read_only": True})
                sender = gate.keys.verify(session=session, api_key=api_key,
                                          now=ctx.clock(), client=client)
                session.commit()  # nothing was written, save a re-hash
                return sender

        sender = await _key_checked(check_key)
    await _proofs_and_rate(request, ctx, sender.partner, rate=not again)
    return sender


async def _proofs_and_rate(request: Request, ctx: HubContext, partner, *,
                           rate: bool = True) -> None:
    """Every proof the partner pinned (client certificate, request signature), then (with
    ``rate``) its rate limit; raises the 401 or 429 problem."""
    gate = request.app.state.partner_gate
    if partner.cert_sha256:
        presented = presented_fingerprint(request, ctx.settings)
        if presented is None:
            raise unauthorized("this partner must present its client certificate",
                                "client_certificate")
        if not hmac.compare_digest(presented, partner.cert_sha256):
            raise unauthorized("is not the certificate registered for this partner",
                                "client_certificate")
    if partner.signing_key:
        scope = request.scope
        target = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        body = await request.body()  # cached on the request: the route reads it again
        try:
            verify_request(public_key=partner.signing_key, method=request.method,
                           target=target, headers=dict(request.headers), body=body,
                           now=ctx.clock(), window_seconds=ctx.settings.signature_window_seconds)
        except SignatureRefused as exc:
            raise unauthorized(exc.reason, exc.field) from None
    wait = gate.limiter.take(partner.id) if rate else 0
    if wait:
        raise _too_many("this partner's rate limit is reached; retry after the Retry-After "
                        "seconds", wait)


def _too_many(reason: str, wait: float) -> HubProblem:
    return HubProblem(429, "Too many requests", [FieldProblem("authorization", reason)],
                      headers={"Retry-After": retry_after(wait)})


def _principal(ctx: HubContext, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None:
        raise unauthorized("Missing bearer token")
    try:
        return verify_token(ctx, credentials.credentials)
    except IssuerDown:
        raise HubProblem(503, "Sign-in service unavailable, try again shortly",
                         headers={"Retry-After": "5"}) from None
    except IdentityError as exc:
        raise unauthorized(str(exc)) from None


def get_regisseur(ctx: ContextDep, credentials: Credentials) -> Principal:
    """A regisseur, with the wijk they serve."""
    principal = _principal(ctx, credentials)
    if principal.role != "regisseur":
        raise HubProblem(403, "Only a regisseur may do this")
    return principal


def get_inbox_reader(ctx: ContextDep, credentials: Credentials) -> Principal:
    """A regisseur or a team lead of a wijk: may read that wijk's inbox.

    Only the regisseur acts on an item (take up, close); the team lead reads along.
    """
    principal = _principal(ctx, credentials)
    if principal.role not in ("regisseur", "teamlead"):
        raise HubProblem(403, "Only a regisseur or team lead may do this")
    return principal


def get_resident(ctx: ContextDep, credentials: Credentials) -> Principal:
    """A resident, with their own pseudonymous subject."""
    principal = _principal(ctx, credentials)
    if principal.role != "resident":
        raise HubProblem(403, "Only the resident may do this")
    return principal


def get_operator(ctx: ContextDep, credentials: Credentials) -> Principal:
    """An operator of the hub: may manage queues and dead letters, never read a resident."""
    principal = _principal(ctx, credentials)
    if principal.role != "operator":
        raise HubProblem(403, "Only an operator may do this")
    return principal


def get_teamlead(ctx: ContextDep, credentials: Credentials) -> Principal:
    """A team lead of a wijk (reviews the wijk's withholdings, designates regisseurs)."""
    principal = _principal(ctx, credentials)
    if principal.role != "teamlead":
        raise HubProblem(403, "Only a team lead may do this")
    return principal


def get_oversight(ctx: ContextDep, credentials: Credentials) -> Principal:
    """A team lead (their wijk) or an operator (every wijk): reads lists of ids and dates
    kept for review, never a resident's data."""
    principal = _principal(ctx, credentials)
    if principal.role not in ("teamlead", "operator"):
        raise HubProblem(403, "Only a team lead or operator may do this")
    return principal


PartnerDep = Annotated[Partner, Depends(get_partner)]
TeamleadDep = Annotated[Principal, Depends(get_teamlead)]
OversightDep = Annotated[Principal, Depends(get_oversight)]
RegisseurDep = Annotated[Principal, Depends(get_regisseur)]
InboxReaderDep = Annotated[Principal, Depends(get_inbox_reader)]
ResidentDep = Annotated[Principal, Depends(get_resident)]
OperatorDep = Annotated[Principal, Depends(get_operator)]
