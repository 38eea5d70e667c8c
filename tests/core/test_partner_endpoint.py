"""A partner's endpoint: refused when malformed, dead at once when unusable, fixed and replayed.

Issue 15, item 4: ``--endpoint "not a url"`` used to be accepted, and the first
outbound message then failed five times before it became a dead letter that
"Opnieuw aanbieden" could only fail again.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
import respx
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.app import create_app
from hub.cli import main
from hub.core import outbound
from hub.core.endpoints import check_endpoint
from hub.core.models import AuditEvent, DeadLetter, Partner
from tests.core.test_outbound import StatusBack, _send
from tests.utils.builders import partner
from tests.web.conftest import csrf_of

ENDPOINT = "https://woonbron.example/api"


@pytest.fixture
def status_back(ctx):
    plugin = StatusBack()
    ctx.plugins.register(plugin, name="status-back")
    try:
        yield plugin
    finally:
        ctx.plugins.unregister("status-back")


@pytest.fixture
def hub_cli(ctx, clock, monkeypatch, capsys):
    """Run ``hub …`` in this process on the test's own hub (its data dir and database).

    The command runs on the real clock; the test's clock then catches up with it, so the
    test's worker sees what the command queued as due.
    """
    monkeypatch.setenv("HUB_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.setenv("HUB_DATABASE_URL", ctx.settings.effective_database_url)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        clock.now = max(clock.now, datetime.now(UTC))
        return code, out, err

    return run


@pytest.mark.parametrize(("value", "why"), [
    ("not a url", "without spaces"),
    ("woonbron.example/api", "must start with https://"),
    ("ftp://woonbron.example", "must start with https://"),
    ("https://", "has no host name"),
    ("https://woon_bron.example", "not a valid host name"),
    ("https://woonbron.example:99999", "port must be a number"),
    ("https://woonbron.example:x", "not a valid URL"),
    ("https://user:secret@woonbron.example", "user name or password"),
    ("https://woonbron.example/api?key=1", "query"),
])
def test_a_malformed_endpoint_is_refused_with_the_reason(value, why):
    with pytest.raises(ValueError, match=why):
        check_endpoint(value)


@pytest.mark.parametrize("value", [ENDPOINT, "http://127.0.0.1:8001", "https://[::1]:8443/x",
                                   "https://xn--bcher-kva.example/"])
def test_a_good_endpoint_is_kept(value):
    assert check_endpoint(value) == value


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_partner_add_refuses_list_shows_update_changes(ctx, hub_cli):
    code, out, err = hub_cli("partner", "add", "--name", "Evides", "--kind", "evides",
                             "--endpoint", "not a url")
    assert code == 2 and out == "" and "--endpoint" in err and "without spaces" in err
    code, out, _ = hub_cli("partner", "add", "--name", "Evides", "--kind", "evides",
                           "--endpoint", ENDPOINT)
    api_key = json.loads(out)["api_key"]
    code, out, _ = hub_cli("partner", "list")
    assert code == 0 and api_key not in out
    listed = [json.loads(line) for line in out.splitlines()]
    assert [(p["name"], p["kind"], p["endpoint"], p["active_keys"]) for p in listed] == [
        ("Evides", "evides", ENDPOINT, 1)]
    code, _, err = hub_cli("partner", "update", "--name", "Evides", "--endpoint", "https://")
    assert code == 2 and "has no host name" in err
    code, out, _ = hub_cli("partner", "update", "--name", "Evides",
                           "--endpoint", "https://evides.example/v2")
    assert code == 0 and json.loads(out)["endpoint"] == "https://evides.example/v2"
    code, _, err = hub_cli("partner", "update", "--name", "Nobody", "--endpoint", ENDPOINT)
    assert code == 2 and "no partner named" in err
    with ctx.sessions() as session:
        assert session.scalar(select(Partner.endpoint)) == "https://evides.example/v2"
        actions = session.scalars(select(AuditEvent.action)).all()
    assert "admin.partner.update" in actions


def _break_endpoint(ctx, partner_id: str, endpoint: str) -> None:
    # As an older hub stored it, before endpoints were checked.
    with ctx.sessions() as session, session.begin():
        session.get(Partner, partner_id).endpoint = endpoint


@respx.mock
def test_an_unusable_endpoint_is_dead_at_once_then_fixed_and_replayed(ctx, worker, hub_cli,
                                                                      status_back):
    partner_id, _ = partner(ctx, "Woonbron", endpoint=ENDPOINT)
    _break_endpoint(ctx, partner_id, "woonbron.example/api")
    route = respx.post(f"{ENDPOINT}/status").mock(
        return_value=httpx.Response(200, json={"ontvangst": "WB-1"}))
    message_id = _send(ctx, partner_id)
    worker.drain()
    with ctx.sessions() as session:
        state = outbound.status(session, message_id=message_id)
        dead = session.scalar(select(DeadLetter).where(DeadLetter.message_id == message_id))
    # One attempt, not max_attempts: retrying cannot mend an address.
    assert (state.status, state.attempts) == ("failed", 1)
    assert state.last_error.startswith("partner endpoint unusable: must start with https://")
    assert "partner endpoint unusable" in dead.reason
    code, _, err = hub_cli("partner", "update", "--name", "Woonbron", "--endpoint", ENDPOINT)
    assert code == 0, err
    code, _, err = hub_cli("dead-letters", "replay", str(dead.id))
    assert code == 0, err
    worker.drain()
    with ctx.sessions() as session:
        state = outbound.status(session, message_id=message_id)
    assert (state.status, state.receipt) == ("delivered", "WB-1")
    assert route.call_count == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@respx.mock
def test_fix_then_replay_from_beheer(ctx, worker, hub_cli, status_back):
    partner_id, _ = partner(ctx, "Woonbron", endpoint=ENDPOINT)
    _break_endpoint(ctx, partner_id, "https://woonbron example/api")
    respx.post(f"{ENDPOINT}/status").mock(return_value=httpx.Response(200, json={}))
    message_id = _send(ctx, partner_id)
    worker.drain()
    with ctx.sessions() as session:
        assert outbound.status(session, message_id=message_id).attempts == 1
        dead = session.scalar(select(DeadLetter).where(DeadLetter.message_id == message_id))
    assert hub_cli("partner", "update", "--name", "Woonbron", "--endpoint", ENDPOINT)[0] == 0
    with TestClient(create_app(ctx, run_worker=False), raise_server_exceptions=False) as web:
        web.post("/inloggen", data={"csrf": csrf_of(web.get("/inloggen").text),
                                    "rol": "operator"})
        page = web.get("/beheer").text
        answer = web.post(f"/beheer/dode-berichten/{dead.id}/opnieuw",
                          data={"csrf": csrf_of(page)})
        assert answer.status_code == 200 and "weer in de wachtrij" in answer.text
    worker.drain()
    with ctx.sessions() as session:
        assert outbound.status(session, message_id=message_id).status == "delivered"


@pytest.mark.parametrize("error", [httpx.InvalidURL("bad"), httpx.UnsupportedProtocol("x"),
                                   httpx.LocalProtocolError("x")])
def test_an_address_the_http_client_cannot_use_is_dead_at_once(ctx, worker, status_back,
                                                                monkeypatch, error):
    partner_id, _ = partner(ctx, "Woonbron", endpoint=ENDPOINT)

    def refuse(*_args, **_kwargs):
        raise error

    monkeypatch.setattr(ctx.http, "request", refuse)
    message_id = _send(ctx, partner_id)
    worker.drain()
    with ctx.sessions() as session:
        state = outbound.status(session, message_id=message_id)
    assert (state.status, state.attempts) == ("failed", 1)
    assert state.last_error == f"partner endpoint unusable ({type(error).__name__})"
