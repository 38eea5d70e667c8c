"""The regisseur's actions on the screens reach the sender, and the household plan shows them.

With a partner plugin that sends a status back for every change (the one
tests/core/test_outbound.py uses), taking up and closing on /werkplek must do
what the API does: the plugin hears taken_up and closed (with the closing
summary typed in the form), and the household's timeline lists what was sent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from tests.core.test_outbound import StatusBack
from tests.utils.builders import arrears, partner, person, register
from tests.web.conftest import csrf_of

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def status_back(ctx) -> Iterator[StatusBack]:
    plugin = StatusBack()
    ctx.plugins.register(plugin, name="status-back")
    try:
        yield plugin
    finally:
        ctx.plugins.unregister("status-back")


@pytest.fixture
def web(ctx, status_back) -> Iterator[TestClient]:
    with TestClient(create_app(ctx, run_worker=False), raise_server_exceptions=False) as c:
        yield c


def _login(client: TestClient, **form: str) -> None:
    csrf = csrf_of(client.get("/inloggen").text)
    assert client.post("/inloggen", data={"csrf": csrf, **form},
                       follow_redirects=False).status_code == 303


def test_take_up_and_close_on_the_screen_tell_the_sender(ctx, web, worker, status_back):
    _, woonbron = partner(ctx)  # no endpoint: what is sent back is dead at once
    who = person(5, name="Karin Visser")
    register(ctx, who)
    assert web.post("/api/v1/messages", headers=woonbron,
                    json=arrears(who, ref="A-5")).status_code == 202
    worker.drain()
    _login(web, rol="regisseur", wijk="krispijn")
    inbox = web.get("/werkplek/inbox").text
    assert "Karin Visser" in inbox
    item = inbox.split('href="/werkplek/melding/', 1)[1].split('"', 1)[0]
    page = web.get(f"/werkplek/melding/{item}").text
    csrf = csrf_of(page)
    assert web.post(f"/werkplek/melding/{item}/oppakken", data={"csrf": csrf},
                    follow_redirects=False).status_code == 303
    closed = web.post(f"/werkplek/melding/{item}/afsluiten",
                      data={"csrf": csrf, "samenvatting": "  Betalingsregeling getroffen "})
    assert closed.status_code == 200 and "afgesloten" in closed.text
    assert [e.status for e in status_back.events] == ["delivered", "taken_up", "closed"]
    assert status_back.events[-1].note == "Betalingsregeling getroffen"

    household = closed.text.split('href="/werkplek/huishouden/', 1)[1].split('"', 1)[0]
    plan = web.get(f"/werkplek/huishouden/{household}").text
    assert plan.count("Verstuurd naar Woonbron: een status") == 3
    assert "niet aangekomen" in plan  # the first went out (and failed) while draining

    # A closed item offers no actions, and closing again is refused calmly.
    assert "Oppakken" not in web.get(f"/werkplek/melding/{item}").text
    again = web.post(f"/werkplek/melding/{item}/oppakken", data={"csrf": csrf})
    assert again.status_code == 409 and "al afgesloten" in again.text


def test_a_team_lead_reads_along_but_has_no_buttons(ctx, web, worker, status_back):
    _, woonbron = partner(ctx)
    who = person(6)
    register(ctx, who)
    web.post("/api/v1/messages", headers=woonbron, json=arrears(who, ref="A-6"))
    worker.drain()
    _login(web, rol="teamlead", wijk="krispijn")
    inbox = web.get("/werkplek/inbox").text
    assert "kijkt mee als teamleider" in inbox
    item = inbox.split('href="/werkplek/melding/', 1)[1].split('"', 1)[0]
    page = web.get(f"/werkplek/melding/{item}").text
    assert "Oppakken" not in page and "Afsluiten" not in page
    refused = web.post(f"/werkplek/melding/{item}/oppakken", data={"csrf": csrf_of(page)})
    assert refused.status_code == 403
    assert [e.status for e in status_back.events] == ["delivered"]


def test_an_over_long_summary_is_refused_in_dutch(ctx, web, worker, status_back):
    _, woonbron = partner(ctx)
    who = person(7)
    register(ctx, who)
    web.post("/api/v1/messages", headers=woonbron, json=arrears(who, ref="A-7"))
    worker.drain()
    _login(web, rol="regisseur", wijk="krispijn")
    inbox = web.get("/werkplek/inbox").text
    item = inbox.split('href="/werkplek/melding/', 1)[1].split('"', 1)[0]
    csrf = csrf_of(web.get(f"/werkplek/melding/{item}").text)
    answer = web.post(f"/werkplek/melding/{item}/afsluiten",
                      data={"csrf": csrf, "samenvatting": "x" * 2001})
    assert answer.status_code == 422 and "Dit klopt niet" in answer.text
    assert [e.status for e in status_back.events] == ["delivered"]


def test_the_household_plan_shows_no_housemates_consent_and_no_refusal(ctx, web, worker):
    from tests.utils.builders import nuisance, resident

    _, woonbron = partner(ctx)
    fatima = person(8, name="Fatima Bakri", postcode="3317AB", huisnummer="40")
    housemate = person(9, name="Omar Bakri", postcode="3317AB", huisnummer="40")
    register(ctx, fatima, housemate)
    for body in (arrears(fatima, ref="A-8"), nuisance(fatima, ref="N-8")):
        assert web.post("/api/v1/messages", headers=woonbron, json=body).status_code == 202
    worker.drain()
    # Fatima says no to sharing the nuisance signal; her housemate consents to something.
    request_id = web.get("/api/v1/me/requests", headers=resident(ctx, fatima)).json()[0]["id"]
    assert web.post(f"/api/v1/me/requests/{request_id}/deny",
                    headers=resident(ctx, fatima)).status_code == 200
    assert web.post("/api/v1/me/consents", headers=resident(ctx, housemate), json={
        "source_kinds": ["woningcorporatie"], "categories": ["financieel"],
        "purpose": "Hulp bij schulden"}).status_code == 201
    _login(web, rol="regisseur", wijk="krispijn")
    inbox = web.get("/werkplek/inbox").text
    household = inbox.split('href="/werkplek/huishouden/', 1)[1].split('"', 1)[0]
    plan = web.get(f"/werkplek/huishouden/{household}").text
    assert "Huurachterstand" in plan
    timeline = plan.split("<h2>Tijdlijn</h2>", 1)[1]
    assert "Toestemming" not in timeline
    assert "Omar" not in timeline and "overlast" not in plan
    # Issue 17, item 2: his consent for the wijkteam is a basis to know his name as a
    # member of the household (not what he consented to).
    assert "Omar Bakri" in plan.split("<h2>Tijdlijn</h2>", 1)[0]


def _safety_report(who) -> dict:
    return {"type": "safety.report", "source_ref": "VT-9", "subject": {"bsn": who.bsn},
            "occurred_at": "2026-11-20T08:00:00+00:00",
            "data": {"kind": "handover", "concern": "child_abuse", "case_ref": "VT-9",
                     "description": "Zorgen om de kinderen"}}


def test_a_confidential_report_opens_on_the_screen_only_with_a_reason(ctx, web, worker):
    from sqlalchemy import select

    from hub.core.households import designate, household_of_subject
    from hub.core.models import AuditEvent

    _, veilig_thuis = partner(ctx, "Veilig Thuis", kind="veiligthuis")
    who = person(8)
    register(ctx, who)
    with ctx.sessions() as session, session.begin():
        household = household_of_subject(session=session,
                                         subject=ctx.pseudonyms.subject(who.bsn))
        designate(session=session, ctx=ctx, household=household, user="regisseur-krispijn",
                  actor="bram", role="teamlead", now=ctx.clock())
    assert web.post("/api/v1/messages", headers=veilig_thuis,
                    json=_safety_report(who)).status_code == 202
    worker.drain()
    _login(web, rol="regisseur", wijk="krispijn")
    inbox = web.get("/werkplek/inbox").text
    item = inbox.split('href="/werkplek/melding/', 1)[1].split('"', 1)[0]
    asked = web.get(f"/werkplek/melding/{item}")
    assert asked.status_code == 200 and "Waarom opent u deze melding?" in asked.text
    assert "Zorgen om de kinderen" not in asked.text  # nothing shown before a reason
    csrf = csrf_of(asked.text)
    blank = web.post(f"/werkplek/melding/{item}/openen", data={"csrf": csrf, "reden": "  "})
    assert blank.status_code == 422 and "Schrijf op waarom" in blank.text
    opened = web.post(f"/werkplek/melding/{item}/openen",
                      data={"csrf": csrf, "reden": "Huisbezoek voorbereiden"})
    assert opened.status_code == 200 and "Zorgen om de kinderen" in opened.text
    with ctx.sessions() as session:
        reads = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "read.confidential")).all()
    assert len(reads) == 1 and "Huisbezoek" not in str(reads[0].data)  # the reason is sealed
