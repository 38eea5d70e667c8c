"""Who is calling: partners by API key, staff and residents by bearer token.

Staff and residents carry a token of the configured OIDC issuer
(``HUB_OIDC_ISSUER``, see :mod:`hub.core.oidc`), or, on one machine, of the
development issuer, which signs tokens with a key from the hub's key ring. The
development issuer refuses to issue or accept tokens in production, which is the
default: it works only with the explicit switch ``HUB_ENV=development`` (or ``test``).

Partners' keys live in :mod:`hub.core.partner_keys`; ``add_partner`` and
``partner_for_key`` are re-exported here for the callers that know them here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.orm import Session

from hub.core.bsn import validate_bsn
from hub.core.context import HubContext
from hub.core.models import Partner
from hub.core.oidc import IssuerUnavailable, TokenRefused, verifier_for
from hub.core.partner_keys import KeyRefused, KeyVerifier, add_partner, key_hasher

__all__ = ["AUDIENCE", "DEV_ISSUER", "ROLES", "IdentityError", "IssuerDown", "Principal",
           "ProductionRefused", "Role", "add_partner", "issue_token", "partner_for_key",
           "principal_from_claims", "verify_token"]

DEV_ISSUER = "wijkhub-dev"
AUDIENCE = "wijkhub"
Role = Literal["regisseur", "teamlead", "resident", "operator"]
ROLES: tuple[str, ...] = ("regisseur", "teamlead", "resident", "operator")
# A guardian or mentor acts for a handful of persons; a token listing more is not one of ours.
MAX_REPRESENTED = 50


class IdentityError(Exception):
    """The caller could not be identified; the message says why, without secrets."""


class ProductionRefused(IdentityError):
    """The development issuer was asked to work in production."""


class IssuerDown(IdentityError):
    """The OIDC issuer could not be reached to check a token: the caller may retry."""


@dataclass(frozen=True)
class Principal:
    """An authenticated staff member or resident, with the scope of what they may see.

    ``wijk``: the wijk of a regisseur or team lead. ``subject``: a resident's own
    pseudonym. ``represents``: the pseudonyms of the persons a resident acts for
    (a parent, a guardian, a mentor); whether that covers a given category is for
    the consent registry to decide, not the token.
    """

    role: Role
    user: str
    wijk: str | None = None
    subject: str | None = None
    represents: frozenset[str] = field(default_factory=frozenset)


def partner_for_key(*, session: Session, api_key: str,
                    now: datetime | None = None) -> Partner | None:
    """The active partner holding this active key, or None (argon2 every call: no cache)."""
    verifier = KeyVerifier(hasher=key_hasher(), cache_seconds=0, cache_size=1)
    try:
        return verifier.partner_for(session=session, api_key=api_key,
                                    now=now or datetime.now(UTC))
    except KeyRefused:
        return None


def _refuse_in_production(ctx: HubContext) -> None:
    if ctx.settings.env == "production":
        raise ProductionRefused("the development issuer is switched off when HUB_ENV=production")


def issue_token(ctx: HubContext, *, role: Role, user: str, wijk: str | None = None,
                subject: str | None = None, represents: tuple[str, ...] = ()) -> str:
    """Sign a development token: a regisseur or team lead (with wijk), a resident (with
    subject and, optionally, the pseudonyms of persons they represent), an operator."""
    _refuse_in_production(ctx)
    now = ctx.clock()
    claims: dict[str, Any] = {
        "iss": DEV_ISSUER, "aud": AUDIENCE, "sub": user, "role": role,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ctx.settings.token_ttl_seconds)).timestamp())}
    if wijk is not None:
        claims["wijk"] = wijk
    if subject is not None:
        claims["subject"] = subject
    if represents:
        claims["represents"] = list(represents)
    import jwt  # here, not at the top: every `hub` command imports this module (start-up time)

    return jwt.encode(claims, ctx.keys.token_key, algorithm="HS256")


def verify_token(ctx: HubContext, token: str) -> Principal:
    """Check a bearer token's signature, issuer, audience and expiry; return who it names.

    A token of the configured OIDC issuer is checked against that issuer's keys;
    any other token only against the development issuer, which is refused in
    production. Raises :class:`IdentityError` (or :class:`IssuerDown`).
    """
    issuer = _unverified_issuer(token)
    settings = ctx.settings
    if settings.oidc_issuer and issuer == settings.oidc_issuer:
        return _verify_oidc(ctx, token)
    if settings.env == "production" and issuer != DEV_ISSUER:
        raise IdentityError("token not accepted: not from the configured issuer")
    _refuse_in_production(ctx)
    return _verify_dev(ctx, token)


def _unverified_issuer(token: str) -> str | None:
    # Only to choose which keys to check the token with; nothing else is trusted yet.
    import jwt

    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None
    return issuer if isinstance(issuer, str) else None


def _verify_dev(ctx: HubContext, token: str) -> Principal:
    import jwt

    try:
        claims = jwt.decode(token, ctx.keys.token_key, algorithms=["HS256"], audience=AUDIENCE,
                            issuer=DEV_ISSUER, leeway=30,
                            options={"require": ["exp", "iss", "aud", "sub", "role"],
                                     "verify_iat": False, "verify_exp": False})
    except jwt.PyJWTError as exc:
        raise IdentityError(f"token not accepted: {type(exc).__name__}") from None
    # Expiry against the hub's own clock, so that time in the hub has one source.
    if not isinstance(claims["exp"], int) or claims["exp"] + 30 < ctx.clock().timestamp():
        raise IdentityError("token not accepted: expired")
    role, user = claims["role"], claims["sub"]
    if not isinstance(user, str) or not user:
        raise IdentityError("token not accepted: sub must be a string")
    represents = claims.get("represents", [])
    if (not isinstance(represents, list) or len(represents) > MAX_REPRESENTED
            or not all(isinstance(r, str) for r in represents)):
        raise IdentityError("token not accepted: represents must be a list of subjects")
    return _principal(ctx, role=role, user=user, wijk=claims.get("wijk"),
                      subject=claims.get("subject"), represents=frozenset(represents))


def _verify_oidc(ctx: HubContext, token: str) -> Principal:
    settings = ctx.settings
    verifier = verifier_for(issuer=settings.oidc_issuer, audience=settings.oidc_audience,
                            jwks_url=settings.oidc_jwks_url,
                            leeway_seconds=settings.oidc_leeway_seconds,
                            refetch_cooldown_seconds=settings.oidc_jwks_refetch_seconds)
    try:
        claims = verifier.claims(token, now=ctx.clock())
    except TokenRefused as exc:
        raise IdentityError(str(exc)) from None
    except IssuerUnavailable as exc:
        raise IssuerDown(str(exc)) from None
    return principal_from_claims(ctx, claims)


def principal_from_claims(ctx: HubContext, claims: dict[str, Any]) -> Principal:
    """Map verified OIDC claims to a principal: exactly one hub role, and its scope.

    The claim names are settings. A resident's BSN (and each represented
    person's) is validated and pseudonymised here and goes no further.
    """
    settings = ctx.settings
    raw_roles = claims.get(settings.oidc_roles_claim)
    if isinstance(raw_roles, str):
        raw_roles = raw_roles.split()
    if not isinstance(raw_roles, list):
        raise IdentityError(f"token not accepted: no {settings.oidc_roles_claim} claim")
    # Other roles of the identity provider are not ours; one person, one hub role per token.
    roles = sorted({r for r in raw_roles if isinstance(r, str) and r in ROLES})
    if len(roles) != 1:
        raise IdentityError(f"token not accepted: {settings.oidc_roles_claim} must name exactly "
                            f"one of {', '.join(ROLES)}")
    role = roles[0]
    user = claims["sub"]
    if not isinstance(user, str) or not user:
        raise IdentityError("token not accepted: sub must be a string")
    subject = None
    represents: frozenset[str] = frozenset()
    if role == "resident":
        subject = _pseudonym(ctx, claims.get(settings.oidc_bsn_claim), settings.oidc_bsn_claim)
        listed = claims.get(settings.oidc_represents_claim, [])
        if not isinstance(listed, list) or len(listed) > MAX_REPRESENTED:
            raise IdentityError(f"token not accepted: {settings.oidc_represents_claim} "
                                f"must be a list of at most {MAX_REPRESENTED} BSNs")
        represents = frozenset(_pseudonym(ctx, bsn, settings.oidc_represents_claim)
                               for bsn in listed)
    return _principal(ctx, role=role, user=user, wijk=claims.get(settings.oidc_wijk_claim),
                      subject=subject, represents=represents)


def _pseudonym(ctx: HubContext, bsn: object, claim: str) -> str:
    # The reason never repeats the value: it is a BSN.
    if not isinstance(bsn, str):
        raise IdentityError(f"token not accepted: {claim} must be a BSN")
    try:
        return ctx.pseudonyms.subject(validate_bsn(bsn))
    except ValueError:
        raise IdentityError(f"token not accepted: {claim} is not a valid BSN") from None


def _principal(ctx: HubContext, *, role: object, user: str, wijk: object, subject: object,
               represents: frozenset[str]) -> Principal:
    if role in ("regisseur", "teamlead") and isinstance(wijk, str) and wijk in ctx.wijkmap.wijken:
        return Principal(role=role, user=user, wijk=wijk)  # type: ignore[arg-type]
    if role == "resident" and isinstance(subject, str) and subject:
        return Principal(role="resident", user=user, subject=subject, represents=represents)
    if role == "operator":
        # Operators run the hub (dead letters, metrics); they never see a resident's data.
        return Principal(role="operator", user=user)
    raise IdentityError("token names no known role and scope")
