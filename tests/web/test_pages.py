"""Every screen for every role, without a browser: who may open what, no 5xx, plain Dutch.

``PAGES`` is the screens' own authorization matrix (they are not in the OpenAPI
document, so ``tests/security/test_authz_matrix.py`` does not see them): every
page route of the app must have a line here, or ``test_every_page_has_a_rule``
fails. A value is the status each role gets; ``anonymous`` is sent to log in.
"""

from __future__ import annotations

import html
import re
from functools import cached_property

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.core.models import DeadLetter, InboxItem, OutboxEntry
from hub.core.transport.tasks import mark_dead
from hub.web import PAGE_PATHS
from tests.utils.builders import arrears, nuisance, partner, person, register
from tests.web.conftest import csrf_of

ROLES = ("anonymous", "resident", "other_resident", "regisseur", "other_regisseur",
         "teamlead", "operator")
LOGIN = 303  # anonymous: sent to /inloggen


def rule(default: int = 403, **expected: int) -> dict[str, int]:
    """Status per role; ``default`` for the roles not named (anonymous: to the log-in)."""
    return {role: expected.get(role, LOGIN if role == "anonymous" else default)
            for role in ROLES}


# "METHOD /path" -> status per role. Objects belong to the first of each pair
# (resident, regisseur of Krispijn); the other gets 404 for them, never 403.
PAGES: dict[str, dict[str, int]] = {
    "GET /": {role: 303 for role in ROLES},
    "GET /inloggen": {role: 200 for role in ROLES},
    "POST /inloggen": {role: 303 for role in ROLES},
    "POST /uitloggen": {role: 303 for role in ROLES},
    "GET /inloggen/oidc": {role: 404 for role in ROLES},     # not configured here
    "GET /inloggen/terug": {role: 404 for role in ROLES},
    "GET /mijn": rule(resident=200, other_resident=200),
    "GET /mijn/toestemming/{consent_id}/intrekken": rule(resident=200, other_resident=404),
    "POST /mijn/toestemming/{consent_id}/intrekken": rule(resident=303, other_resident=404),
    "POST /mijn/vraag/{request_id}/toestaan": rule(resident=303, other_resident=404),
    "POST /mijn/vraag/{request_id}/weigeren": rule(resident=303, other_resident=404),
    "GET /werkplek": rule(regisseur=200, other_regisseur=200, teamlead=200),
    "GET /werkplek/inbox": rule(regisseur=200, other_regisseur=200, teamlead=200),
    "GET /werkplek/melding/{item_id}": rule(regisseur=200, other_regisseur=404, teamlead=200),
    "POST /werkplek/melding/{item_id}/openen": rule(regisseur=200, other_regisseur=404,
                                                    teamlead=200),
    "POST /werkplek/melding/{item_id}/oppakken": rule(regisseur=303, other_regisseur=404),
    "POST /werkplek/melding/{item_id}/afsluiten": rule(regisseur=303, other_regisseur=404),
    "GET /werkplek/huishouden/{household_id}": rule(regisseur=200, other_regisseur=404,
                                                    teamlead=200),
    "GET /werkplek/vroegsignalering": rule(regisseur=200, other_regisseur=200, teamlead=200),
    "POST /werkplek/vroegsignalering/{case_id}/poging": rule(regisseur=303,
                                                             other_regisseur=404),
    "POST /werkplek/vroegsignalering/{case_id}/afsluiten": rule(regisseur=303,
                                                                other_regisseur=404),
    # The household plan (issue 17). A save with a valid form redirects (303); the resident
    # answers a plan only once there is one (Bob's household has none: 404).
    "GET /werkplek/huishouden/{household_id}/plan": rule(regisseur=200, other_regisseur=404,
                                                         teamlead=200),
    "POST /werkplek/huishouden/{household_id}/plan": rule(regisseur=303, other_regisseur=404),
    "GET /mijn/plan": rule(resident=200, other_resident=200),
    # The world's item is matched, not in triage: its regisseur hears "al gekoppeld" (409).
    "GET /werkplek/melding/{item_id}/koppelen": rule(regisseur=409, other_regisseur=404),
    "POST /werkplek/melding/{item_id}/koppelen": rule(regisseur=409, other_regisseur=404),
    "POST /mijn/plan/akkoord": rule(resident=303, other_resident=404),
    "POST /mijn/plan/reactie": rule(resident=303, other_resident=404),
    "POST /mijn/plan/vraag": rule(resident=303, other_resident=303),
    "POST /mijn/plan/delen/{request_id}/{answer}": rule(resident=303, other_resident=404),
    "GET /beheer": rule(operator=200),
    "POST /beheer/dode-berichten/{dead_letter_id}/opnieuw": rule(operator=303),
}
# English a resident must never read on a screen (issue 8).
ENGLISH = re.compile(r"\b(Error|Submit|None|null|undefined|Traceback|True|False|NaN|"
                     r"Not Found|Internal Server Error|consent|statute|pending|active|"
                     r"revoked|Unauthorized|Forbidden)\b")


