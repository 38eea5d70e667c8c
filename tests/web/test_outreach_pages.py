"""The outreach screens: the wijk's worklist with a form per case, /mijn, and /beheer's monitor."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from tests.plugins.evides.test_evides import water
from tests.utils.builders import arrears, partner, person, register
from tests.web.conftest import csrf_of
from tests.web.test_pages import ENGLISH, visible_text

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
KARIN = person(81, name="Karin Visser")


def _client(ctx) -> TestClient:
    return TestClient(create_app(ctx, run_worker=False), raise_server_exceptions=False)


@pytest.fixture
def web(ctx) -> Iterator[TestClient]:
    with _client(ctx) as c:
        yield c


def _login(client: TestClient, **form: str) -> None:
    csrf = csrf_of(client.get("/inloggen").text)
    assert client.post("/inloggen", data={"csrf": csrf, **form},
                       follow_redirects=False).status_code == 303


def _signalled(ctx, web, worker) -> None:
    register(ctx, KARIN)
    _, woonbron = partner(ctx)
    _, evides = partner(ctx, "Evides", kind="evides")
    assert web.post("/api/v1/messages", headers=woonbron,
                    json=arrears(KARIN, ref="A-1")).status_code == 202
    assert web.post("/api/v1/messages", headers=evides,
                    json=water(KARIN, ref="W-1")).status_code == 202
    worker.drain()


def test_the_worklist_records_an_attempt_and_closes_and_the_resident_reads_it(
        ctx, web, worker):
    _signalled(ctx, web, worker)
    _login(web, rol="regisseur", wijk="krispijn")
    page = web.get("/werkplek/vroegsignalering").text
    assert "2 meldingen over één huishouden" in page and "Woonbron" in page
    assert "Eerste contact uiterlijk 28 november 2026" in page
    assert "/afsluiten" not in page  # closing comes after a first attempt
    case = re.search(r'/werkplek/vroegsignalering/([\w-]+)/poging', page)[1]
    csrf = csrf_of(page)
    bad = web.post(f"/werkplek/vroegsignalering/{case}/poging", data={
        "csrf": csrf, "manier": "phone", "uitkomst": "reached", "datum": "2026-12-24"})
    assert bad.status_code == 422 and "Datum: mag niet in de toekomst liggen" in bad.text
    assert web.post(f"/werkplek/vroegsignalering/{case}/poging", data={
        "manier": "phone", "uitkomst": "reached", "datum": "2026-11-23"},
        follow_redirects=False).status_code == 403  # no CSRF token
    done = web.post(f"/werkplek/vroegsignalering/{case}/poging", data={
        "csrf": csrf, "manier": "phone", "uitkomst": "help_accepted", "datum": "2026-11-23"})
    assert done.status_code == 200 and "De contactpoging is vastgelegd." in done.text
    assert "23-11-2026: telefoon: hulpaanbod aanvaard" in done.text
    closed = web.post(f"/werkplek/vroegsignalering/{case}/afsluiten", data={
        "csrf": csrf_of(done.text), "uitkomst": "help_accepted"})
    assert "De zaak is afgesloten." in closed.text and "Er zijn geen open zaken." in closed.text

    with _client(ctx) as resident:
        _login(resident, rol="resident", bewoner=ctx.pseudonyms.subject(KARIN.bsn))
        mine = visible_text(resident.get("/mijn").text)
    assert "Wat we probeerden" in mine
    assert "Woonbron en Evides lieten ons weten dat u achterloopt met betalen." in mine
    assert "Op 23 november 2026 belde het wijkteam u. U wilde hulp." in mine
    assert not ENGLISH.search(mine)


def test_a_team_lead_reads_the_worklist_without_forms_and_another_wijk_sees_nothing(
        ctx, web, worker):
    _signalled(ctx, web, worker)
    _login(web, rol="teamlead", wijk="krispijn")
    page = web.get("/werkplek/vroegsignalering").text
    assert "2 meldingen over één huishouden" in page and "/poging" not in page
    with _client(ctx) as other:
        _login(other, rol="regisseur", wijk="crabbehof")
        assert "Er zijn geen open zaken." in other.get("/werkplek/vroegsignalering").text


def test_the_monitor_section_shows_counts_suppressed_below_five(ctx, web, worker):
    _signalled(ctx, web, worker)
    _login(web, rol="operator")
    page = web.get("/beheer?maand=2026-11").text
    assert "Monitor vroegsignalering, 2026-11" in page
    row = re.search(r"<tr><th scope=\"row\">Krispijn</th>(.*?)</tr>", page, re.S)[1]
    assert re.findall(r"<td>(.*?)</td>", row)[:2] == ["&lt;5", "&lt;5"]
    assert "Karin" not in page
    assert "Geen signalen in deze maand." in web.get("/beheer?maand=2026-10").text
