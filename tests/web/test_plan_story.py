"""The household plan's story through the screens, in Debian's Chromium (issue 17).

The regisseur opens "Mijn huishoudens" (on a 360 px phone too), finds the household
she directs by its address, and goes to the inbox for the triage item. She
attaches it to the resident and writes a plan with the
resident's goal and three agreements (the resident, their sister, Woonbron); the
resident reads it on a phone-size window, agrees and consents to share the
Woonbron agreement; Woonbron receives exactly that agreement (respx) and reports
progress; the resident asks a question and the regisseur sees it; the resident
revokes the sharing consent and the next plan update does not go to Woonbron.
Back on "Mijn huishoudens" the household shows its open item and the plan's
evaluation date. Every screen passes axe-core's WCAG 2.1 A/AA rules.
"""

from __future__ import annotations

import dataclasses
import json

import httpx
import respx

from hub.core.households import designate, household_of_subject
from tests.utils.builders import arrears, partner, person, register
from tests.web.conftest import check_accessibility, screenshot
from tests.web.test_story import VIEWPORT, as_resident, as_staff

# In Wielwijk: the story of tests/web/test_story.py counts the items of Krispijn. The hub is
# shared by the session (tests/web/conftest.py), so no other story there may use BSN 43.
SARA = person(43, name="Sara Bakker", postcode="3319AB", huisnummer="40")
ENDPOINT = "https://api.woonbron-dordrecht.test/wijkhub"
PHONE = {"width": 360, "height": 740}
ARRANGEMENT = "Betalingsregeling voor de huurachterstand"


def _login(browser, hub, choose, viewport):
    context = browser.new_context(base_url=hub.url, viewport=viewport, locale="nl-NL")
    page = context.new_page()
    page.goto("/inloggen")
    choose(page)
    return page


def _drain_to_woonbron(hub) -> list[dict]:
    """Deliver what is queued, with respx as Woonbron's API; returns what Woonbron got."""
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(ENDPOINT).mock(return_value=httpx.Response(200, json={"id": "WB"}))
        hub.drain()
        return [json.loads(call.request.content) for call in route.calls]


