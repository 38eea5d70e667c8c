"""The screens' session: a signed cookie holding the same bearer token the API takes.

Logging in (the development chooser, or the OIDC code flow in production) ends
with a token that :func:`hub.core.identity.verify_token` accepts; the cookie
carries that token, so a page checks exactly what an API call checks, at every
request (an expired or revoked-issuer token sends the user back to log in).

The cookie's content is sealed with the hub's data key (AES-GCM, like message
data: an OIDC access token may carry a BSN claim, which must not sit readable in
a browser's cookie store) and signed and timed with a key derived from the
``token_key`` (never the key itself). It is HttpOnly, SameSite=Lax, and Secure
when the request came over https. It also carries the CSRF token every form
sends back in a hidden field. Retiring a data key ends the sessions sealed
under it: their users log in again.

A logged-in cookie also names a server-side row (``web_sessions``, by the SHA-256
of a random id): a page opens only while that row is live, and logging out ends
it, so a copy of the cookie taken before ``/uitloggen`` opens nothing after it
(issue 13, item 13).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from hub.core.context import HubContext
from hub.core.crypto import DecryptionError
from hub.core.identity import IdentityError, IssuerDown, Principal, verify_token
from hub.core.models import WebLogin

COOKIE = "wijkhub_sessie"
_SALT = "wijkhub-web-session"
_CONTEXT = "web-session"


class LoginRequired(Exception):
    """No valid session: the user is sent to the log-in page."""


class WebError(Exception):
    """An error page in plain Dutch, with its HTTP status."""

    def __init__(self, status: int, title: str, text: str) -> None:
        super().__init__(title)
        self.status, self.title, self.text = status, title, text


@dataclass
class WebSession:
    """What the cookie holds: the CSRF token and, once logged in, the bearer token."""

    csrf: str
    token: str | None = None
    name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    dirty: bool = False
    sid: str | None = None  # names the server-side row of a logged-in session

    def dump(self) -> dict[str, Any]:
        """The cookie's payload."""
        return {"csrf": self.csrf, "token": self.token, "name": self.name, "sid": self.sid,
                **self.extra}


def _serializer(ctx: HubContext) -> URLSafeTimedSerializer:
    # A key of its own, derived from the token key: a leaked cookie secret would not
    # sign bearer tokens, and the other way round.
    secret = hmac.new(ctx.keys.token_key, b"wijkhub web session cookie", hashlib.sha256).digest()
    return URLSafeTimedSerializer(secret, salt=_SALT)


def load_session(request: Request, ctx: HubContext) -> WebSession:
    """The request's session (cached on the request); a fresh one when there is none."""
    cached = getattr(request.state, "web_session", None)
    if cached is not None:
        return cached
    raw = request.cookies.get(COOKIE)
    data: dict[str, Any] | None = None
    if raw:
        try:
            sealed = _serializer(ctx).loads(raw, max_age=ctx.settings.token_ttl_seconds)
            data = ctx.cipher.open(sealed, context=_CONTEXT) if isinstance(sealed, str) \
                else None
        except (BadSignature, DecryptionError):
            data = None
    if isinstance(data, dict) and isinstance(data.get("csrf"), str):
        extra = {k: v for k, v in data.items() if k not in ("csrf", "token", "name", "sid")}
        session = WebSession(csrf=data["csrf"], token=data.get("token"), name=data.get("name"),
                             extra=extra, sid=data.get("sid"))
    else:
        session = WebSession(csrf=secrets.token_urlsafe(32), dirty=True)
    request.state.web_session = session
    return session


def _row_id(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def start(session: WebSession, *, token: str, name: str, ctx: HubContext) -> None:
    """Log in: keep the token, record a new server-side session, and give the session a
    new CSRF token (no fixation)."""
    if session.sid:
        _end_row(ctx, session.sid)
    session.token, session.name = token, name
    session.csrf = secrets.token_urlsafe(32)
    session.sid = secrets.token_urlsafe(32)
    now = ctx.clock()
    with ctx.sessions() as db, db.begin():
        db.add(WebLogin(id=_row_id(session.sid), started_at=now,
                        expires_at=now + timedelta(seconds=ctx.settings.token_ttl_seconds)))
    session.extra = {}
    session.dirty = True


def end(session: WebSession, ctx: HubContext | None = None) -> None:
    """Log out: end the server-side session (when ``ctx`` is given) and forget the token."""
    if session.sid and ctx is not None:
        _end_row(ctx, session.sid)
    session.token = session.name = session.sid = None
    session.csrf = secrets.token_urlsafe(32)
    session.extra = {}
    session.dirty = True


def _end_row(ctx: HubContext, sid: str) -> None:
    with ctx.sessions() as db, db.begin():
        row = db.get(WebLogin, _row_id(sid))
        if row is not None and row.ended_at is None:
            row.ended_at = ctx.clock()


def _live(ctx: HubContext, sid: str | None) -> bool:
    if not sid:
        return False
    with ctx.sessions() as db:
        db.connection(execution_options={"read_only": True})  # a read: no write lock
        row = db.get(WebLogin, _row_id(sid))
        return row is not None and row.ended_at is None and row.expires_at > ctx.clock()


def save(request: Request, response: Response, ctx: HubContext) -> None:
    """Write the session cookie onto ``response`` when the session changed."""
    session = getattr(request.state, "web_session", None)
    if session is None or not session.dirty:
        return
    sealed = ctx.cipher.seal(session.dump(), context=_CONTEXT)
    response.set_cookie(COOKIE, _serializer(ctx).dumps(sealed),
                        max_age=ctx.settings.token_ttl_seconds, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")


def principal(request: Request, ctx: HubContext) -> Principal:
    """Who is logged in; raises :class:`LoginRequired` when nobody (or the token lapsed)."""
    session = load_session(request, ctx)
    if not session.token:
        raise LoginRequired
    if not _live(ctx, session.sid):
        end(session)  # logged out (elsewhere, or this cookie is an old copy) or expired
        raise LoginRequired
    try:
        return verify_token(ctx, session.token)
    except IssuerDown:
        raise WebError(503, "Inloggen lukt even niet",
                       "De inlogdienst is nu niet bereikbaar. Probeer het over een paar "
                       "minuten opnieuw.") from None
    except IdentityError:
        end(session, ctx)
        raise LoginRequired from None


def check_csrf(request: Request, ctx: HubContext, sent: str | None) -> None:
    """Refuse a form whose hidden CSRF field does not match the session's token."""
    session = load_session(request, ctx)
    if not sent or not hmac.compare_digest(sent, session.csrf):
        raise WebError(403, "Dit formulier is verlopen",
                       "Het formulier was te oud of kwam niet van deze website. Ga terug, "
                       "laad de pagina opnieuw en probeer het nog een keer.")
