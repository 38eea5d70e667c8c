"""The caseload (issue 17, item 1) and the household's members (item 2).

``GET /api/v1/caseload`` and ``/werkplek`` read households and items through
``hub.core.caseload``: the inbox's re-check and visibility, names only where a
basis allows it, search on keyed-hash tokens.
"""

from __future__ import annotations

import dataclasses
import sys
import types
from datetime import date

import pytest
from sqlalchemy import select

from hub.core.models import AuditEvent, SearchToken
from hub.core.residents import import_residents_text
from tests.utils.builders import (
    arrears,
    partner,
    person,
    regisseur,
    register,
    resident,
    teamlead,
)
from tests.web.visibility import api_headers, build, login, revoke

# The world of tests/web/visibility.py is built on SQLite (as its matrix); the caseload's
# own queries run on both databases below.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
WIJKTEAM_CONSENT = {"source_kinds": ["woningcorporatie"], "categories": ["financieel"],
                    "purpose": "Hulp bij schulden"}


def _caseload(client, headers, **params):
    answer = client.get("/api/v1/caseload", headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _item_ids(entry) -> set[str]:
    return {i["id"] for i in entry["open_items"]}


@pytest.fixture
def world(ctx, client, worker):
    """The household of tests/web/visibility.py: anna is its designated regisseur."""
    return build(ctx, client, worker)


@sqlite_only
def test_the_designated_regisseur_sees_her_household_with_only_the_visible_items(
        ctx, client, world):
    anna = api_headers(ctx, "anna")
    page = _caseload(client, anna)
    assert page["total"] == 1
    [entry] = page["entries"]
    assert entry["section"] == "mine" and entry["household_id"] == world.household_id
    # The ordinary signal, the nuisance delivered on consent, the confidential report
    # addressed to her (as a neutral line); never the held GP referral.
    assert _item_ids(entry) == {world.ordinary_id, world.revoked_id, world.confidential_id}
    confidential = next(i for i in entry["open_items"] if i["id"] == world.confidential_id)
    assert confidential["data"] == {}
    assert entry["newest"]["id"] in _item_ids(entry)
    # Fatima is named (anna sees items about her); Joost, whose referral is held, is not.
    assert entry["names"] == ["Fatima Bakri"] and entry["housemates"] == 1
    assert "Joost" not in str(page)
    assert entry["address"] == "71, 3317 AB"
    with ctx.sessions() as session:
        listed = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "read.list", AuditEvent.actor == "anna")).all()
    assert listed, "the caseload's read is audited"


@sqlite_only
def test_a_colleague_and_the_team_lead_do_not_see_her_household(ctx, client, world):
    assert _caseload(client, api_headers(ctx, "piet"))["total"] == 0
    # bram: the household has a regisseur, so it is not among the unassigned ones.
    page = _caseload(client, api_headers(ctx, "bram"))
    assert world.household_id not in {e["household_id"] for e in page["entries"]}
    assert "Vertrouwelijk" not in str(page) and "Joost" not in str(page)


@sqlite_only
def test_a_revoked_item_leaves_the_caseload(ctx, client, world):
    revoke(ctx, client, world)
    [entry] = _caseload(client, api_headers(ctx, "anna"))["entries"]
    assert world.revoked_id not in _item_ids(entry)
    assert world.ordinary_id in _item_ids(entry)


def test_the_team_lead_sees_unassigned_households_and_triage(ctx, client, worker):
    _, woonbron = partner(ctx)
    karin, lone = person(1, name="Karin Visser"), person(2, name="Lone Bewoner")
    register(ctx, karin, lone)
    for body in (arrears(karin, ref="A-1"),
                 # A misspelt name: no resident matches, the item is triage.
                 arrears(dataclasses.replace(lone, name="L. Bewner"), ref="A-2")):
        assert client.post("/api/v1/messages", json=body, headers=woonbron).status_code == 202
    worker.drain()
    page = _caseload(client, teamlead(ctx))
    sections = [e["section"] for e in page["entries"]]
    assert sections == ["unassigned", "triage"] and page["total"] == 2
    assert page["entries"][0]["names"] == ["Karin Visser"]
    assert page["entries"][1]["household_id"] is None
    # A regisseur's caseload holds only the households they direct.
    assert _caseload(client, regisseur(ctx))["total"] == 0
    # Paged: the second line alone.
    second = _caseload(client, teamlead(ctx), offset=1, limit=1)
    assert second["total"] == 2 and [e["section"] for e in second["entries"]] == ["triage"]


def _designated(ctx, client, who, user="anna"):
    from hub.core.households import designate, household_of_subject

    with ctx.sessions() as session, session.begin():
        household = household_of_subject(session=session,
                                         subject=ctx.pseudonyms.subject(who.bsn))
        designate(session=session, ctx=ctx, household=household, user=user, actor="bram",
                  role="teamlead", now=ctx.clock())
        return household.id


def _register_with_address(ctx, *rows):
    text = "\n".join(["bsn;naam;geboortedatum;postcode;huisnummer;straat;woonplaats", *rows])
    with ctx.sessions() as session, session.begin():
        result = import_residents_text(session=session, ctx=ctx, text=text)
    assert not result.errors, result.errors


