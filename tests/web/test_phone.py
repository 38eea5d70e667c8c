"""Every page on a phone (issue 15, item 10): no sideways scrolling at 390 and 360 px.

The pages come from ``PAGES`` (tests/web/test_pages.py), so a page added there
is opened here too: as the role that owns its data, with real data behind it
(a delivered and a consented signal, a consent, a dead letter). A page whose
path needs an id this file cannot make fails with the parameter's name: add a
line to ``_ids``. Each page must fit the viewport
(``document.documentElement.scrollWidth <= window.innerWidth``) and pass
axe-core's WCAG 2.1 A/AA rules at each width.

One browser context per role, reused across pages and widths: the whole file
stays well under a minute on two cores.
"""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from hub.core.models import InboxItem
from tests.utils.builders import arrears, nuisance, partner, person, register, resident
from tests.web.conftest import as_resident, as_staff, check_accessibility, login, screenshot
from tests.web.test_pages import PAGES

WIDTHS = (390, 360)
SAMIRA = person(41, name="Samira Bakker", postcode="3318EF", huisnummer="7",
                straat="Vrieseplein", woonplaats="Dordrecht")
# Who opens a page: the first role in this order that the page lets in (its owner
# before a colleague); a page nobody opens (404 everywhere) is seen as anonymous.
PREFERENCE = ("resident", "regisseur", "teamlead", "operator", "anonymous")
LOGINS = {"resident": as_resident(SAMIRA.name),
          "regisseur": as_staff("Inloggen als regisseur"),
          "teamlead": as_staff("Inloggen als teamleider"),
          "operator": as_staff("Inloggen als beheerder")}
# Screenshots at phone size for the docs (WIJKHUB_SCREENSHOTS=1), 390 px wide.
PHONE_SHOTS = {"/mijn": "mijn-overzicht-telefoon", "/werkplek": "werkplek-inbox-telefoon",
               "/werkplek/melding/{item_id}": "werkplek-melding-telefoon"}


@pytest.fixture(scope="module")
def phone_world(web_hub) -> dict[str, str]:
    """Samira of Krispijn: rent arrears (statute) and nuisance (consented), the ids of it."""
    ctx = web_hub.ctx
    register(ctx, SAMIRA)
    _, woonbron = partner(ctx, "Woonbron Telefoon")
    with httpx.Client(base_url=web_hub.url, headers=woonbron) as http:
        for body in (arrears(SAMIRA, ref="TEL-1"), nuisance(SAMIRA, ref="TEL-2")):
            assert http.post("/api/v1/messages", json=body).status_code == 202
    web_hub.drain()
    with httpx.Client(base_url=web_hub.url, headers=resident(ctx, SAMIRA)) as http:
        question = next(r for r in http.get("/api/v1/me/requests").json()
                        if r["status"] == "pending")
        consent = http.post(f"/api/v1/me/requests/{question['id']}/approve").json()
    web_hub.drain()
    with ctx.sessions() as session:
        item = session.execute(select(InboxItem.id, InboxItem.household_id).where(
            InboxItem.subject == ctx.pseudonyms.subject(SAMIRA.bsn))).first()
    return {"consent_id": consent["id"], "item_id": item.id, "household_id": item.household_id}


def _ids(world: dict[str, str], template: str) -> str:
    path = template
    for param in re.findall(r"{(\w+)}", template):
        assert param in world, (f"{template}: no id for {{{param}}} in tests/web/test_phone.py; "
                                "add it to phone_world so the page is checked on a phone")
        path = path.replace(f"{{{param}}}", world[param])
    return path


def _who_opens(expected: dict[str, int]) -> str:
    return next((role for role in PREFERENCE if expected[role] == 200), "anonymous")


GET_PAGES = sorted(op.split(" ", 1)[1] for op in PAGES if op.startswith("GET "))


def test_every_page_fits_a_phone(browser, web_hub, phone_world):
    pages: dict[str, object] = {}
    overflowing: list[str] = []
    try:
        for template in GET_PAGES:
            role = _who_opens(PAGES[f"GET {template}"])
            if role not in pages:
                pages[role] = (login(browser, web_hub, LOGINS[role]) if role in LOGINS else
                               browser.new_context(base_url=web_hub.url,
                                                   locale="nl-NL").new_page())
            page = pages[role]
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 780})
                page.goto(_ids(phone_world, template))
                scroll, inner = page.evaluate(
                    "[document.documentElement.scrollWidth, window.innerWidth]")
                if scroll > inner:
                    overflowing.append(f"{template} as {role} at {width} px: "
                                       f"{scroll} px wide")
                check_accessibility(page)
                if width == 390 and template in PHONE_SHOTS:
                    screenshot(page, PHONE_SHOTS[template])
    finally:
        for page in pages.values():
            page.context.close()
    assert not overflowing, "pages scroll sideways on a phone: " + "; ".join(overflowing)
