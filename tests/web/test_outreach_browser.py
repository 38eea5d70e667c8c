"""The outreach screens in Debian's Chromium: axe-core's WCAG 2.1 A/AA rules, and a 360 px phone.

A hub of its own (not the session's shared one), so the story in test_story.py
counts what it always counted.
"""

from __future__ import annotations

import httpx
import pytest

from tests.plugins.evides.test_evides import water
from tests.utils.builders import arrears, partner, person, register
from tests.web.conftest import WebHub, check_accessibility, screenshot
from tests.web.test_story import as_resident, as_staff

LOES = person(91, name="Loes Bakker", postcode="3318AB", huisnummer="7")
PHONE = {"width": 360, "height": 740}


@pytest.fixture(scope="module")
def outreach_hub(own_web_hub) -> WebHub:
    """A hub where Woonbron and Evides both signalled arrears for Loes' household."""
    hub, ctx = own_web_hub, own_web_hub.ctx
    register(ctx, LOES)
    _, woonbron = partner(ctx, "Woonbron")
    _, evides = partner(ctx, "Evides", kind="evides")
    with httpx.Client(base_url=hub.url) as http:
        assert http.post("/api/v1/messages", headers=woonbron,
                         json=arrears(LOES, ref="WB-1")).status_code == 202
        assert http.post("/api/v1/messages", headers=evides,
                         json=water(LOES, ref="EV-1")).status_code == 202
    hub.drain()
    return hub


def _login(browser, hub, choose, viewport):
    context = browser.new_context(base_url=hub.url, viewport=viewport, locale="nl-NL")
    page = context.new_page()
    page.goto("/inloggen")
    choose(page)
    return page


def _fits(page) -> None:
    # Nothing wider than the phone: no sideways scrolling to reach a form.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide on a 360 px phone"


def test_the_worklist_on_a_phone_records_an_attempt_and_the_resident_reads_it(
        browser, outreach_hub):
    hub = outreach_hub
    regisseur = _login(browser, hub, as_staff("Inloggen als regisseur"), PHONE)
    regisseur.get_by_role("link", name="Vroegsignalering").click()
    assert regisseur.url.endswith("/werkplek/vroegsignalering")
    case = regisseur.locator(".zaak")
    assert case.count() == 1 and "2 meldingen over één huishouden" in case.inner_text()
    check_accessibility(regisseur)
    _fits(regisseur)
    screenshot(regisseur, "werkplek-vroegsignalering")
    case.get_by_label("Manier").select_option(label="Telefoon")
    case.get_by_label("Uitkomst").select_option(label="Hulpaanbod aanvaard")
    case.get_by_role("button", name="Vastleggen").click()
    assert "De contactpoging is vastgelegd." in regisseur.get_by_role("status").first \
        .inner_text()
    assert "telefoon: hulpaanbod aanvaard" in regisseur.locator(".zaak").inner_text()
    check_accessibility(regisseur)
    _fits(regisseur)

    loes = _login(browser, hub, as_resident("Loes Bakker"), PHONE)
    section = loes.locator("#geprobeerd")
    assert "Woonbron en Evides lieten ons weten" in section.inner_text()
    assert "belde het wijkteam u. U wilde hulp." in section.inner_text()
    check_accessibility(loes)
    _fits(loes)

    operator = _login(browser, hub, as_staff("Inloggen als beheerder"),
                      {"width": 1200, "height": 860})
    monitor = operator.locator("#monitor")
    assert "Monitor vroegsignalering" in monitor.inner_text()
    assert "<5" in monitor.locator("table").first.inner_text()
    check_accessibility(operator)
