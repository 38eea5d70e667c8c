"""Issue 13, item 1: the household page shows each viewer only what the inbox shows them.

A Veilig Thuis report addressed to the designated regisseur, its outbound lines, a
medical referral out, and the status back about a GP referral still held for
consent once reached every regisseur and team lead of the wijk through
``/werkplek/huishouden/{id}``, which queried the tables itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.app import create_app
from hub.core.models import AuditEvent
from tests.web.visibility import CONFIDENTIAL_WORDS, HELD_WORDS, build, login

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def web(ctx) -> Iterator[TestClient]:
    with TestClient(create_app(ctx, run_worker=False), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def world(ctx, web, worker):
    return build(ctx, web, worker)


def _page(web, ctx, world, user: str, role: str) -> str:
    login(web, ctx, user=user, role=role)
    answer = web.get(f"/werkplek/huishouden/{world.household_id}")
    assert answer.status_code == 200, answer.text
    return answer.text


@pytest.mark.parametrize(("user", "role"), [("piet", "regisseur"), ("bram", "teamlead")])
def test_a_colleague_and_the_team_lead_do_not_read_the_confidential_report(
        ctx, web, world, user, role):
    page = _page(web, ctx, world, user, role)
    for word in CONFIDENTIAL_WORDS:
        assert word not in page, word
    assert world.confidential_id not in page
    # Still useful: the ordinary signal of the household is there for them.
    assert "huurachterstand" in page.lower() and world.ordinary_id in page


@pytest.mark.parametrize(("user", "role"), [("anna", "regisseur"), ("piet", "regisseur"),
                                            ("bram", "teamlead")])
def test_nobody_learns_of_a_referral_held_for_consent(ctx, web, world, user, role):
    page = _page(web, ctx, world, user, role)
    for word in HELD_WORDS:
        assert word not in page, word


def test_the_designated_regisseur_sees_a_neutral_line_and_opens_it_with_a_reason(
        ctx, web, world):
    csrf = login(web, ctx, user="anna", role="regisseur")
    page = web.get(f"/werkplek/huishouden/{world.household_id}").text
    assert "Vertrouwelijk bericht van Veilig Thuis" in page
    assert "Zorgen om de kinderen" not in page  # no content before a reason
    assert "Verstuurd naar Veilig Thuis" in page  # her own report about it
    assert "praktijkondersteuner" in page  # her own referral to the POH
    link = f'href="/werkplek/melding/{world.confidential_id}"'
    assert link in page
    asked = web.get(f"/werkplek/melding/{world.confidential_id}")
    assert "Waarom opent u deze melding?" in asked.text
    opened = web.post(f"/werkplek/melding/{world.confidential_id}/openen",
                      data={"csrf": csrf, "reden": "Huisbezoek voorbereiden"})
    assert opened.status_code == 200 and "Zorgen om de kinderen" in opened.text
    with ctx.sessions() as session:
        reads = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "read.confidential")).all()
    assert [(e.actor, e.data["item_id"]) for e in reads] == [("anna",
                                                               world.confidential_id)]
