"""Logging in to the screens with the configured OIDC issuer: the authorization-code flow.

Configured by ``HUB_OIDC_ISSUER`` (the same issuer whose tokens the API accepts)
plus ``HUB_OIDC_CLIENT_ID``, ``HUB_OIDC_CLIENT_SECRET`` and ``HUB_WEB_BASE_URL``
(the hub's public address; the redirect URI is ``<base>/inloggen/terug``).

``/inloggen/oidc`` sends the browser to the issuer's authorization endpoint
with ``state``, ``nonce`` and a PKCE challenge (RFC 7636, S256), all kept in
the signed session cookie. ``/inloggen/terug`` checks ``state``, exchanges the
code at the token endpoint (with the client secret and the PKCE verifier),
checks the ID token's signature, audience (the client id) and ``nonce``, and
keeps the **access token**: the bearer token the API would take, checked by
:func:`hub.core.identity.verify_token` at every page like any API call.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.api.deps import ContextDep
from hub.core.identity import IdentityError, IssuerDown, verify_token
from hub.core.oidc import IssuerUnavailable, TokenRefused, verifier_for
from hub.web import session as web_session
from hub.web.deps import HOME
from hub.web.render import redirect
from hub.web.session import WebError

router = APIRouter(include_in_schema=False)
_TIMEOUT = 10.0


class WebLoginSettings(BaseSettings):
    """The screens' OIDC client registration (``HUB_OIDC_CLIENT_ID`` and friends)."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr = SecretStr("")
    web_base_url: str = ""


def _settings() -> WebLoginSettings:
    return WebLoginSettings()


def configured(ctx) -> bool:
    """True when the code flow can run: an issuer, a client id and the hub's public URL."""
    web = _settings()
    return bool(ctx.settings.oidc_issuer and web.oidc_client_id and web.web_base_url)


def _redirect_uri(web: WebLoginSettings) -> str:
    return web.web_base_url.rstrip("/") + "/inloggen/terug"


def _unavailable() -> WebError:
    return WebError(503, "Inloggen lukt even niet",
                    "De inlogdienst is nu niet bereikbaar. Probeer het over een paar minuten "
                    "opnieuw.")


def _discovery(issuer: str) -> dict[str, Any]:
    try:
        response = httpx.get(issuer.rstrip("/") + "/.well-known/openid-configuration",
                             timeout=_TIMEOUT)
        response.raise_for_status()
        doc = response.json()
    except (httpx.HTTPError, ValueError):
        raise _unavailable() from None
    if (not isinstance(doc, dict) or doc.get("issuer") != issuer
            or not isinstance(doc.get("authorization_endpoint"), str)
            or not isinstance(doc.get("token_endpoint"), str)):
        raise _unavailable()
    return doc


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@router.get("/inloggen/oidc")
def start(request: Request, ctx: ContextDep, volgende: str | None = None) -> Response:
    """Send the browser to the identity provider."""
    if not configured(ctx):
        raise WebError(404, "Deze pagina bestaat niet", "Inloggen via een account is hier "
                       "niet ingesteld.")
    web = _settings()
    doc = _discovery(ctx.settings.oidc_issuer)
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    sess = web_session.load_session(request, ctx)
    target = volgende if volgende and volgende.startswith("/") and \
        not volgende.startswith("//") else None
    sess.extra = {"oidc": {"state": state, "nonce": nonce, "verifier": verifier,
                           "next": target}}
    sess.dirty = True
    query = urlencode({
        "response_type": "code", "client_id": web.oidc_client_id,
        "redirect_uri": _redirect_uri(web), "scope": "openid", "state": state, "nonce": nonce,
        "code_challenge": _b64(hashlib.sha256(verifier.encode()).digest()),
        "code_challenge_method": "S256"})
    response = RedirectResponse(f"{doc['authorization_endpoint']}?{query}", status_code=303)
    web_session.save(request, response, ctx)
    return response


@router.get("/inloggen/terug")
def callback(request: Request, ctx: ContextDep, code: str | None = None,
             state: str | None = None, error: str | None = None) -> Response:
    """The identity provider sends the browser back here with a code: exchange and check it."""
    if not configured(ctx):
        raise WebError(404, "Deze pagina bestaat niet", "Inloggen via een account is hier "
                       "niet ingesteld.")
    sess = web_session.load_session(request, ctx)
    pending = sess.extra.get("oidc") if isinstance(sess.extra.get("oidc"), dict) else None
    if error or not code or not state or pending is None or \
            not secrets.compare_digest(state, str(pending.get("state", ""))):
        raise WebError(400, "Inloggen is niet gelukt",
                       "Het inloggen is afgebroken of verlopen. Probeer het opnieuw.")
    web = _settings()
    doc = _discovery(ctx.settings.oidc_issuer)
    try:
        response = httpx.post(doc["token_endpoint"], timeout=_TIMEOUT, data={
            "grant_type": "authorization_code", "code": code,
            "redirect_uri": _redirect_uri(web), "code_verifier": pending["verifier"]},
            auth=(web.oidc_client_id, web.oidc_client_secret.get_secret_value()))
        tokens = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        raise _unavailable() from None
    if not isinstance(tokens, dict) or not isinstance(tokens.get("access_token"), str) \
            or not isinstance(tokens.get("id_token"), str):
        raise WebError(400, "Inloggen is niet gelukt",
                       "De inlogdienst gaf geen geldige toegang. Probeer het opnieuw.")
    settings = ctx.settings
    id_verifier = verifier_for(issuer=settings.oidc_issuer, audience=web.oidc_client_id,
                               jwks_url=settings.oidc_jwks_url,
                               leeway_seconds=settings.oidc_leeway_seconds,
                               refetch_cooldown_seconds=settings.oidc_jwks_refetch_seconds)
    try:
        id_claims = id_verifier.claims(tokens["id_token"], now=ctx.clock())
        if not secrets.compare_digest(str(id_claims.get("nonce", "")), pending["nonce"]):
            raise TokenRefused("nonce does not match")
        who = verify_token(ctx, tokens["access_token"])
    except (IssuerUnavailable, IssuerDown):
        raise _unavailable() from None
    except (TokenRefused, IdentityError):
        raise WebError(403, "Inloggen is niet gelukt",
                       "Uw account heeft geen toegang tot deze pagina's.") from None
    name = str(id_claims.get("name") or id_claims.get("given_name") or "")
    web_session.start(sess, token=tokens["access_token"], name=name or None, ctx=ctx)
    return redirect(request, ctx, pending.get("next") or HOME[who.role])
