"""Each audience its own wording (issue 15, items 11–13), without a browser.

The regisseur reads about the resident ("De bewoner gaf toestemming"), never the
resident's own sentence ("omdat u … toestemming gaf"); filters and item pages use
the message type's staff wording; the closing note says what the partner sees.
The resident's /mijn puts open questions first, groups repeated reads, names
staff by role (never a login id), speaks of the wijkteam, not of "de hub", and
says who their regisseur is and how to reach the wijkteam.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from tests.utils.builders import arrears, nuisance, partner, person, register, resident
from tests.web.conftest import csrf_of
from tests.web.test_pages import visible_text

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
LINDA = person(51, name="Linda Mulder", postcode="3317AB", huisnummer="3")


@pytest.fixture
def web(ctx) -> Iterator[TestClient]:
    with TestClient(create_app(ctx, run_worker=False), raise_server_exceptions=False) as c:
        yield c


def _login(client: TestClient, **form: str) -> None:
    csrf = csrf_of(client.get("/inloggen").text)
    assert client.post("/inloggen", data={"csrf": csrf, **form},
                       follow_redirects=False).status_code == 303


@pytest.fixture
def linda(ctx, web, worker) -> dict[str, str]:
    """Linda's rent arrears (statute) and nuisance (consented); item ids by basis."""
    register(ctx, LINDA)
    _, woonbron = partner(ctx)
    for body in (arrears(LINDA, ref="L-1"), nuisance(LINDA, ref="L-2")):
        assert web.post("/api/v1/messages", headers=woonbron, json=body).status_code == 202
    worker.drain()
    me = resident(ctx, LINDA)
    question = web.get("/api/v1/me/requests", headers=me).json()[0]
    assert web.post(f"/api/v1/me/requests/{question['id']}/approve",
                    headers=me).status_code == 200
    worker.drain()
    staff = TestClient(web.app, raise_server_exceptions=False)
    _login(staff, rol="regisseur", wijk="krispijn")
    items = staff.get("/api/v1/inbox", headers=_regisseur(ctx)).json()["items"]
    return {i["basis"]: i["id"] for i in items} | {"_client": staff}


def _regisseur(ctx):
    from tests.utils.builders import regisseur
    return regisseur(ctx)


def _why(page: str) -> str:
    section = page.split('id="kop-waarom"', 1)[1].split("</section>", 1)[0]
    return visible_text(section)


@SQLITE
def test_why_you_see_this_speaks_about_the_resident(linda):
    staff = linda["_client"]
    consented = _why(staff.get(f"/werkplek/melding/{linda['consent']}").text)
    assert "De bewoner gaf op" in consented and "toestemming" in consented
    # The resident's own sentence would tell the regisseur that *they* consented.
    assert "omdat u" not in consented and "uw wijkteam" not in consented, consented
    lawful = _why(staff.get(f"/werkplek/melding/{linda['statute']}").text)
    assert "staat toe dat het wijkteam" in lawful and "zonder toestemming van de bewoner" \
        in lawful
    assert "uw" not in lawful.split()


@SQLITE
def test_the_closing_note_says_what_the_partner_sees(linda):
    page = visible_text(linda["_client"].get(f"/werkplek/melding/{linda['consent']}").text)
    assert "voor de afzender" not in page
    assert ("Woonbron ziet alleen dat de melding is afgesloten en deze notitie" in page)
    assert "geen persoonlijke of medische informatie" in page


@SQLITE
def test_the_filter_list_uses_the_regisseurs_wording(ctx, web):
    _login(web, rol="regisseur", wijk="krispijn")
    page = web.get("/werkplek/inbox").text
    select = page.split('id="f-type"', 1)[1].split("</select>", 1)[0]
    options = re.findall(r">([^<]+)</option>", select)
    assert "Besluit op een Wmo-aanvraag" in options, options
    assert not [o for o in options if re.search(r"\buw\b", o, re.I)], options


def test_a_message_type_without_staff_wording_never_says_uw():
    from pydantic import BaseModel

    from hub.core.types import MessageType

    plain = MessageType(name="x.y", partner_kinds=("k",), category="zorg",
                        data_model=BaseModel, topic="het besluit op uw aanvraag")
    assert plain.staff_wording == "het besluit op de aanvraag"
    chosen = MessageType(name="x.z", partner_kinds=("k",), category="zorg",
                         data_model=BaseModel, topic="uw aanvraag",
                         staff_topic="aanvraag van de bewoner")
    assert chosen.staff_wording == "aanvraag van de bewoner"


