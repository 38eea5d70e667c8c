"""Logging in to the screens with the OIDC authorization-code flow (production's way in).

A throwaway identity provider on 127.0.0.1 (discovery, JWKS, an authorization
endpoint that approves at once, a token endpoint checking the client secret,
the code and the PKCE verifier) issues an ID token and an access token; the
hub must check state, nonce and both tokens, and then open the screens with the
access token's role and wijk.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest

from hub.core.context import build_context
from hub.core.migrate import upgrade
from hub.core.plugins import load_plugins
from hub.settings import Settings
from tests.conftest import CHEAP_KEY_HASHING
from tests.security.issuer import SigningKey, rsa_key

CLIENT_ID, CLIENT_SECRET = "wijkhub-web", "s3cret-of-the-client"
BASE = "https://wijkhub.test"


@dataclass
class Provider:
    """The identity provider: what it will put in the tokens, and what it was asked."""

    key: SigningKey
    url: str = ""
    access_claims: dict[str, Any] = field(default_factory=dict)
    nonce_override: str | None = None
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None

    def tokens(self, grant: dict[str, str]) -> dict[str, str]:
        now = int(time.time())
        common = {"iss": self.url, "sub": "anna", "iat": now, "exp": now + 600}
        id_token = {**common, "aud": CLIENT_ID, "name": "Anna de Regisseur",
                    "nonce": self.nonce_override or grant["nonce"]}
        access = {**common, "aud": "wijkhub", **self.access_claims}
        return {"id_token": self.sign(id_token), "access_token": self.sign(access),
                "token_type": "Bearer"}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key.private, algorithm="RS256",
                          headers={"kid": self.key.kid})


def _serve(provider: Provider) -> None:
    class Handler(BaseHTTPRequestHandler):
        def _json(self, status: int, body: dict) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/.well-known/openid-configuration":
                self._json(200, {"issuer": provider.url, "jwks_uri": f"{provider.url}/jwks",
                                 "authorization_endpoint": f"{provider.url}/authorize",
                                 "token_endpoint": f"{provider.url}/token"})
            elif url.path == "/jwks":
                self._json(200, {"keys": [provider.key.jwk()]})
            elif url.path == "/authorize":
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                code = secrets.token_urlsafe(16)
                provider.codes[code] = q
                self.send_response(302)
                self.send_header("Location", q["redirect_uri"] + "?" + urlencode(
                    {"code": code, "state": q["state"]}))
                self.end_headers()
            else:
                self._json(404, {})

        def do_POST(self) -> None:
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(
                int(self.headers["Content-Length"])).decode()).items()}
            basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            grant = provider.codes.pop(form.get("code", ""), None)
            if self.headers.get("Authorization") != f"Basic {basic}" or grant is None:
                self._json(400, {"error": "invalid_grant"})
                return
            challenge = base64.urlsafe_b64encode(hashlib.sha256(
                form.get("code_verifier", "").encode()).digest()).rstrip(b"=").decode()
            if challenge != grant["code_challenge"] or \
                    form.get("redirect_uri") != grant["redirect_uri"]:
                self._json(400, {"error": "invalid_grant"})
                return
            self._json(200, provider.tokens(grant))

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    provider.server = server
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()


@pytest.fixture
def provider():
    p = Provider(key=rsa_key("web-1"),
                 access_claims={"roles": ["regisseur"], "wijk": "krispijn"})
    _serve(p)
    try:
        yield p
    finally:
        p.server.shutdown()
        p.server.server_close()


@pytest.fixture
def web(provider, tmp_path, monkeypatch, client_factory):
    monkeypatch.setenv("HUB_OIDC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("HUB_OIDC_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("HUB_WEB_BASE_URL", BASE)
    settings = Settings(env="test", data_dir=tmp_path, database_url="",
                        worker_enabled=False, oidc_issuer=provider.url, **CHEAP_KEY_HASHING)
    ctx = build_context(settings, plugins=load_plugins())
    upgrade(ctx.engine)
    try:
        yield client_factory(ctx)
    finally:
        ctx.dispose()


def _to_provider(client) -> httpx.Response:
    start = client.get("/inloggen/oidc", params={"volgende": "/werkplek?status=new"},
                       follow_redirects=False)
    assert start.status_code == 303
    return httpx.get(start.headers["location"], follow_redirects=False)


def _back(client, answer: httpx.Response, **change: str):
    back = urlsplit(answer.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == f"{BASE}/inloggen/terug"
    query = {k: v[0] for k, v in parse_qs(back.query).items()} | change
    return client.get("/inloggen/terug", params=query, follow_redirects=False)


def test_code_flow_logs_in_with_the_access_tokens_role(web, provider):
    assert "Inloggen met uw account" in web.get("/inloggen").text
    answer = _to_provider(web)
    asked = next(iter(provider.codes.values()))
    assert asked["code_challenge_method"] == "S256" and asked["client_id"] == CLIENT_ID
    assert asked["scope"] == "openid" and asked["nonce"] and asked["state"]
    done = _back(web, answer)
    assert done.status_code == 303 and done.headers["location"] == "/werkplek?status=new"
    page = web.get("/werkplek")
    assert page.status_code == 200 and "Inbox Krispijn" in page.text
    assert "Anna de Regisseur" in page.text


def test_a_wrong_state_is_refused(web):
    answer = _to_provider(web)
    refused = _back(web, answer, state="forged")
    assert refused.status_code == 400
    assert web.get("/werkplek", follow_redirects=False).status_code == 303


def test_an_id_token_with_another_nonce_is_refused(web, provider):
    provider.nonce_override = "someone-elses"
    refused = _back(web, _to_provider(web))
    assert refused.status_code == 403 and "geen toegang" in refused.text
    assert web.get("/werkplek", follow_redirects=False).status_code == 303


def test_an_access_token_without_a_hub_role_is_refused(web, provider):
    provider.access_claims = {"roles": ["medewerker"]}
    refused = _back(web, _to_provider(web))
    assert refused.status_code == 403
    assert web.get("/werkplek", follow_redirects=False).status_code == 303