class World:
    """Residents, a partner's signals, and each role's logged-in client, made when asked."""

    def __init__(self, ctx, client_factory, worker) -> None:
        self.ctx, self.factory, self.worker = ctx, client_factory, worker
        self.anna, self.bob = person(1, name="Anna Jansen"), person(2, name="Bob Smit")
        register(ctx, self.anna, self.bob)
        _, self.woonbron = partner(ctx, "Woonbron")
        self.api = client_factory(ctx)
        self.clients = {role: self._login(role) for role in ROLES}

    @cached_property
    def signals(self) -> bool:
        """Arrears (statute) and nuisance (held) for Anna, nuisance for Bob, routed."""
        for body in (arrears(self.anna, ref="A-1"), nuisance(self.anna, ref="N-1"),
                     nuisance(self.bob, ref="N-2")):
            assert self.api.post("/api/v1/messages", json=body,
                                 headers=self.woonbron).status_code == 202
        self.worker.drain()
        return True

    def _subject(self, who) -> str:
        return self.ctx.pseudonyms.subject(who.bsn)

    def _login(self, role: str):
        # One app (self.api's), a cookie jar per role.
        client = TestClient(self.api.app, raise_server_exceptions=False)
        form = {"resident": {"rol": "resident", "bewoner": self._subject(self.anna)},
                "other_resident": {"rol": "resident", "bewoner": self._subject(self.bob)},
                "regisseur": {"rol": "regisseur", "wijk": "krispijn"},
                "other_regisseur": {"rol": "regisseur", "wijk": "crabbehof"},
                "teamlead": {"rol": "teamlead", "wijk": "krispijn"},
                "operator": {"rol": "operator"}}.get(role)
        if form is not None:
            csrf = csrf_of(client.get("/inloggen").text)
            answer = client.post("/inloggen", data={"csrf": csrf, **form},
                                 follow_redirects=False)
            assert answer.status_code == 303, answer.text
        else:
            client.get("/inloggen")  # an anonymous session: a CSRF token, nobody logged in
        return client

    def csrf(self, role: str) -> str:
        return csrf_of(self.clients[role].get("/inloggen").text)

    def _resident_api(self, path: str, method: str = "GET"):
        from tests.utils.builders import resident
        answer = self.api.request(method, path, headers=resident(self.ctx, self.anna))
        assert answer.status_code < 300, answer.text
        return answer.json()

    @cached_property
    def request_id(self) -> str:
        assert self.signals
        return self._resident_api("/api/v1/me/requests")[0]["id"]

    @cached_property
    def consent_id(self) -> str:
        return self._resident_api(f"/api/v1/me/requests/{self.request_id}/approve",
                                  "POST")["id"]

    @cached_property
    def item_id(self) -> str:
        assert self.signals
        with self.ctx.sessions() as session:
            return session.scalar(select(InboxItem.id).where(
                InboxItem.subject == self._subject(self.anna)))

    @cached_property
    def household_id(self) -> str:
        with self.ctx.sessions() as session:
            return session.scalar(select(InboxItem.household_id).where(
                InboxItem.id == self.item_id))

    @cached_property
    def case_id(self) -> str:
        """Anna's outreach case (her arrears signal), with one attempt: it may close."""
        from hub.core import outreach
        from hub.core.outreach_models import OutreachCase

        assert self.item_id
        with self.ctx.sessions() as session, session.begin():
            case = session.scalar(select(OutreachCase))
            outreach.record_attempt(session=session, ctx=self.ctx, case=case, kind="letter",
                                    result="not_reached", attempted_on=self.ctx.clock().date(),
                                    now=self.ctx.clock(), actor="anna", role="regisseur")
            return case.id

    @cached_property
    def dead_letter_id(self) -> str:
        answer = self.api.post("/api/v1/messages", json=arrears(self.bob, ref="D-1"),
                               headers=self.woonbron)
        with self.ctx.sessions() as session, session.begin():
            entry = session.scalar(select(OutboxEntry.id).where(
                OutboxEntry.message_id == answer.json()["id"]))
            mark_dead(session=session, entry_id=entry, source="embedded", reason="test",
                      now=self.ctx.clock())
        with self.ctx.sessions() as session:
            return str(session.scalar(select(DeadLetter.id)))

    answer = "ja"  # the resident's answer in /mijn/plan/delen/{request_id}/{answer}

    @cached_property
    def plan(self) -> dict:
        """Anna's household plan, written by the regisseur through the API."""
        from tests.utils.builders import regisseur

        answer = self.api.put(f"/api/v1/households/{self.household_id}/plan",
                              headers=regisseur(self.ctx), json={
                                  "goals": [{"domain": "wonen", "text": "Een rustig huis"}],
                                  "agreements": [], "evaluation_date": "2027-03-01"})
        assert answer.status_code == 200, answer.text
        return answer.json()

    def body(self, operation: str, role: str) -> dict[str, str]:
        """The form a POST sends: the caller's CSRF token, and what the page would send."""
        data = {"csrf": self.csrf(role)}
        if operation.startswith("POST /mijn/plan/") and self.plan:
            data.update({"tekst": "Kunt u mij bellen?", "soort": "opmerking"})
        if operation.endswith("/koppelen"):
            data.update({"bsn": self.anna.bsn})
        if operation == "POST /werkplek/huishouden/{household_id}/plan":
            data.update({"goals": "1", "goal-0-domain": "wonen", "goal-0-text": "Rust",
                         "agreements": "0", "evaluation_date": "2027-03-01"})
        if operation == "POST /inloggen":
            data.update({"rol": "operator"})
        if operation.endswith("/openen"):
            data.update({"reden": "Gesprek voorbereiden"})
        if operation.endswith("/poging"):
            data.update({"manier": "phone", "uitkomst": "reached", "datum": "2026-11-23"})
        if "/vroegsignalering/" in operation and operation.endswith("/afsluiten"):
            data.update({"uitkomst": "reached"})
        return data