def _fits_the_phone(page) -> None:
    # No sideways scrolling on a 360 px screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_plan_story_through_the_screens(browser, web_hub):
    hub, ctx = web_hub, web_hub.ctx
    register(ctx, SARA)
    _, woonbron = partner(ctx, "Woonbron Dordrecht", endpoint=ENDPOINT)
    # A rent-arrears signal with a misspelt name: the hub cannot match it (triage).
    with httpx.Client(base_url=hub.url, headers=woonbron) as http:
        signal = arrears(dataclasses.replace(SARA, name="S. Bakkers"), ref="WBD-1")
        assert http.post("/api/v1/messages", json=signal).status_code == 202
    hub.drain()
    # The team lead made the Wielwijk regisseur Sara's household's regisseur.
    with ctx.sessions() as session, session.begin():
        household = household_of_subject(session=session,
                                         subject=ctx.pseudonyms.subject(SARA.bsn))
        designate(session=session, ctx=ctx, household=household, user="regisseur-wielwijk",
                  actor="teamlead-wielwijk", role="teamlead", now=ctx.clock())

    # 0. The regisseur opens Mijn huishoudens: Sara's household, found by its address.
    regisseur = _login(browser, hub, as_staff("Inloggen als regisseur", wijk="Wielwijk"),
                       VIEWPORT)
    assert regisseur.locator("h1").inner_text() == "Mijn huishoudens"
    households = regisseur.locator(".lijst .huishouden")
    assert households.count() == 1 and "40, 3319 AB" in households.inner_text()
    assert "Sara" not in households.inner_text()  # nothing about her reached the team yet
    regisseur.get_by_label("Zoek op naam, straat, postcode of huisnummer").fill("3319AB 40")
    regisseur.get_by_role("button", name="Zoeken").click()
    assert "1 huishouden gevonden" in regisseur.get_by_role("status").inner_text()
    check_accessibility(regisseur)
    regisseur.set_viewport_size(PHONE)
    _fits_the_phone(regisseur)
    screenshot(regisseur, "werkplek-mijn-huishoudens")
    regisseur.set_viewport_size(VIEWPORT)

    # 1. In the inbox she attaches the triage item to Sara, by BSN.
    regisseur.get_by_role("navigation", name="Werkplek").get_by_role(
        "link", name="Inbox").click()
    regisseur.locator(".lijst .regel", has_text="Uitzoeken").locator("a").first.click()
    regisseur.get_by_role("link", name="Koppel deze melding aan een bewoner").click()
    check_accessibility(regisseur)
    regisseur.get_by_label("BSN van de bewoner").fill(SARA.bsn)
    regisseur.get_by_role("button", name="Koppelen").click()
    assert "hoort nu bij de bewoner" in regisseur.get_by_role("status").inner_text()

    # 2. ... and writes the plan: Sara's goal, and three agreements.
    regisseur.get_by_role("link", name="Bekijk het plan van dit huishouden").click()
    regisseur.get_by_role("link", name="Het plan van dit huishouden").click()
    regisseur.locator("#goal-0-domain").select_option(label="Geld en schulden")
    regisseur.locator("#goal-0-text").fill("Ik wil weer rust over geld")
    regisseur.locator("#goal-0-score_start").select_option(value="2")
    for n, (text, domain, who) in enumerate((
            ("Ik open elke week mijn post", "Geld en schulden", "De bewoner"),
            ("Mijn zus gaat mee naar de bank", "Familie, vrienden en buren",
             "Iemand uit de omgeving"),
            (ARRANGEMENT, "Wonen", "Een organisatie"))):
        regisseur.locator(f"#agr-{n}-text").fill(text)
        regisseur.locator(f"#agr-{n}-domain").select_option(label=domain)
        regisseur.locator(f"#agr-{n}-who").select_option(label=who)
    regisseur.locator("#agr-1-network_person").fill("mijn zus")
    regisseur.locator("#agr-2-partner_id").select_option(label="Woonbron Dordrecht")
    regisseur.locator("#agr-2-due").fill("2027-01-31")
    regisseur.locator("#evaluation_date").fill("2027-03-01")
    regisseur.get_by_role("button", name="Plan opslaan").click()
    assert "Het plan is opgeslagen" in regisseur.get_by_role("status").inner_text()
    check_accessibility(regisseur)
    screenshot(regisseur, "werkplek-plan")
    assert _drain_to_woonbron(hub) == []  # nothing for Woonbron without Sara's consent
    regisseur.get_by_role("link", name="Mijn huishoudens").first.click()
    mine = regisseur.locator(".lijst .huishouden").inner_text()
    assert "Sara Bakker" in mine and "1 open" in mine
    assert "Plan bespreken op 1 maart 2027" in mine

    # 3. Sara reads it on her phone, agrees, and lets Woonbron see its agreement.
    sara = _login(browser, hub, as_resident("Sara Bakker"), PHONE)
    sara.get_by_role("link", name="Mijn plan", exact=False).first.click()
    main = sara.locator("main").inner_text()
    assert "Ik wil weer rust over geld" in main and "mijn zus" in main
    assert "delen met Woonbron Dordrecht" in main
    check_accessibility(sara)
    _fits_the_phone(sara)
    screenshot(sara, "mijn-plan")
    sara.get_by_role("button", name="Ik ga akkoord met mijn plan").click()
    assert "akkoord" in sara.get_by_role("status").inner_text()
    sara.get_by_role("button", name="Ja, dat mag").click()
    assert "alleen die ene afspraak" in sara.get_by_role("status").inner_text()

    # 4. Woonbron receives exactly that agreement, and reports progress.
    [received] = _drain_to_woonbron(hub)
    assert received["type"] == "plan.agreement"
    assert received["data"]["text"] == ARRANGEMENT
    assert "post" not in json.dumps(received) and "zus" not in json.dumps(received)
    with httpx.Client(base_url=hub.url, headers=woonbron) as http:
        progress = http.post("/api/v1/plan/progress", json={
            "agreement_id": received["data"]["agreement_id"], "state": "in_progress",
            "note": "Regeling van 50 euro per maand"})
        assert progress.status_code == 201, progress.text
    sara.reload()
    assert "Woonbron Dordrecht laat weten: Bezig" in sara.locator("main").inner_text()

    # 5. Sara asks a question; the regisseur sees it in the inbox.
    sara.get_by_label("Uw vraag aan het wijkteam").fill("Kunt u mij bellen over de brief?")
    sara.get_by_role("button", name="Vraag versturen").click()
    assert "Uw vraag is verstuurd" in sara.get_by_role("status").inner_text()
    _fits_the_phone(sara)
    regisseur.goto("/werkplek/inbox")
    regisseur.get_by_role("link", name="Vraag van de bewoner").first.click()
    assert "Kunt u mij bellen over de brief?" in regisseur.locator("main").inner_text()

    # 6. Sara revokes the sharing consent; the next plan update does not go to Woonbron.
    sara.goto("/mijn")
    sara.locator("#toestemmingen").get_by_role("link", name="Intrekken").first.click()
    sara.get_by_role("button", name="Ja, trek mijn toestemming in").click()
    assert "ingetrokken" in sara.get_by_role("status").inner_text()
    regisseur.goto(f"/werkplek/huishouden/{_household(ctx)}/plan")
    regisseur.locator("#agr-2-due").fill("2027-02-28")
    regisseur.get_by_role("button", name="Plan opslaan").click()
    assert "Het plan is opgeslagen" in regisseur.get_by_role("status").inner_text()
    assert _drain_to_woonbron(hub) == []
    for page in (regisseur, sara):
        page.context.close()


def _household(ctx) -> str:
    from hub.core.models import Resident

    with ctx.sessions() as session:
        return session.get(Resident, ctx.pseudonyms.subject(SARA.bsn)).household_id
