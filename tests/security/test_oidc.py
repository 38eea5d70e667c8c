"""Staff and residents sign in with tokens of the configured OIDC issuer.

The issuer is real: an HTTP server on 127.0.0.1 that the test starts, serving
discovery and JWKS for keys made here (tests/security/issuer.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from hub.core.identity import Principal, verify_token
from tests.security.issuer import ec_key, forged_hs256, rsa_key, start_issuer, unsigned
from tests.utils.builders import make_bsn, regisseur

AUDIENCE = "wijkhub-test"


@pytest.fixture(scope="module")
def keys():
    """Issuer keys, made once per module: RSA key generation is slow."""
    return {"rsa": rsa_key("rsa-1"), "ec": ec_key("ec-1"), "other": rsa_key("rsa-1"),
            "later": rsa_key("rsa-2")}


@pytest.fixture
def issuer(keys) -> Iterator:
    issuer = start_issuer(keys["rsa"], keys["ec"])
    try:
        yield issuer
    finally:
        issuer.stop()


@pytest.fixture
def oidc_ctx(ctx, issuer):
    """The test's hub, trusting the throwaway issuer."""
    ctx.settings.oidc_issuer = issuer.url
    ctx.settings.oidc_audience = AUDIENCE
    return ctx


def _claims(issuer, clock, **changes: Any) -> dict[str, Any]:
    now = int(clock().timestamp())
    claims = {"iss": issuer.url, "aud": AUDIENCE, "sub": "anna@wijkteam", "iat": now,
              "exp": now + 600, "roles": ["regisseur", "offline_access"], "wijk": "krispijn"}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _assert_401(response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert [e["field"] for e in response.json()["errors"]] == ["authorization"]


def test_regisseur_with_an_rs256_token_reads_the_inbox(oidc_ctx, client, issuer, keys, clock):
    token = issuer.token(keys["rsa"], _claims(issuer, clock))
    assert client.get("/api/v1/inbox", headers=_bearer(token)).status_code == 200
    assert verify_token(oidc_ctx, token) == Principal(role="regisseur", user="anna@wijkteam",
                                                      wijk="krispijn")
    # Discovery once, keys once: the second request uses the cached keys.
    client.get("/api/v1/inbox", headers=_bearer(token))
    assert issuer.fetches == ["/.well-known/openid-configuration", "/jwks"]


def test_resident_bsn_and_represented_persons_are_pseudonymised(oidc_ctx, client, issuer,
                                                                 keys, clock):
    own, child = make_bsn(11), make_bsn(12)
    token = issuer.token(keys["ec"], _claims(issuer, clock, roles=["resident"], wijk=None,
                                             bsn=own, represents=[child]))
    principal = verify_token(oidc_ctx, token)
    assert principal.role == "resident"
    assert principal.subject == oidc_ctx.pseudonyms.subject(own)
    assert principal.represents == frozenset({oidc_ctx.pseudonyms.subject(child)})
    assert own not in repr(principal) and child not in repr(principal)
    assert client.get("/api/v1/me/consents", headers=_bearer(token)).status_code == 200


def test_team_lead_reads_the_inbox_but_does_not_act(oidc_ctx, client, issuer, keys, clock):
    token = issuer.token(keys["rsa"], _claims(issuer, clock, roles="teamlead"))
    assert client.get("/api/v1/inbox", headers=_bearer(token)).status_code == 200
    response = client.post("/api/v1/inbox/x/take-up", headers=_bearer(token))
    assert response.status_code == 403


def test_operator_token_is_no_regisseur(oidc_ctx, client, issuer, keys, clock):
    token = issuer.token(keys["rsa"], _claims(issuer, clock, roles=["operator"], wijk=None))
    assert client.get("/api/v1/inbox", headers=_bearer(token)).status_code == 403
    assert client.get("/api/v1/me/consents", headers=_bearer(token)).status_code == 403


def _refused_tokens(issuer, keys, clock) -> dict[str, str]:
    rsa = keys["rsa"]
    good = _claims(issuer, clock)
    return {
        "wrong signature (another key, same kid)": issuer.token(keys["other"], good),
        "wrong issuer": issuer.token(rsa, _claims(issuer, clock, iss="https://elsewhere.test")),
        "wrong audience": issuer.token(rsa, _claims(issuer, clock, aud="someone-else")),
        "no audience": issuer.token(rsa, _claims(issuer, clock, aud=None)),
        "expired beyond the leeway": issuer.token(
            rsa, _claims(issuer, clock, exp=int(clock().timestamp()) - 31)),
        "not yet valid": issuer.token(rsa, _claims(issuer, clock,
                                                   nbf=int(clock().timestamp()) + 120)),
        "no expiry": issuer.token(rsa, _claims(issuer, clock, exp=None)),
        "unknown kid": issuer.token(keys["later"], good),
        "alg none": unsigned(good, rsa.kid),
        "HS256 with the public key as secret": forged_hs256(good, rsa.public_pem(), rsa.kid),
        "two hub roles": issuer.token(rsa, _claims(issuer, clock,
                                                   roles=["regisseur", "operator"])),
        "no hub role": issuer.token(rsa, _claims(issuer, clock, roles=["offline_access"])),
        "unknown wijk": issuer.token(rsa, _claims(issuer, clock, wijk="rotterdam-zuid")),
        "resident without a BSN": issuer.token(rsa, _claims(issuer, clock, roles=["resident"])),
        "resident with an invalid BSN": issuer.token(
            rsa, _claims(issuer, clock, roles=["resident"], bsn="123456789")),
        "represents is not a list": issuer.token(
            rsa, _claims(issuer, clock, roles=["resident"], bsn=make_bsn(3),
                         represents=make_bsn(4))),
        "represents too many": issuer.token(
            rsa, _claims(issuer, clock, roles=["resident"], bsn=make_bsn(3),
                         represents=[make_bsn(100 + i) for i in range(51)])),
        "garbage": "not.a.token",
    }


def test_bad_tokens_are_refused_with_401_naming_authorization(oidc_ctx, client, issuer,
                                                              keys, clock):
    for name, token in _refused_tokens(issuer, keys, clock).items():
        response = client.get("/api/v1/inbox", headers=_bearer(token))
        _assert_401(response)
        assert "123456789" not in response.text, name
    # And the good token passes, so each refusal above is about its one change.
    assert client.get("/api/v1/inbox", headers=_bearer(
        issuer.token(keys["rsa"], _claims(issuer, clock)))).status_code == 200


def test_clock_skew_within_the_leeway_is_accepted(oidc_ctx, client, issuer, keys, clock):
    now = int(clock().timestamp())
    token = issuer.token(keys["rsa"], _claims(issuer, clock, exp=now - 20, nbf=now + 20))
    assert client.get("/api/v1/inbox", headers=_bearer(token)).status_code == 200
    oidc_ctx.settings.oidc_leeway_seconds = 10
    _assert_401(client.get("/api/v1/inbox", headers=_bearer(token)))


def test_a_key_the_issuer_rotated_in_is_fetched(oidc_ctx, client, issuer, keys, clock):
    # No cooldown between refetches here: the test cannot wait 30 seconds.
    oidc_ctx.settings.oidc_jwks_refetch_seconds = 0
    first = issuer.token(keys["rsa"], _claims(issuer, clock))
    assert client.get("/api/v1/inbox", headers=_bearer(first)).status_code == 200
    issuer.published.append(keys["later"])
    later = issuer.token(keys["later"], _claims(issuer, clock))
    assert client.get("/api/v1/inbox", headers=_bearer(later)).status_code == 200
    assert issuer.fetches.count("/jwks") == 2


def test_unknown_kids_do_not_make_the_hub_hammer_the_issuer(oidc_ctx, client, issuer, keys,
                                                            clock):
    good = issuer.token(keys["rsa"], _claims(issuer, clock))
    assert client.get("/api/v1/inbox", headers=_bearer(good)).status_code == 200
    unknown = issuer.token(keys["later"], _claims(issuer, clock))
    for _ in range(5):
        _assert_401(client.get("/api/v1/inbox", headers=_bearer(unknown)))
    assert issuer.fetches.count("/jwks") == 1  # within the default 30 s cooldown


def test_production_refuses_the_development_issuer_but_not_oidc(oidc_ctx, client, issuer,
                                                                keys, clock):
    dev = regisseur(oidc_ctx)
    assert client.get("/api/v1/inbox", headers=dev).status_code == 200
    oidc_ctx.settings.env = "production"
    response = client.get("/api/v1/inbox", headers=dev)
    _assert_401(response)
    assert "production" in response.json()["errors"][0]["reason"]
    token = issuer.token(keys["rsa"], _claims(issuer, clock))
    assert client.get("/api/v1/inbox", headers=_bearer(token)).status_code == 200
    stranger = issuer.token(keys["rsa"], _claims(issuer, clock, iss="https://elsewhere.test"))
    response = client.get("/api/v1/inbox", headers=_bearer(stranger))
    _assert_401(response)
    assert "configured issuer" in response.json()["errors"][0]["reason"]


def test_an_unreachable_issuer_is_503_not_401(oidc_ctx, client, issuer, keys, clock):
    token = issuer.token(keys["rsa"], _claims(issuer, clock))
    issuer.stop()
    response = client.get("/api/v1/inbox", headers=_bearer(token))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"] == "application/problem+json"


def test_discovery_must_name_the_configured_issuer(oidc_ctx, client, issuer, keys, clock):
    # The hub trusts http://localhost:<port>; the server calls itself http://127.0.0.1:<port>.
    alias = issuer.url.replace("127.0.0.1", "localhost")
    oidc_ctx.settings.oidc_issuer = alias
    token = issuer.token(keys["rsa"], _claims(issuer, clock, iss=alias))
    assert client.get("/api/v1/inbox", headers=_bearer(token)).status_code == 503