@pytest.fixture
def world(ctx, client_factory, worker) -> World:
    return World(ctx, client_factory, worker)


def _routes(routes):
    # FastAPI keeps included routers as such; walk into them (their paths carry the prefix).
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes)
        else:
            yield route


def _page_operations(app) -> set[str]:
    return {f"{method} {route.path}" for route in _routes(app.routes)
            if isinstance(route, APIRoute) and PAGE_PATHS.match(route.path)
            for method in route.methods if method != "HEAD"}


def visible_text(page: str) -> str:
    """What a person reads: the text outside tags, plus titles and labels read aloud."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    spoken = " ".join(re.findall(r'(?:title|aria-label|placeholder|alt)="([^"]*)"', page))
    return html.unescape(re.sub(r"<[^>]+>", " ", page) + " " + spoken)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_page_has_a_rule(client):
    operations = _page_operations(client.app)
    assert operations, "no page routes found"
    missing, stale = sorted(operations - set(PAGES)), sorted(set(PAGES) - operations)
    assert not missing, f"page routes without a rule in tests/web/test_pages.py PAGES: {missing}"
    assert not stale, f"rules for pages that no longer exist: {stale}"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("operation", sorted(PAGES))
def test_page_matrix(world, operation):
    method, template = operation.split(" ", 1)
    path = template
    for param in re.findall(r"{(\w+)}", template):
        path = path.replace(f"{{{param}}}", getattr(world, param))
    expected = PAGES[operation]
    # Refusals first, the owner last: an action is made once, by whom it belongs to.
    order = sorted(ROLES, key=lambda r: expected[r] < 400)
    results = {}
    for role in order:
        client = world.clients[role]
        extra = {"data": world.body(operation, role)} if method == "POST" else {}
        answer = client.request(method, path, follow_redirects=False, **extra)
        results[role] = answer.status_code
        if answer.status_code >= 400:
            assert answer.headers["content-type"].startswith("text/html"), (role, answer.text)
        if role == "anonymous" and template.startswith(("/mijn", "/werkplek", "/beheer")):
            assert answer.headers["location"].startswith("/inloggen")
    assert results == expected, f"{operation}: got {results}"


def _crawl(client, start: str) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Follow every same-site link from ``start`` (GET only): status and text per path."""
    seen: dict[str, int] = {}
    texts: list[tuple[str, str]] = []
    todo = [start]
    while todo:
        path = todo.pop()
        if path in seen or len(seen) > 80:
            continue
        answer = client.get(path)
        seen[path] = answer.status_code
        assert answer.status_code < 500, f"{path}: {answer.status_code}"
        links = re.findall(r'href="(/[^"#]*)', answer.text)
        todo += [html.unescape(link) for link in links
                 if not link.startswith(("/static", "/inloggen/oidc")) and link not in seen]
        texts.append((path, visible_text(answer.text)))
    return seen, texts


