"""Who is calling: partners by API key, staff and residents by bearer token.

The development issuer signs tokens with a key from the hub's key ring, so the
whole hub runs on one machine. It refuses to issue or accept tokens when
``HUB_ENV=production``: production uses a real OIDC issuer (a later issue).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.context import HubContext
from hub.core.models import Partner

DEV_ISSUER = "wijkhub-dev"
AUDIENCE = "wijkhub"
Role = Literal["regisseur", "resident"]


class IdentityError(Exception):
    """The caller could not be identified; the message says why, without secrets."""


class ProductionRefused(IdentityError):
    """The development issuer was asked to work in production."""


@dataclass(frozen=True)
class Principal:
    """An authenticated staff member or resident."""

    role: Role
    user: str
    wijk: str | None = None
    subject: str | None = None


def hash_api_key(api_key: str) -> str:
    """The stored form of a partner's key.

    Keys are 256 random bits, so a fast hash cannot be brute-forced; a slow
    password hash (argon2/scrypt) with rotation is planned with the security issue.
    """
    return hashlib.sha256(api_key.encode()).hexdigest()


def add_partner(*, session: Session, name: str, kind: str, now: datetime,
                endpoint: str | None = None) -> tuple[Partner, str]:
    """Register a partner; returns it and its API key, which is shown only this once."""
    if session.scalar(select(Partner.id).where(Partner.name == name)):
        raise ValueError(f"a partner named {name!r} already exists")
    api_key = "whk_" + secrets.token_urlsafe(32)
    partner = Partner(id=str(uuid.uuid4()), name=name, kind=kind,
                      api_key_hash=hash_api_key(api_key), endpoint=endpoint, active=True,
                      created_at=now)
    session.add(partner)
    return partner, api_key


def partner_for_key(*, session: Session, api_key: str) -> Partner | None:
    """The active partner holding this key, or None."""
    partner = session.scalar(select(Partner).where(Partner.api_key_hash == hash_api_key(api_key)))
    return partner if partner is not None and partner.active else None


def _refuse_in_production(ctx: HubContext) -> None:
    if ctx.settings.env == "production":
        raise ProductionRefused("the development issuer is switched off when HUB_ENV=production")


def issue_token(ctx: HubContext, *, role: Role, user: str, wijk: str | None = None,
                subject: str | None = None) -> str:
    """Sign a development token for a regisseur (with wijk) or a resident (with subject)."""
    _refuse_in_production(ctx)
    now = ctx.clock()
    claims = {"iss": DEV_ISSUER, "aud": AUDIENCE, "sub": user, "role": role,
              "iat": int(now.timestamp()),
              "exp": int((now + timedelta(seconds=ctx.settings.token_ttl_seconds)).timestamp())}
    if wijk is not None:
        claims["wijk"] = wijk
    if subject is not None:
        claims["subject"] = subject
    return jwt.encode(claims, ctx.keys.token_key, algorithm="HS256")


def verify_token(ctx: HubContext, token: str) -> Principal:
    """Check a bearer token's signature, issuer, audience and expiry; return who it names."""
    _refuse_in_production(ctx)
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
    role = claims["role"]
    if role == "regisseur" and claims.get("wijk") in ctx.wijkmap.wijken:
        return Principal(role="regisseur", user=claims["sub"], wijk=claims["wijk"])
    if role == "resident" and isinstance(claims.get("subject"), str):
        return Principal(role="resident", user=claims["sub"], subject=claims["subject"])
    raise IdentityError("token names no known role and scope")
