"""Partners: a pinned signing key or client certificate is required beside the API key;
each partner is limited in rate, and sees only its own messages and batches."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from hub.core.client_certs import fingerprint_of_pem, parse_fingerprint
from hub.core.models import Partner
from hub.core.signatures import parse_public_key, sign
from tests.security.certs import issue, make_ca
from tests.utils.builders import arrears, partner, person

MESSAGES = "/api/v1/messages"


def _pin(ctx, partner_id: str, **columns) -> None:
    with ctx.sessions() as session, session.begin():
        row = session.get(Partner, partner_id)
        for name, value in columns.items():
            setattr(row, name, value)


def _raw_public(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def _field(response) -> str:
    return response.json()["errors"][0]["field"]


@pytest.fixture
def signer(ctx):
    """A partner that signs its requests, its key header and its private key."""
    private = Ed25519PrivateKey.generate()
    partner_id, auth = partner(ctx)
    _pin(ctx, partner_id, signing_key=_raw_public(private))
    return partner_id, auth, private


def _signed_post(client, ctx, auth, private, body: bytes, *, target=MESSAGES, ts=None,
                 sign_body=None):
    ts = int(ctx.clock().timestamp()) if ts is None else ts
    headers = sign(private, method="POST", target=target, timestamp=ts,
                   body=body if sign_body is None else sign_body)
    return client.post(MESSAGES, content=body,
                       headers={**auth, **headers, "content-type": "application/json"})


def test_signed_request_is_accepted_and_the_status_read_signed(ctx, client, signer):
    _, auth, private = signer
    body = json.dumps(arrears(person(1), ref="S-1")).encode()
    response = _signed_post(client, ctx, auth, private, body)
    assert response.status_code == 202, response.text
    target = f"/api/v1/messages/{response.json()['id']}"
    ts = int(ctx.clock().timestamp())
    headers = sign(private, method="GET", target=target, timestamp=ts, body=b"")
    assert client.get(target, headers={**auth, **headers}).status_code == 200


def test_key_alone_is_not_enough_for_a_signing_partner(ctx, client, signer):
    _, auth, _ = signer
    response = client.post(MESSAGES, json=arrears(person(1), ref="S-2"), headers=auth)
    assert response.status_code == 401
    assert _field(response) == "x-hub-timestamp"
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("case", ["tampered body", "other path", "other key", "stale",
                                  "future", "not base64", "not a number"])
def test_bad_signatures_are_refused(ctx, client, signer, case):
    _, auth, private = signer
    body = json.dumps(arrears(person(1), ref="S-3")).encode()
    now = int(ctx.clock().timestamp())
    window = ctx.settings.signature_window_seconds
    if case == "tampered body":
        response = _signed_post(client, ctx, auth, private, body,
                                sign_body=body.replace(b"1250.00", b"1.00"))
    elif case == "other path":
        response = _signed_post(client, ctx, auth, private, body, target="/api/v1/inbox")
    elif case == "other key":
        response = _signed_post(client, ctx, auth, Ed25519PrivateKey.generate(), body)
    elif case in ("stale", "future"):
        ts = now - window - 1 if case == "stale" else now + window + 1
        response = _signed_post(client, ctx, auth, private, body, ts=ts)
    else:
        headers = sign(private, method="POST", target=MESSAGES, timestamp=now, body=body)
        if case == "not base64":
            headers["X-Hub-Signature"] = "%%%"
        else:
            headers["X-Hub-Timestamp"] = "yesterday"
        response = client.post(MESSAGES, content=body, headers={**auth, **headers})
    assert response.status_code == 401, response.text
    expected = "x-hub-timestamp" if case in ("stale", "future", "not a number") \
        else "x-hub-signature"
    assert _field(response) == expected
    # Inside the window, the same request with a good signature passes.
    assert _signed_post(client, ctx, auth, private, body,
                        ts=now - window + 1).status_code == 202


def test_public_keys_are_read_from_pem_or_raw_and_wrong_ones_refused():
    private = Ed25519PrivateKey.generate()
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    assert parse_public_key(pem.decode()) == parse_public_key(_raw_public(private))
    for bad in ("", "AAAA", "-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----"):
        with pytest.raises(ValueError):
            parse_public_key(bad)


# --- client certificates behind a TLS-terminating proxy ----------------------------------


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("certs")
    ca = make_ca(directory)
    return {"ca": ca, "a": issue(ca, directory, "partner-a", server=False),
            "b": issue(ca, directory, "partner-b", server=False)}


def test_pinned_certificate_via_the_trusted_proxy_header(ctx, client_factory, certs):
    ctx.settings.client_cert_header = "X-SSL-Client-Cert"
    client = client_factory(ctx)
    partner_id, auth = partner(ctx)
    _pin(ctx, partner_id, cert_sha256=fingerprint_of_pem(certs["a"].pem))
    body = arrears(person(1), ref="C-1")
    missing = client.post(MESSAGES, json=body, headers=auth)
    assert missing.status_code == 401 and _field(missing) == "client_certificate"
    other = client.post(MESSAGES, json=body,
                        headers={**auth, "X-SSL-Client-Cert": quote(certs["b"].pem)})
    assert other.status_code == 401 and _field(other) == "client_certificate"
    garbage = client.post(MESSAGES, json=body, headers={**auth, "X-SSL-Client-Cert": "x"})
    assert garbage.status_code == 401
    right = client.post(MESSAGES, json=body,
                        headers={**auth, "X-SSL-Client-Cert": quote(certs["a"].pem)})
    assert right.status_code == 202, right.text


def test_the_proxy_header_is_ignored_unless_configured(ctx, client, certs):
    partner_id, auth = partner(ctx)
    _pin(ctx, partner_id, cert_sha256=fingerprint_of_pem(certs["a"].pem))
    response = client.post(MESSAGES, json=arrears(person(1), ref="C-2"),
                           headers={**auth, "X-SSL-Client-Cert": quote(certs["a"].pem)})
    assert response.status_code == 401


def test_fingerprints_are_read_in_the_usual_spellings(certs):
    fingerprint = fingerprint_of_pem(certs["a"].pem)
    colons = ":".join(fingerprint[i:i + 2] for i in range(0, 64, 2)).upper()
    assert parse_fingerprint(colons) == parse_fingerprint(certs["a"].pem) == fingerprint
    with pytest.raises(ValueError):
        parse_fingerprint("abc")


# --- rate limit ---------------------------------------------------------------------------


def test_rate_limit_per_partner_answers_429_with_retry_after(ctx, client_factory, clock):
    ctx.settings.partner_rate_burst = 2
    ctx.settings.partner_rate_per_second = 0.5
    client = client_factory(ctx)
    _, woonbron = partner(ctx, "Woonbron")
    _, other = partner(ctx, "Trivire")
    statuses = [client.get("/api/v1/messages/nope", headers=woonbron).status_code
                for _ in range(3)]
    assert statuses == [404, 404, 429]
    limited = client.get("/api/v1/messages/nope", headers=woonbron)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"  # one token at 0.5 per second
    assert limited.headers["content-type"] == "application/problem+json"
    assert limited.json()["errors"][0]["field"] == "authorization"
    # Per partner, not per address: the other partner on the same client is not limited.
    assert client.get("/api/v1/messages/nope", headers=other).status_code == 404
    clock.advance(seconds=2)
    assert client.get("/api/v1/messages/nope", headers=woonbron).status_code == 404
    assert client.get("/api/v1/messages/nope", headers=woonbron).status_code == 429


def test_bad_keys_do_not_spend_a_partners_budget(ctx, client_factory):
    ctx.settings.partner_rate_burst = 1
    client = client_factory(ctx)
    _, auth = partner(ctx)
    wrong = {"Authorization": auth["Authorization"][:-2] + "xx"}
    for _ in range(3):
        assert client.get("/api/v1/messages/nope", headers=wrong).status_code == 401
    assert client.get("/api/v1/messages/nope", headers=auth).status_code == 404


# --- scope ----------------------------------------------------------------------------------


def test_another_partner_gets_404_for_messages_and_batches(ctx, client):
    _, woonbron = partner(ctx, "Woonbron")
    _, other = partner(ctx, "Trivire")
    message_id = client.post(MESSAGES, json=arrears(person(1), ref="P-1"),
                             headers=woonbron).json()["id"]
    header = "source_ref,name,birthdate,postcode,huisnummer,bsn,amount_eur,months,since," \
             "tenancy_ref"
    batch_id = client.post("/api/v1/messages/batch", content=f"{header}\n".encode(),
                           headers={**woonbron, "content-type": "text/csv"}).json()["batch_id"]
    for path in (f"{MESSAGES}/{message_id}", f"/api/v1/batches/{batch_id}"):
        assert client.get(path, headers=woonbron).status_code == 200
        response = client.get(path, headers=other)
        assert response.status_code == 404  # not 403: the id is not confirmed
        assert client.get(path.replace(path.rsplit("/", 1)[1], "unknown"),
                          headers=other).json()["title"] == response.json()["title"]


def test_guessing_a_partners_secret_is_429_after_ten_tries(ctx, client):
    _, auth = partner(ctx)
    wrong = {"Authorization": auth["Authorization"][:-2] + "xx"}
    statuses = [client.get("/api/v1/messages/nope", headers=wrong).status_code
                for _ in range(11)]
    assert statuses == [401] * 10 + [429]
    response = client.get("/api/v1/messages/nope", headers=wrong)
    assert response.headers["retry-after"] == "10"


def _from(client, address: str) -> TestClient:
    """Another client of the same app, calling from ``address``."""
    return TestClient(client.app, raise_server_exceptions=False, client=(address, 40000))


def test_a_stranger_guessing_cannot_lock_the_partner_out(ctx, client):
    # Issue 13, item 6: the throttle counts per key id *and* client address.
    _, auth = partner(ctx)
    wrong = {"Authorization": auth["Authorization"][:-2] + "xx"}
    with _from(client, "192.0.2.66") as stranger:
        for _ in range(10):
            stranger.get("/api/v1/messages/nope", headers=wrong)
        assert stranger.get("/api/v1/messages/nope", headers=wrong).status_code == 429
        # The partner, from its own address, with a key this process never verified:
        assert client.get("/api/v1/messages/nope", headers=auth).status_code == 404
        # Once verified, the right secret passes even from the throttled address.
        assert stranger.get("/api/v1/messages/nope", headers=auth).status_code == 404


def test_unknown_key_ids_are_throttled_per_client_address(ctx, client):
    # Issue 13, item 5: each unknown key id costs a database lookup.
    _, auth = partner(ctx)
    secret = auth["Authorization"].split("_", 2)[2]
    statuses = [client.get("/api/v1/messages/nope", headers={
        "Authorization": f"Bearer whk_{i:016x}_{secret}"}).status_code for i in range(11)]
    assert statuses == [401] * 10 + [429]
    with _from(client, "192.0.2.8") as other:
        assert other.get("/api/v1/messages/nope", headers={
            "Authorization": f"Bearer whk_{99:016x}_{secret}"}).status_code == 401
        assert other.get("/api/v1/messages/nope", headers=auth).status_code == 404


def test_the_key_check_does_not_wait_for_the_write_lock(ctx, client):
    # Issue 13, item 5: the lookup only reads, so on SQLite it begins deferred: while
    # another connection writes, a wrong key is refused at once instead of queueing
    # behind the writer (and holding the write lock itself).
    import threading

    from sqlalchemy import text

    _, auth = partner(ctx)
    wrong = {"Authorization": auth["Authorization"][:-2] + "xx"}
    answered = threading.Event()
    statuses: list[int] = []

    def knock() -> None:
        statuses.append(client.get("/api/v1/messages/nope", headers=wrong).status_code)
        answered.set()

    with ctx.engine.connect() as writer:
        writer.execute(text("UPDATE partners SET active = active"))  # holds the write lock
        knocker = threading.Thread(target=knock)
        knocker.start()
        answered_while_locked = answered.wait(timeout=20)
        writer.rollback()
    knocker.join()
    assert answered_while_locked and statuses == [401]


def test_an_exhausted_connection_pool_is_a_503_with_retry_after(ctx, client, monkeypatch):
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    _, auth = partner(ctx)
    gate = client.app.state.partner_gate

    def exhausted(**_kwargs):
        raise PoolTimeout("QueuePool limit of size 5 overflow 10 reached")

    monkeypatch.setattr(gate.keys, "partner_for", exhausted)
    for path in ("/api/v1/messages/nope", "/fhir/r4/Task/nope"):
        r = client.get(path, headers=auth)
        assert r.status_code == 503, (path, r.text)
        assert r.headers["retry-after"].isdigit()