def _mijn(ctx, web) -> str:
    from tests.utils.builders import resident as _unused  # noqa: F401  (same builders)
    client = TestClient(web.app, raise_server_exceptions=False)
    _login(client, rol="resident", bewoner=ctx.pseudonyms.subject(LINDA.bsn))
    return client.get("/mijn").text


@SQLITE
def test_mijn_puts_questions_first_and_names_the_wijkteam(ctx, web, worker):
    register(ctx, LINDA)
    _, woonbron = partner(ctx)
    assert web.post("/api/v1/messages", headers=woonbron,
                    json=nuisance(LINDA, ref="Q-1")).status_code == 202
    worker.drain()
    page = _mijn(ctx, web)
    text = visible_text(page)
    # The open question comes before anything else the resident reads about their data.
    assert page.index('id="vragen"') < page.index('id="wijkteam"') < page.index(
        'id="toestemmingen"')
    team = visible_text(page.split('id="wijkteam"', 1)[1].split("</section>", 1)[0])
    assert "Wijkteam Krispijn" in team
    assert re.search(r"078[- ]?\d{3}", team), team                  # the wijk's phone number
    assert "Dordrecht" in team                                      # and its address
    assert "nog geen vaste regisseur" in team
    assert "de hub" not in text.lower()


@SQLITE
def test_who_looked_groups_repeats_and_names_roles_not_logins(linda, ctx, web):
    staff = linda["_client"]
    for _ in range(3):
        assert staff.get(f"/werkplek/melding/{linda['consent']}").status_code == 200
        assert staff.get("/werkplek").status_code == 200
    page = _mijn(ctx, web)
    looked = visible_text(page.split('id="gekeken"', 1)[1].split("</section>", 1)[0])
    assert "regisseur-krispijn" not in looked and "anna" not in looked
    assert "regisseur van het wijkteam Krispijn" in looked
    assert re.search(r"\d+ keer.*laatst op", looked), looked
    lines = re.findall(r"<li[^>]*>(.*?)</li>", page.split('id="gekeken"', 1)[1]
                       .split("</section>", 1)[0], re.S)
    assert len(lines) == len(set(lines)), "repeated lines are not grouped"
    assert "de hub" not in visible_text(page).lower()


@SQLITE
def test_what_was_shared_says_which_report_and_a_closed_one_says_so(linda, ctx, web):
    staff = linda["_client"]
    item = linda["statute"]
    csrf = csrf_of(staff.get(f"/werkplek/melding/{item}").text)
    assert staff.post(f"/werkplek/melding/{item}/afsluiten", data={"csrf": csrf},
                      follow_redirects=False).status_code == 303
    page = _mijn(ctx, web)
    shared = visible_text(page.split('id="gedeeld"', 1)[1].split("</section>", 1)[0])
    assert "Huurachterstand" in shared and "Woonoverlast" in shared
    known = visible_text(page.split('id="bekend"', 1)[1].split("</section>", 1)[0])
    assert "afgesloten op" in known


@SQLITE
def test_the_item_shows_street_and_place_when_the_registry_has_them(ctx, web, worker):
    from hub.core.residents import import_residents_text

    with ctx.sessions() as session, session.begin():
        result = import_residents_text(session=session, ctx=ctx, text=(
            "bsn,name,birthdate,postcode,huisnummer,straat,woonplaats\n"
            f"{LINDA.bsn},{LINDA.name},{LINDA.birthdate},{LINDA.postcode},{LINDA.huisnummer},"
            "Krispijnseweg,Dordrecht\n"))
    assert not result.errors, result.errors
    _, woonbron = partner(ctx)
    assert web.post("/api/v1/messages", headers=woonbron,
                    json=arrears(LINDA, ref="S-1")).status_code == 202
    worker.drain()
    _login(web, rol="regisseur", wijk="krispijn")
    item = web.get("/werkplek/inbox").text.split('href="/werkplek/melding/', 1)[1].split('"', 1)[0]
    shown = visible_text(web.get(f"/werkplek/melding/{item}").text)
    assert "Krispijnseweg 3, 3317AB Dordrecht" in shown, shown