def test_every_page_renders_for_every_role_in_plain_dutch(world):
    # Signals, a consent to revoke, a dead letter: something on every page.
    assert world.signals and world.consent_id and world.dead_letter_id and world.plan
    starts = {"resident": "/mijn", "regisseur": "/werkplek", "teamlead": "/werkplek",
              "operator": "/beheer", "anonymous": "/inloggen"}
    odd = ["/mijn/toestemming/%00/intrekken", "/mijn/toestemming/onbekend/intrekken",
           "/werkplek/melding/onbekend", "/werkplek/huishouden/%27%3B", "/mijn/bestaat-niet",
           "/werkplek/inbox?type=x&grondslag=y&status=z&pagina=-4",
           "/werkplek?zoek=%00&pagina=-4", "/werkplek?zoek=" + "x" * 300, "/beheer?melding=<b>",
           "/inloggen?volgende=//evil.example"]
    for role, start in starts.items():
        client = world.clients[role]
        statuses, seen_texts = _crawl(client, start)
        assert statuses[start] == 200, (role, statuses)
        for path in odd:
            answer = client.get(path)
            assert answer.status_code < 500, (role, path, answer.status_code)
            seen_texts.append((path, visible_text(answer.text)))
        if role in ("resident", "anonymous"):
            for path, text in seen_texts:
                found = ENGLISH.findall(text)
                assert not found, f"{role} reads English on {path}: {found}"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_forms_need_the_sessions_csrf_token(world):
    client = world.clients["resident"]
    for data in ({}, {"csrf": "guessed"}, {"csrf": world.csrf("other_resident")}):
        answer = client.post(f"/mijn/vraag/{world.request_id}/toestaan", data=data,
                             follow_redirects=False)
        assert answer.status_code == 403, data
        assert "formulier is verlopen" in answer.text
    # Nothing was approved: the question is still open.
    assert world._resident_api("/api/v1/me/requests")[0]["status"] == "pending"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_session_cookie_and_page_headers(world):
    client = world.factory(world.ctx)
    answer = client.get("/inloggen")
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http in the test; set when the request is https
    assert answer.headers["content-type"].startswith("text/html")
    csp = answer.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp
    assert "style-src 'self'" in csp and "form-action 'self'" in csp
    # Sealed: the token inside is not readable from the cookie.
    from itsdangerous import URLSafeTimedSerializer

    logged_in = world.clients["regisseur"].cookies["wijkhub_sessie"]
    _, inside = URLSafeTimedSerializer("any").loads_unsafe(logged_in)
    assert isinstance(inside, str) and inside.startswith("v1.")  # a ciphertext of the hub's
    assert "krispijn" not in inside and "regisseur" not in inside
    # A tampered cookie is not a session: back to the log-in page.
    client.cookies.set("wijkhub_sessie", cookie.split(";")[0].split("=", 1)[1][:-2] + "xx")
    assert client.get("/mijn", follow_redirects=False).headers["location"].startswith(
        "/inloggen")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_chooser_is_off_in_production(world, monkeypatch):
    from hub.web import auth

    client, csrf = world.clients["anonymous"], world.csrf("anonymous")
    monkeypatch.setattr(auth, "chooser_enabled", lambda _ctx: False)
    page = client.get("/inloggen").text
    assert "Inloggen als bewoner" not in page and "niet ingesteld" in page
    answer = client.post("/inloggen", data={"csrf": csrf, "rol": "operator"},
                         follow_redirects=False)
    assert answer.status_code == 404
    assert client.get("/beheer", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_logout_ends_the_session(world):
    client = world.clients["regisseur"]
    assert client.get("/werkplek").status_code == 200
    client.post("/uitloggen", data={"csrf": world.csrf("regisseur")})
    assert client.get("/werkplek", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_copy_of_the_cookie_opens_nothing_after_logging_out(world):
    # Issue 13, item 13: logging out ends the session on the server, not only in the
    # browser that logged out.
    client = world.clients["regisseur"]
    assert client.get("/werkplek").status_code == 200
    copied = dict(client.cookies)
    csrf = world.csrf("regisseur")
    assert client.post("/uitloggen", data={"csrf": csrf},
                       follow_redirects=False).status_code == 303
    thief = TestClient(world.api.app, raise_server_exceptions=False, cookies=copied)
    answer = thief.get("/werkplek", follow_redirects=False)
    assert answer.status_code == 303 and "/inloggen" in answer.headers["location"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_unexpected_error_is_a_calm_page_without_details(world, monkeypatch):
    from hub.web import beheer

    def broken(**_kwargs):
        raise RuntimeError("secret detail 123456782")

    monkeypatch.setattr(beheer.deadletters, "list_dead", broken)
    answer = world.clients["operator"].get("/beheer")
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("text/html")
    assert "Er ging iets mis" in answer.text and "123456782" not in answer.text
    assert answer.headers["x-frame-options"] == "DENY"
    # The API keeps answering problem+json.
    api = world.clients["operator"].get("/api/v1/nope")
    assert api.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_representative_sees_only_what_their_capacity_covers(world):
    from hub.core.representatives import add_representative

    assert world.signals  # Anna: arrears (financieel) delivered, nuisance (wonen) held
    now = world.ctx.clock()
    with world.ctx.sessions() as session, session.begin():
        rep = add_representative(session=session, ctx=world.ctx, bsn=world.anna.bsn,
                                 representative_bsn=world.bob.bsn, capacity="bewindvoerder",
                                 valid_from=now, valid_until=None, recorded_by="rechtbank",
                                 reference="R-1", now=now)
    bob, anna = world.clients["other_resident"], world.clients["resident"]
    own = bob.get("/mijn").text
    assert "U regelt ook zaken voor" in own and "Anna Jansen" in own
    acting = bob.get(f"/mijn?namens={rep.id}")
    assert acting.status_code == 200
    text = visible_text(acting.text)
    assert "Gegevens van Anna Jansen" in text and "als bewindvoerder" in text
    assert "Huurachterstand" in text         # money: within a bewindvoerder's capacity
    assert "Woonoverlast" not in text        # living: outside it
    assert "Wie keek naar uw gegevens" not in text  # the audit trail stays Anna's own
    # Only the representative may use the representation.
    assert anna.get(f"/mijn?namens={rep.id}").status_code == 404