def test_search_by_street_postcode_number_and_a_nameable_name(ctx, client, worker):
    _, woonbron = partner(ctx)
    ahmed, sanne = person(11, name="Ahmed Yilmaz", huisnummer="12a"), person(
        12, name="Sanne Yilmaz", huisnummer="12a")
    other = person(13, name="Piet Jansen", huisnummer="40")
    _register_with_address(
        ctx, *(f"{p.bsn};{p.name};{p.birthdate};3317 ab;{p.huisnummer};Dordtse Kil;Dordrecht"
               for p in (ahmed, sanne)),
        f"{other.bsn};{other.name};{other.birthdate};3317AB;40;Krispijnseweg;Dordrecht")
    first, second = _designated(ctx, client, ahmed), _designated(ctx, client, other)
    assert client.post("/api/v1/messages", json=arrears(ahmed, ref="A-11"),
                       headers=woonbron).status_code == 202
    worker.drain()
    anna = regisseur(ctx)
    assert _caseload(client, anna)["total"] == 2

    def found(q):
        return {e["household_id"] for e in _caseload(client, anna, q=q)["entries"]}

    assert found("3317 AB") == {first, second}
    assert found("3317ab 12A") == {first}
    assert found("3317 AB 12 a") == {first}
    assert found("krispijnseweg 40") == {second}
    assert found("Dordtse kil") == {first}
    assert found("dordrecht") == {first, second}
    assert found("AHMED") == {first}           # case does not matter; he is in an item
    assert found("Yilmaz ahmed") == {first}
    # Sanne: nothing about her reached the wijkteam, so her name finds nothing ...
    assert found("Sanne") == set()
    # ... until she consents to the wijkteam.
    assert client.post("/api/v1/me/consents", json=WIJKTEAM_CONSENT,
                       headers=resident(ctx, sanne)).status_code == 201
    assert found("Sanne") == {first}
    [entry] = _caseload(client, anna, q="dordtse")["entries"]
    assert entry["address"] == "Dordtse Kil 12A, 3317 AB Dordrecht"
    assert sorted(entry["names"]) == ["Ahmed Yilmaz", "Sanne Yilmaz"]
    assert found("jans") == set()  # whole words only
    # The tokens are keyed hashes: no name or street is stored in clear.
    with ctx.sessions() as session:
        tokens = session.scalars(select(SearchToken.token)).all()
    assert tokens and not any("yilmaz" in t or "dordtse" in t for t in tokens)


@sqlite_only
@pytest.mark.parametrize("q", ["a", "!!", "-"])
def test_a_search_without_a_usable_word_is_422_naming_q(ctx, client, q):
    answer = client.get("/api/v1/caseload", params={"q": q}, headers=regisseur(ctx))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "q"


@sqlite_only
def test_bad_paging_is_422(ctx, client):
    for params in ({"limit": 0}, {"offset": -1}, {"limit": 1000}, {"q": "x" * 201}):
        assert client.get("/api/v1/caseload", params=params,
                          headers=regisseur(ctx)).status_code == 422


@sqlite_only
def test_the_plan_evaluation_date_and_the_outreach_hook(ctx, client, worker, monkeypatch):
    karin = person(1, name="Karin Visser")
    register(ctx, karin)
    household_id = _designated(ctx, client, karin)
    anna = regisseur(ctx)
    [entry] = _caseload(client, anna)["entries"]
    assert entry["evaluation_date"] is None and entry["outreach_due"] is None
    saved = client.put(f"/api/v1/households/{household_id}/plan", headers=anna, json={
        "based_on": 0, "evaluation_date": "2027-01-31", "goals": [], "agreements": []})
    assert saved.status_code == 200, saved.text
    # The outreach cases (issue 16) plug in as a module with due_dates.
    outreach = types.ModuleType("hub.core.outreach")
    outreach.due_dates = lambda *, session, household_ids: {
        h: date(2026, 12, 1) for h in household_ids}
    monkeypatch.setitem(sys.modules, "hub.core.outreach", outreach)
    [entry] = _caseload(client, anna)["entries"]
    assert entry["evaluation_date"] == "2027-01-31"
    assert entry["outreach_due"] == "2026-12-01"


@sqlite_only
def test_the_household_page_names_only_who_a_basis_allows(ctx, client, world):
    login(client, ctx, user="anna", role="regisseur")
    text = client.get(f"/werkplek/huishouden/{world.household_id}").text
    # Members in a stable order by pseudonym: Joost is number 1 or 2.
    assert "Fatima Bakri" in text and ("Huisgenoot 1" in text or "Huisgenoot 2" in text)
    assert "Joost" not in text
    # Joost consents to the wijkteam: now he is named.
    assert client.post("/api/v1/me/consents", json=WIJKTEAM_CONSENT,
                       headers=resident(ctx, world.joost)).status_code == 201
    text = client.get(f"/werkplek/huishouden/{world.household_id}").text
    assert "Joost Bakri" in text and "Huisgenoot" not in text


@sqlite_only
def test_the_caseload_page_opens_on_mijn_huishoudens(ctx, client, world):
    login(client, ctx, user="anna", role="regisseur")
    page = client.get("/werkplek")
    assert page.status_code == 200
    assert "<h1>Mijn huishoudens</h1>" in page.text
    assert f"/werkplek/huishouden/{world.household_id}" in page.text
    assert "Fatima Bakri" in page.text and "1 huisgenoot" in page.text
    assert "Joost" not in page.text
    assert 'href="/werkplek/inbox"' in page.text
    bad = client.get("/werkplek", params={"zoek": "a"})
    assert bad.status_code == 422 and "minstens 2 letters" in bad.text
    login(client, ctx, user="piet", role="regisseur")
    assert "U bent nog geen regisseur van een huishouden" in client.get("/werkplek").text
