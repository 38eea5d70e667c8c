"""Every response carries the security headers; CORS is closed unless configured; a server
error answers problem+json without a stack trace, and logs no exception text."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from hub.api.security import HEADERS, security_headers
from hub.app import create_app
from hub.core import correlation
from hub.web.render import PAGE_CSP
from tests.utils import loopback
from tests.utils.builders import arrears, partner, person, regisseur

SECRET = "BSN 111222333 van Fatima"  # what an exception might carry: never to be shown


def _assert_secure(response) -> None:
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (name, response.status_code)


def test_headers_on_answers_of_every_kind(ctx, client):
    _, auth = partner(ctx)
    responses = [
        client.get("/healthz"),                                            # 200
        client.get("/api/v1/inbox", headers=regisseur(ctx)),               # 200, personal data
        client.get("/api/v1/inbox"),                                       # 401
        client.get("/api/v1/inbox", headers={"Authorization": "Bearer x"}),  # 401
        client.get("/api/v1/messages/nope", headers=auth),                 # 404
        client.get("/nowhere"),                                            # 404 (router)
        client.post("/api/v1/messages", content=b"{", headers=auth),       # 422
        client.post("/api/v1/messages", content=b"x" * (ctx.settings.max_body_bytes + 1),
                    headers=auth),                                          # 413 (middleware)
    ]
    assert [r.status_code for r in responses] == [200, 200, 401, 401, 404, 404, 422, 413]
    for response in responses:
        _assert_secure(response)
        assert "strict-transport-security" not in response.headers  # plain HTTP here


def test_every_answer_of_the_ingest_route_has_each_header_once_and_a_correlation_id(
        ctx, client_factory):
    # The hot route (issue 14): the headers are encoded once per process now, added to
    # each answer, whatever layer made it: the route (202, 422), a dependency (401, 429),
    # or the body-limit middleware (413); never twice, and each with a correlation id.
    ctx.settings.partner_rate_burst = 2
    ctx.settings.partner_rate_per_second = 0.001
    client = client_factory(ctx)
    _, auth = partner(ctx)
    responses = [
        client.post("/api/v1/messages", json=arrears(person(1), ref="H-1"), headers=auth),
        client.post("/api/v1/messages", content=b"{", headers=auth),
        client.post("/api/v1/messages", content=b"x" * (ctx.settings.max_body_bytes + 1),
                    headers=auth),
        client.post("/api/v1/messages", json=arrears(person(2), ref="H-2"), headers=auth),
        client.post("/api/v1/messages", json={}),
    ]
    assert [r.status_code for r in responses] == [202, 422, 413, 429, 401]
    for response in responses:
        _assert_secure(response)
        for name in (*HEADERS, "X-Correlation-ID"):
            assert len(response.headers.get_list(name)) == 1, (name, response.status_code)
        assert correlation.is_acceptable(response.headers["X-Correlation-ID"])
    assert len({r.headers["X-Correlation-ID"] for r in responses}) == len(responses)


def test_a_header_the_answer_sets_itself_is_kept_not_doubled(client):
    # A page sets its own CSP (hub.web.render.PAGE_CSP); the API's is not added beside it.
    response = client.get("/inloggen")
    assert response.status_code == 200
    assert response.headers.get_list("content-security-policy") == [PAGE_CSP]
    assert response.headers.get_list("x-frame-options") == ["DENY"]


def test_a_caller_changing_its_headers_changes_no_later_answer(client):
    # The header sets are made once per variant; each caller still gets a dict of its own.
    mine = security_headers({"type": "http", "path": "/api/v1/inbox"})
    mine["X-Frame-Options"] = "ALLOWALL"
    mine.pop("Content-Security-Policy")
    answer = client.get("/healthz")
    assert answer.headers["x-frame-options"] == HEADERS["X-Frame-Options"]
    assert answer.headers["content-security-policy"] == HEADERS["Content-Security-Policy"]
    assert security_headers({"type": "http", "path": "/api/v1/inbox"}) == HEADERS


def test_hsts_only_over_https(ctx):
    with TestClient(create_app(ctx, run_worker=False), base_url="https://testserver") as client:
        response = client.get("/healthz")
    assert response.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"


def test_the_api_documentation_gets_a_csp_that_lets_it_load(client):
    response = client.get("/docs")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    # Swagger UI is served by the hub itself (issue 15): no other host is allowed.
    assert "script-src 'self'" in csp and "http" not in csp and "frame-ancestors 'none'" in csp
    assert client.get("/openapi.json").headers["content-security-policy"] == \
        HEADERS["Content-Security-Policy"]


def test_no_cross_origin_access_by_default(client):
    response = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options("/api/v1/inbox", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers


def test_only_configured_origins_may_call_from_a_browser(ctx, client_factory):
    ctx.settings.cors_origins = "https://portaal.dordrecht.nl, https://wijkteam.dordrecht.nl"
    client = client_factory(ctx)
    allowed = client.options("/api/v1/inbox", headers={
        "Origin": "https://portaal.dordrecht.nl", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://portaal.dordrecht.nl"
    assert "access-control-allow-credentials" not in allowed.headers
    _assert_secure(allowed)
    refused = client.options("/api/v1/inbox", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    simple = client.get("/healthz", headers={"Origin": "https://wijkteam.dordrecht.nl"})
    assert simple.headers["access-control-allow-origin"] == "https://wijkteam.dordrecht.nl"


@pytest.fixture
def failing_client(ctx):
    app = create_app(ctx, run_worker=False)

    def boom() -> None:
        raise RuntimeError(SECRET)

    app.add_api_route("/api/v1/boom", boom, methods=["GET"])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_a_server_error_is_problem_json_without_a_trace(failing_client, caplog):
    caplog.set_level(logging.DEBUG)
    response = failing_client.get("/api/v1/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {"type": "about:blank", "title": "Internal error", "status": 500,
                               "detail": "Internal error"}
    _assert_secure(response)
    for text in (SECRET, "Traceback", "RuntimeError", "boom", ".py"):
        assert text not in response.text
    hub_lines = [r for r in caplog.records if r.name.startswith("hub")]
    assert [r.getMessage() for r in hub_lines] == ["unhandled RuntimeError"]
    assert not any(r.exc_info for r in hub_lines)


def test_the_server_logs_no_traceback_of_an_unhandled_error(ctx, caplog):
    """Starlette re-raises after answering 500; uvicorn would log the traceback, whose
    last line is the exception's message (which may quote a BSN)."""
    import socket
    import threading

    import uvicorn

    app = create_app(ctx, run_worker=False)

    def boom() -> None:
        raise RuntimeError(SECRET)

    app.add_api_route("/api/v1/boom", boom, methods=["GET"])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off",
                                           log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    caplog.set_level(logging.DEBUG)
    thread.start()
    try:
        waiting = threading.Event()
        while not server.started and thread.is_alive():
            waiting.wait(0.05)
        response = loopback.get(f"http://127.0.0.1:{port}/api/v1/boom", timeout=10)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert response.status_code == 500
    # The hub logs the error by its type; the exception never reaches uvicorn (CatchAll),
    # and if it ever did, the uvicorn.error filter strips its traceback.
    errors = [r.getMessage() for r in caplog.records if r.levelno >= 40]
    assert "unhandled RuntimeError" in errors
    for record in caplog.records:
        assert not record.exc_info
        assert SECRET not in record.getMessage()
    assert SECRET not in caplog.text and "Traceback" not in caplog.text
