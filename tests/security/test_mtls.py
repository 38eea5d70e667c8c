"""Mutual TLS served by the hub itself: real TLS on 127.0.0.1, certificates made here."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from hub.api.tls import ClientCertH11Protocol, uvicorn_tls_options
from hub.app import create_app
from hub.core.client_certs import fingerprint_of_pem
from hub.core.models import Partner
from tests.security.certs import issue, make_ca
from tests.utils.builders import arrears, partner, person


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls")
    ca = make_ca(directory)
    return {"ca": ca, "server": issue(ca, directory, "hub", server=True),
            "a": issue(ca, directory, "partner-a", server=False),
            "b": issue(ca, directory, "partner-b", server=False)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def tls_url(ctx, certs) -> Iterator[str]:
    """The hub served over TLS with optional client certificates, as ``hub serve`` does."""
    ctx.settings.tls_cert_file = certs["server"].cert_file
    ctx.settings.tls_key_file = certs["server"].key_file
    ctx.settings.tls_client_ca_file = certs["ca"].cert_file
    port = _free_port()
    config = uvicorn.Config(create_app(ctx, run_worker=False), host="127.0.0.1", port=port,
                            log_level="warning", lifespan="off",
                            **uvicorn_tls_options(ctx.settings))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        started = threading.Event()
        for _ in range(200):  # until the socket listens (or the thread died)
            if server.started or not thread.is_alive():
                break
            started.wait(0.05)
        assert server.started, "the TLS server did not start"
        yield f"https://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _client(certs, who: str | None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(certs["ca"].cert_file))
    if who is not None:
        context.load_cert_chain(str(certs[who].cert_file), str(certs[who].key_file))
    return httpx.Client(verify=context, timeout=10)


def test_tls_options_ask_for_optional_client_certificates(ctx, certs):
    assert uvicorn_tls_options(ctx.settings) == {}
    ctx.settings.tls_cert_file = certs["server"].cert_file
    assert "ssl_cert_reqs" not in uvicorn_tls_options(ctx.settings)
    ctx.settings.tls_client_ca_file = certs["ca"].cert_file
    options = uvicorn_tls_options(ctx.settings)
    assert options["ssl_cert_reqs"] == ssl.CERT_OPTIONAL
    assert options["http"] is ClientCertH11Protocol


def test_partner_with_a_pinned_certificate_over_real_tls(ctx, certs, tls_url):
    partner_id, auth = partner(ctx)
    with ctx.sessions() as session, session.begin():
        session.get(Partner, partner_id).cert_sha256 = fingerprint_of_pem(certs["a"].pem)
    _, unpinned = partner(ctx, "Trivire")
    url = f"{tls_url}/api/v1/messages"
    with _client(certs, "a") as client:
        response = client.post(url, json=arrears(person(1), ref="T-1"), headers=auth)
        assert response.status_code == 202, response.text
        # Security headers over TLS include HSTS.
        assert response.headers["strict-transport-security"].startswith("max-age=")
    with _client(certs, "b") as client:  # a good certificate of the same CA, not the pinned one
        response = client.post(url, json=arrears(person(1), ref="T-2"), headers=auth)
        assert response.status_code == 401
        assert response.json()["errors"][0]["field"] == "client_certificate"
    with _client(certs, None) as client:
        response = client.post(url, json=arrears(person(1), ref="T-3"), headers=auth)
        assert response.status_code == 401
        # Staff, residents and partners without a pin need no client certificate.
        assert client.get(f"{tls_url}/healthz").status_code == 200
        response = client.post(url, json=arrears(person(1), ref="T-4"), headers=unpinned)
        assert response.status_code == 202


def test_a_certificate_of_another_ca_is_refused_in_the_handshake(ctx, certs, tls_url,
                                                                 tmp_path):
    stranger_ca = make_ca(tmp_path)
    stranger = issue(stranger_ca, tmp_path, "stranger", server=False)
    context = ssl.create_default_context(cafile=str(certs["ca"].cert_file))
    context.load_cert_chain(str(stranger.cert_file), str(stranger.key_file))
    with httpx.Client(verify=context, timeout=10) as client, pytest.raises(httpx.HTTPError):
        client.get(f"{tls_url}/healthz")
