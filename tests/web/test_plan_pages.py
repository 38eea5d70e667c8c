"""The plan's screens without a browser (issue 17): the regisseur's editor and "Mijn plan"."""

from __future__ import annotations

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from tests.api.test_plan import household_of
from tests.utils.builders import partner, person, regisseur, register
from tests.web.conftest import csrf_of

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
ENDPOINT = "https://api.woonbron.test/wijkhub"


def _login(client: TestClient, form: dict) -> TestClient:
    csrf = csrf_of(client.get("/inloggen").text)
    assert client.post("/inloggen", data={"csrf": csrf, **form},
                       follow_redirects=False).status_code == 303
    return client


def _csrf(client: TestClient) -> str:
    return csrf_of(client.get("/inloggen").text)


def _form(woonbron_id: str, **extra) -> dict:
    return {"goals": "1", "goal-0-domain": "financien",
            "goal-0-text": "Ik wil rust over geld", "goal-0-score_start": "2",
            "agreements": "3",
            "agr-0-text": "Ik open elke week mijn post", "agr-0-domain": "financien",
            "agr-0-who": "resident", "agr-0-state": "open",
            "agr-1-text": "Mijn zus gaat mee naar de bank", "agr-1-domain": "sociaal-netwerk",
            "agr-1-who": "network", "agr-1-network_person": "mijn zus",
            "agr-2-text": "Betalingsregeling voor de huurachterstand",
            "agr-2-domain": "financien", "agr-2-who": "partner",
            "agr-2-partner_id": woonbron_id, "agr-2-due": "2027-01-31",
            "evaluation_date": "2027-03-01", **extra}


@respx.mock
def test_regisseur_writes_the_plan_and_the_resident_agrees_shares_and_asks(
        ctx, client_factory, worker):
    anna = person(1, name="Anna Jansen")
    register(ctx, anna)
    hid = household_of(ctx, anna)
    woonbron_id, _ = partner(ctx, endpoint=ENDPOINT)
    route = respx.post(ENDPOINT).mock(return_value=httpx.Response(200, json={}))
    api = client_factory(ctx)
    staff = _login(TestClient(api.app), {"rol": "regisseur", "wijk": "krispijn"})
    bewoner = _login(TestClient(api.app), {"rol": "resident",
                                           "bewoner": ctx.pseudonyms.subject(anna.bsn)})
    url = f"/werkplek/huishouden/{hid}/plan"

    editor = staff.get(url)
    assert editor.status_code == 200 and "Plan opslaan" in editor.text
    # A partner agreement without a partner: refused, the field named in Dutch, nothing kept.
    bad = staff.post(url, data=_form(woonbron_id, **{"agr-2-partner_id": "", "csrf":
                                                     _csrf(staff)}))
    assert bad.status_code == 422 and "Afspraak 3" in bad.text
    assert "Nog geen plan" in bad.text
    saved = staff.post(url, data={**_form(woonbron_id), "csrf": _csrf(staff)},
                       follow_redirects=False)
    assert saved.status_code == 303, saved.text
    page = staff.get(saved.headers["location"]).text
    assert "Het plan is opgeslagen" in page and "Betalingsregeling" in page

    mine = bewoner.get("/mijn/plan").text
    assert "Ik wil rust over geld" in mine and "mijn zus" in mine
    assert "Uw wijkteam wil een afspraak uit uw plan delen met Woonbron" in mine
    request_id = mine.split("/mijn/plan/delen/")[1].split("/")[0]
    assert bewoner.post("/mijn/plan/akkoord", data={"csrf": _csrf(bewoner)},
                        follow_redirects=False).status_code == 303
    said_yes = bewoner.post(f"/mijn/plan/delen/{request_id}/ja",
                            data={"csrf": _csrf(bewoner)})
    assert "alleen die ene afspraak" in said_yes.text
    worker.drain()
    assert route.call_count == 1
    asked = bewoner.post("/mijn/plan/vraag", data={"csrf": _csrf(bewoner),
                                                   "tekst": "Wanneer komt u langs?"})
    assert "Uw vraag is verstuurd" in asked.text
    empty = bewoner.post("/mijn/plan/vraag", data={"csrf": _csrf(bewoner), "tekst": " "})
    assert empty.status_code == 422 and "Schrijf eerst iets" in empty.text
    inbox = api.get("/api/v1/inbox", headers=regisseur(ctx)).json()
    assert [i["summary"] for i in inbox["items"]] == ["Vraag van de bewoner"]
    assert "Akkoord met versie 1" in staff.get(url).text


def test_regisseur_attaches_a_triage_item_by_bsn(ctx, client_factory, worker):
    import dataclasses

    from tests.utils.builders import arrears

    anna = person(1, name="Anna Jansen")
    register(ctx, anna)
    _, woonbron = partner(ctx)
    api = client_factory(ctx)
    body = arrears(dataclasses.replace(anna, name="A. Janssen"), ref="A-1")
    assert api.post("/api/v1/messages", json=body, headers=woonbron).status_code == 202
    worker.drain()
    [item] = api.get("/api/v1/inbox", headers=regisseur(ctx)).json()["items"]
    staff = _login(TestClient(api.app), {"rol": "regisseur", "wijk": "krispijn"})
    assert "Koppel deze melding" in staff.get(f"/werkplek/melding/{item['id']}").text
    url = f"/werkplek/melding/{item['id']}/koppelen"
    assert staff.get(url).status_code == 200
    wrong = staff.post(url, data={"csrf": _csrf(staff), "bsn": "123456789"})
    assert wrong.status_code == 422 and "BSN" in wrong.text and "123456789" not in wrong.text
    done = staff.post(url, data={"csrf": _csrf(staff), "bsn": anna.bsn})
    assert done.status_code == 200 and "De melding hoort nu bij de bewoner" in done.text
    assert "Bekijk het plan van dit huishouden" in done.text
    assert staff.get(url).status_code == 409


@pytest.mark.parametrize("rows", [{"goals": "100000000"}, {"agreements": "51"},
                                  {"goals": "-1"}, {"agreements": "veel"},
                                  {"goals": "²"}])  # a digit to str.isdigit, not to int
def test_a_forged_row_count_is_refused_by_name_before_any_loop(ctx, client_factory, rows):
    anna = person(1, name="Anna Jansen")
    register(ctx, anna)
    hid = household_of(ctx, anna)
    woonbron_id, _ = partner(ctx, endpoint=ENDPOINT)
    staff = _login(TestClient(client_factory(ctx).app), {"rol": "regisseur",
                                                          "wijk": "krispijn"})
    # A hundred million rows would keep a server thread busy for minutes if looped over.
    refused = staff.post(f"/werkplek/huishouden/{hid}/plan",
                         data={**_form(woonbron_id), **rows, "csrf": _csrf(staff)})
    assert refused.status_code == 422
    label = "Doelen" if "goals" in rows else "Afspraken"
    assert f"{label}: dit is niet goed ingevuld" in refused.text
    assert "Nog geen plan" in refused.text
