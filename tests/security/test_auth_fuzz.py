"""No credential, however malformed, produces a 500: random Authorization values, signature
and timestamp headers, and JWT-shaped tokens with random headers and claims."""

from __future__ import annotations

import base64
import json

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.core.models import Partner
from tests.utils.builders import partner

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
# Header values as HTTP can carry them (latin-1, no line breaks).
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF,
                                    blacklist_characters="\x7f"), max_size=80)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8)
claims = st.dictionaries(st.sampled_from(["iss", "aud", "sub", "exp", "nbf", "role", "roles",
                                          "wijk", "subject", "represents", "bsn"]),
                         json_values, max_size=8)


def _b64(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _assert_no_500(response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"


@FUZZ
@given(value=header_text)
def test_random_authorization_values(ctx, client, value):
    for path in ("/api/v1/messages/x", "/api/v1/inbox", "/api/v1/me/consents"):
        for header in (value, f"Bearer {value}"):
            _assert_no_500(client.get(path, headers={"Authorization": header.encode("latin-1")}))


@FUZZ
@given(header=st.dictionaries(st.sampled_from(["alg", "kid", "typ"]), json_values, max_size=3),
       body=claims, signed=st.booleans())
def test_jwt_shaped_tokens_with_random_parts(ctx, client, header, body, signed):
    if signed:  # signed with the development key: past the signature, into the claims
        try:
            token = jwt.encode(body, ctx.keys.token_key, algorithm="HS256")
        except (TypeError, ValueError):
            return
    else:
        token = f"{_b64(header)}.{_b64(body)}.c2ln"
    for path in ("/api/v1/inbox", "/api/v1/me/consents"):
        _assert_no_500(client.get(path, headers={"Authorization": f"Bearer {token}"}))


@FUZZ
@given(signature=header_text, timestamp=header_text)
def test_random_signature_headers(ctx, client, signature, timestamp):
    if not hasattr(ctx, "_signer"):
        partner_id, auth = partner(ctx)
        raw = Ed25519PrivateKey.generate().public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        with ctx.sessions() as session, session.begin():
            session.get(Partner, partner_id).signing_key = base64.b64encode(raw).decode()
        ctx._signer = auth
    response = client.get("/api/v1/messages/x", headers={
        **ctx._signer, "X-Hub-Signature": signature.encode("latin-1"),
        "X-Hub-Timestamp": timestamp.encode("latin-1")})
    _assert_no_500(response)
    assert response.status_code == 401
