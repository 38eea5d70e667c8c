"""/beheer's dead letters name the partner and type, say why in Dutch and how to fix it
(issue 15, item 9)."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.app import create_app
from hub.core.models import DeadLetter, Partner
from hub.web.dead_reasons import advise
from tests.core.test_outbound import StatusBack, _send
from tests.utils.builders import partner
from tests.web.conftest import csrf_of

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def status_back(ctx):
    plugin = StatusBack()
    ctx.plugins.register(plugin, name="status-back")
    try:
        yield plugin
    finally:
        ctx.plugins.unregister("status-back")


def _dead_row(page: str, dead_id: int) -> str:
    return re.search(rf'<tr><th scope="row">{dead_id}</th>(.*?)</tr>', page, re.S).group(1)


@SQLITE_ONLY
def test_a_dead_delivery_names_partner_and_type_and_says_what_to_do(ctx, worker,
                                                                    status_back):
    partner_id, _ = partner(ctx, "Evides", kind="woningcorporatie",
                            endpoint="https://evides.example/api")
    with ctx.sessions() as session, session.begin():
        session.get(Partner, partner_id).endpoint = "evides.example/api"  # stored long ago
    _send(ctx, partner_id)
    worker.drain()
    with ctx.sessions() as session:
        dead = session.scalar(select(DeadLetter))
    with TestClient(create_app(ctx, run_worker=False), raise_server_exceptions=False) as web:
        web.post("/inloggen", data={"csrf": csrf_of(web.get("/inloggen").text),
                                    "rol": "operator"})
        page = web.get("/beheer").text
    row = html.unescape(_dead_row(page, dead.id))
    assert f'<a href="#partner-{partner_id}">Evides</a>' in row
    assert "een status" in row  # the message type's topic, from its plugin
    assert "Het adres van deze partner klopt niet." in row
    assert 'hub partner update --name "Evides" --endpoint https://…' in row
    assert "last error" not in row and "unusable" not in row  # no raw English
    assert f'id="partner-{partner_id}"' in page  # the link leads to the partner's row
    assert "<code>evides.example/api</code>" in page  # which shows the address to fix


@pytest.mark.parametrize(("raw", "reason", "command"), [
    ("partner endpoint unusable: must start with https://", "adres van deze partner klopt "
     "niet", True),
    ("partner has no endpoint", "geen adres ingesteld", True),
    ("failed 5 times; last error: ConnectError", "niet bereikbaar (5 pogingen)", True),
    ("failed 5 times; last error: HTTP 503", "foutmelding (antwoord 503), 5 keer", False),
    ("HTTP 400", "weigerde het bericht (antwoord 400)", False),
    ("partner is not active", "uitgeschakeld", False),
    ("delivered 21 times without an ack (a worker stopped on it)", "verwerker stopte", False),
    ("failed 3 times; last error: KeyError", "kon niet worden verwerkt (3 pogingen)", False),
])
def test_every_reason_is_dutch_with_what_to_do(raw, reason, command):
    advice = advise(raw, partner="Woonbron")
    assert reason in advice.reason and advice.todo
    assert (advice.command is not None) is command
    if command:
        assert advice.command.startswith('hub partner update --name "Woonbron"')
