"""``hub demo``: seed a fresh hub and walk the story of one resident over real HTTP.

The story: a housing corporation signals rent arrears (delivered, minimised, on
the statute of early debt signalling) and nuisance (held until the resident
consents); the resident consents, then revokes; the water company signals
arrears too, and the wijkteam gets one outreach case for the household; then the
household plan, whose agreement for the housing corporation reaches it only with
the resident's consent (step g, :mod:`hub.demo_plan`). Every step checks what the
hub did, so the demo doubles as a smoke test of the running hub: API, worker,
consent registry and store together.
"""

from __future__ import annotations

import itertools
import logging
import shlex
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn

from hub.app import create_app
from hub.core.bsn import validate_bsn
from hub.core.context import HubContext, build_context
from hub.core.files import private_dir
from hub.core.identity import add_partner, issue_token
from hub.core.residents import import_residents_text
from hub.demo_plan import PartnerApi, plan_shared
from hub.settings import Settings

T = TypeVar("T")

PARTNER_NAME = "Woonbron"
PARTNER_KIND = "woningcorporatie"
ARREARS = "signal.arrears.rent"
NUISANCE = "signal.nuisance"
POLL_TIMEOUT_SECONDS = 10.0
POLL_INTERVAL_SECONDS = 0.1


class DemoFailed(Exception):
    """A step of the story did not go as expected."""

    def __init__(self, step: str, detail: str) -> None:
        super().__init__(f"demo failed at step {step}: {detail}")
        self.step = step
        self.detail = detail


def _demo_bsn(seed: int) -> str:
    """A BSN that passes the elfproef, derived from ``seed`` (fictitious, for the demo only)."""
    for n in itertools.count(seed * 10):
        digits = f"{100000000 + n % 800000000:09d}"
        total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True))
        if (total - int(digits[8])) % 11 == 0:
            return validate_bsn(digits)
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class DemoResident:
    """A resident of the demo registry."""

    user: str
    name: str
    birthdate: str
    postcode: str
    huisnummer: str
    bsn: str = field(repr=False)

    @property
    def subject(self) -> dict[str, str]:
        """How a creditor identifies this resident: name and address, no BSN."""
        return {"name": self.name, "postcode": self.postcode, "huisnummer": self.huisnummer}

    @property
    def address(self) -> dict[str, str]:
        """The address as message data carries it."""
        return {"postcode": self.postcode, "huisnummer": self.huisnummer}


FATIMA = DemoResident("fatima", "Fatima el Amrani", "1984-03-12", "3317AB", "12", _demo_bsn(31))
JAN = DemoResident("jan", "Jan de Vries", "1957-09-30", "3321CD", "4", _demo_bsn(32))
SANNE = DemoResident("sanne", "Sanne Bakker", "1996-06-21", "3311AA", "7", _demo_bsn(33))
DEMO_RESIDENTS = (FATIMA, JAN, SANNE)


def _say(text: str = "") -> None:
    """One line of the demo's narration (stdout; flushed so it reads live)."""
    print(text, flush=True)


def _poll(check: Callable[[], T | None], timeout: float = POLL_TIMEOUT_SECONDS) -> T | None:
    """Call ``check`` every 0.1 s until it returns something (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None or time.monotonic() >= deadline:
            return result
        time.sleep(POLL_INTERVAL_SECONDS)


# --- setting up ------------------------------------------------------------------
def _prepare_data_dir(data_dir: Path | None) -> Path:
    """A fresh directory for the demo; raises ValueError if the given one is in use."""
    if data_dir is None:
        return Path(tempfile.mkdtemp(prefix="wijkhub-demo-"))
    if data_dir.exists() and not data_dir.is_dir():
        raise ValueError(f"{data_dir} exists and is not a directory")
    if data_dir.is_dir() and any(data_dir.iterdir()):
        # Never seed demo people into someone's real hub.
        raise ValueError(f"{data_dir} is not empty; give an empty or new directory")
    private_dir(data_dir)
    return data_dir.resolve()


def _build_hub(data_dir: Path) -> HubContext:
    """A migrated hub on SQLite in ``data_dir``."""
    # Imported here, under _quiet: alembic logs its plugin set-up when first imported.
    from hub.core.migrate import upgrade

    settings = Settings(data_dir=data_dir, database_url="", env="development")
    ctx = build_context(settings)
    upgrade(ctx.engine)
    return ctx


def _show_wijkmap(ctx: HubContext) -> None:
    """Print the wijken the hub serves and their postcode areas."""
    _say(f"The hub serves {len(ctx.wijkmap.wijken)} wijken of Dordrecht (postcode areas):")
    for wijk in ctx.wijkmap.wijken.values():
        _say(f"  {wijk.name:<24} {', '.join(wijk.postcodes)}")


def _seed_partner(ctx: HubContext, endpoint: str | None = None) -> tuple[str, str]:
    """Register Woonbron (``endpoint``: its own API); returns its id and API key (kept in
    memory, never printed)."""
    with ctx.sessions() as session, session.begin():
        partner, api_key = add_partner(session=session, name=PARTNER_NAME, kind=PARTNER_KIND,
                                       now=ctx.clock(), endpoint=endpoint)
        partner_id = partner.id
    _say(f"Partner registered: {PARTNER_NAME} ({PARTNER_KIND}).")
    return partner_id, api_key


def _seed_residents(ctx: HubContext) -> None:
    """Put the demo residents into the resident registry."""
    lines = ["bsn,name,birthdate,postcode,huisnummer"]
    lines += [f"{r.bsn},{r.name},{r.birthdate},{r.postcode},{r.huisnummer}"
              for r in DEMO_RESIDENTS]
    with ctx.sessions() as session, session.begin():
        result = import_residents_text(session=session, ctx=ctx, text="\n".join(lines))
    if result.errors or result.imported != len(DEMO_RESIDENTS):
        raise DemoFailed("seed", f"expected {len(DEMO_RESIDENTS)} residents imported, got "
                                 f"{result.imported} with errors {result.errors}")
    _say("Residents in the registry (BSNs are stored pseudonymised and never shown):")
    for r in DEMO_RESIDENTS:
        wijk = ctx.wijkmap.name(ctx.wijkmap.wijk_for(r.postcode) or "?")
        _say(f"  {r.name:<18} {r.postcode} {r.huisnummer:<3} ({wijk})")


# --- the running hub -------------------------------------------------------------
@contextmanager
def _serving(ctx: HubContext) -> Iterator[str]:
    """Run the real hub (API and in-process worker) in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Binding port 0 and handing the bound socket to uvicorn leaves no window in
    # which another process could take the port.
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="demo-hub", daemon=True)
    thread.start()
    try:
        _poll(lambda: True if server.started or not thread.is_alive() else None)
        if not server.started:
            raise DemoFailed("start", "the hub did not start within "
                                      f"{POLL_TIMEOUT_SECONDS:.0f} s")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


# --- the story ---------------------------------------------------------------------
def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _when(value: str) -> str:
    """An API timestamp as a short readable UTC time."""
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S %Z").strip()


class Story:
    """The demo's actors talking to the hub over HTTP, step by step."""

    def __init__(self, http: httpx.Client, ctx: HubContext, partner_key: str) -> None:
        self.http, self.ctx = http, ctx
        self.minimal_fields = set(ctx.policy.types[ARREARS].minimal_fields)
        self.woonbron = _bearer(partner_key)
        self.regisseur = _bearer(issue_token(ctx, role="regisseur", user="regisseur-krispijn",
                                             wijk="krispijn"))
        self.fatima = _bearer(issue_token(ctx, role="resident", user=FATIMA.user,
                                          subject=ctx.pseudonyms.subject(FATIMA.bsn)))
        self.step = "a"
        self.messages: dict[str, str] = {}
        self.request_id = ""
        self.consent_id = ""

    # helpers
    def check(self, ok: bool, detail: str) -> None:
        """Fail the current step with ``detail`` unless ``ok``."""
        if not ok:
            raise DemoFailed(self.step, detail)

    def call(self, method: str, path: str, headers: dict[str, str], expect: int,
             json: Any = None) -> Any:
        """One request; fails the step on an unexpected status. Returns the JSON body."""
        response = self.http.request(method, path, headers=headers, json=json)
        if response.status_code != expect:
            try:
                title = response.json().get("title", "")
            except ValueError:
                title = ""
            raise DemoFailed(self.step, f"expected HTTP {expect} from {method} {path}, "
                                        f"got {response.status_code} {title}".rstrip())
        return response.json()

    def send(self, type_: str, ref: str, data: dict[str, Any]) -> str:
        """Woonbron sends a message about Fatima; returns the hub's message id."""
        body = {"type": type_, "source_ref": ref, "subject": FATIMA.subject,
                "occurred_at": "2026-11-20T08:00:00+00:00",
                "data": {**data, "address": FATIMA.address}}
        receipt = self.call("POST", "/api/v1/messages", self.woonbron, 202, json=body)
        self.messages[ref] = receipt["id"]
        _say(f"  {PARTNER_NAME} sends {type_} ({ref}) about {FATIMA.name}, by name and "
             f"address: the hub answers {receipt['status']!r}.")
        return receipt["id"]

    def inbox(self) -> list[dict[str, Any]]:
        """The krispijn regisseur's inbox items."""
        return self.call("GET", "/api/v1/inbox", self.regisseur, 200)["items"]

    def items_of(self, type_: str) -> list[dict[str, Any]]:
        """Inbox items of one message type."""
        return [item for item in self.inbox() if item["type"] == type_]

    def pending_requests(self) -> list[dict[str, Any]]:
        """Fatima's open consent requests."""
        requests = self.call("GET", "/api/v1/me/requests", self.fatima, 200)
        return [r for r in requests if r["status"] == "pending"]

    def wait_for_pending_request(self, what: str) -> dict[str, Any]:
        """Poll until the worker has held a message and asked Fatima; returns the request."""
        pending = _poll(lambda: self.pending_requests() or None)
        self.check(pending is not None, f"expected a consent request for {what} within "
                                        f"{POLL_TIMEOUT_SECONDS:.0f} s, none came")
        self.check(len(pending) == 1, f"expected one open consent request, got {len(pending)}")
        return pending[0]

    # steps
    def arrears_by_statute(self) -> None:
        """a. Rent arrears reach the regisseur without consent, minimised."""
        self.step = "a"
        _say("\nStep a: rent arrears, delivered on the statute of early debt signalling")
        sent = {"amount_eur": "1250.00", "months": 3, "since": "2026-08-01",
                "tenancy_ref": "WB-HC-4471",
                "contact": {"name": "Team incasso", "phone": "010-1234567"}}
        self.send(ARREARS, "WB-2026-0001", sent)
        items = _poll(lambda: self.inbox() or None)
        self.check(items is not None, "expected the arrears in the krispijn inbox within "
                                      f"{POLL_TIMEOUT_SECONDS:.0f} s, it did not arrive")
        self.check(len(items) == 1, f"expected one inbox item, got {len(items)}")
        item = items[0]
        self.check(item["type"] == ARREARS and item["basis"] == "statute",
                   f"expected a {ARREARS} item on basis 'statute', got {item['type']} on "
                   f"basis {item['basis']!r}")
        fields = set(item["data"])
        self.check(fields <= self.minimal_fields,
                   f"expected only the minimal fields {sorted(self.minimal_fields)}, "
                   f"got also {sorted(fields - self.minimal_fields)}")
        _say(f"  The regisseur of Krispijn sees 1 item: {item['summary']!r}, "
             f"basis {item['basis']!r}.")
        _say(f"  Fields shown: {', '.join(sorted(fields))}; "
             f"held back: {', '.join(sorted(set(sent) - fields))}.")
        _say(f"  Reason: {item['reason']!r}")

    def nuisance_held(self) -> None:
        """b. Nuisance has no statute: it is held and Fatima is asked."""
        self.step = "b"
        _say("\nStep b: a nuisance signal needs Fatima's consent, so it is held")
        self.send(NUISANCE, "WB-2026-0002",
                  {"description": "Geluidsoverlast in de avond", "kind": "overlast"})
        request = self.wait_for_pending_request("the nuisance signal")
        self.check(PARTNER_NAME in request["text"],
                   f"expected the request text to name {PARTNER_NAME}, got {request['text']!r}")
        self.check(not self.items_of(NUISANCE), "expected no nuisance item in the inbox while "
                                                "it is held, but one is there")
        _say("  The regisseur's inbox still holds only the arrears item.")
        _say(f"  Fatima has one consent request: {request['text']!r}")
        self.request_id = request["id"]

    def consent_given(self) -> None:
        """c. Fatima approves: the held nuisance reaches the regisseur on consent."""
        self.step = "c"
        _say("\nStep c: Fatima says yes")
        grant = self.call("POST", f"/api/v1/me/requests/{self.request_id}/approve",
                          self.fatima, 200)
        self.consent_id = grant["id"]
        items = _poll(lambda: self.items_of(NUISANCE) or None)
        self.check(items is not None, "expected the nuisance in the inbox after consent "
                                      f"within {POLL_TIMEOUT_SECONDS:.0f} s, it did not arrive")
        item = items[0]
        self.check(item["basis"] == "consent",
                   f"expected the nuisance item on basis 'consent', got {item['basis']!r}")
        _say(f"  The regisseur now sees {item['summary']!r}, basis {item['basis']!r}.")
        _say(f"  Reason: {item['reason']!r}")

    def consent_revoked(self) -> None:
        """d. Fatima revokes: the item disappears and new nuisance is held again."""
        self.step = "d"
        _say("\nStep d: Fatima revokes her consent")
        revoked = self.call("POST", f"/api/v1/me/consents/{self.consent_id}/revoke",
                            self.fatima, 200)
        self.check(revoked["status"] == "revoked",
                   f"expected the consent to be revoked, its status is {revoked['status']!r}")
        # The read is re-checked: no waiting for the worker here.
        self.check(not self.items_of(NUISANCE), "expected the nuisance item to disappear "
                                                "from the inbox at once, it is still shown")
        _say(f"  Consent is now {revoked['status']!r}; the nuisance item is gone from the "
             "regisseur's inbox at once.")
        self.send(NUISANCE, "WB-2026-0003",
                  {"description": "Opnieuw geluidsoverlast na 23.00 uur", "kind": "overlast"})
        request = self.wait_for_pending_request("the second nuisance signal")
        self.check(request["id"] != self.request_id,
                   "expected a new consent request, got the approved one back")
        remaining = self.inbox()
        self.check(not [i for i in remaining if i["type"] == NUISANCE],
                   "expected the second nuisance signal to be held, it is in the inbox")
        self.check([i["basis"] for i in remaining] == ["statute"],
                   "expected only the arrears item (statute) left in the inbox, got "
                   f"{[(i['type'], i['basis']) for i in remaining]}")
        _say("  The second nuisance signal is held: not in the inbox; Fatima is asked again:")
        _say(f"    {request['text']!r}")
        _say("  The arrears item (statute) is still in the inbox.")

    def what_each_sees(self) -> None:
        """e. Fatima sees every disclosure; Woonbron sees only a status per signal."""
        self.step = "e"
        _say("\nStep e: what Fatima and Woonbron can see")
        disclosures = self.call("GET", "/api/v1/me/disclosures", self.fatima, 200)
        seen = {(d["message_type"], d["basis"]) for d in disclosures}
        wanted = {(ARREARS, "statute"), (NUISANCE, "consent")}
        self.check(wanted <= seen and len(disclosures) == 2,
                   f"expected two disclosures {sorted(wanted)}, got {sorted(seen)}")
        _say("  Fatima's disclosures (what was shared about her):")
        for d in disclosures:
            _say(f"    {d['message_type']:<20} from {d['source']} to {d['recipient']}, "
                 f"basis {d['basis']!r}, at {_when(d['at'])}")
        _say(f"  {PARTNER_NAME} follows its signals (a status only, never why):")
        for ref, message_id in self.messages.items():
            status = self.call("GET", f"/api/v1/messages/{message_id}", self.woonbron, 200)
            self.check(status["status"] == "received",
                       f"expected {ref} to be 'received', got {status['status']!r}")
            _say(f"    {ref} {status['type']:<20} {status['status']}")

    def one_outreach(self) -> None:
        """f. Evides signals too: one outreach case for the household, and its text (issue 16)."""
        self.step = "f"
        _say("\nStep f: a second creditor signals; the wijkteam gets one outreach case")
        with self.ctx.sessions() as session, session.begin():
            _evides, key = add_partner(session=session, name="Evides", kind="evides",
                                       now=self.ctx.clock())
        body = {"type": "signal.arrears.water", "source_ref": "EV-2026-0001",
                "subject": FATIMA.subject, "occurred_at": "2026-11-21T08:00:00+00:00",
                "data": {"amount_eur": "312.40", "months": 4, "since": "2026-07-01",
                         "customer_ref": "EV-88231", "address": FATIMA.address}}
        self.call("POST", "/api/v1/messages", _bearer(key), 202, json=body)
        _say(f"  Evides sends signal.arrears.water (EV-2026-0001) about {FATIMA.name}.")

        def combined() -> dict[str, Any] | None:
            cases = self.call("GET", "/api/v1/outreach", self.regisseur, 200)["items"]
            return next((c for c in cases if len(c["signals"]) == 2), None)

        case = _poll(combined)
        self.check(case is not None, "expected one outreach case with both signals within "
                                     f"{POLL_TIMEOUT_SECONDS:.0f} s")
        _say(f"  The wijkteam sees one outreach case, not two calls to make: "
             f"{len(case['signals'])} signals from {', '.join(case['partner_kinds'])}, "
             f"first contact due {_when(case['due_at'])}.")
        for signal in case["signals"]:
            _say(f"    {signal['source']}: {signal['summary']!r}")
        answer = self.http.post(f"/api/v1/outreach/{case['id']}/notify", headers=self.regisseur,
                                json={"channel": "sms", "dry_run": True})
        if answer.status_code == 200:
            _say("  The SMS NotifyNL would send (template fields only; nothing is sent in "
                 "the demo):")
            _say(f"    {answer.json()['preview']!r}")
        else:
            _say("  (No notification plugin is loaded: no text to show.)")

    def walk(self) -> None:
        """The whole story, in order."""
        self.arrears_by_statute()
        self.nuisance_held()
        self.consent_given()
        self.consent_revoked()
        self.what_each_sees()
        self.one_outreach()


# --- the command -------------------------------------------------------------------
def explore_commands(data_dir: Path) -> list[str]:
    """Shell lines that look around in the demo's hub afterwards; each works pasted as is."""
    env = f"HUB_ENV=development HUB_DATA_DIR={shlex.quote(str(data_dir))}"
    return [
        f"{env} hub token regisseur --team krispijn --user regisseur-krispijn",
        f"{env} hub token resident --name {shlex.quote(FATIMA.name)} "
        f"--postcode {FATIMA.postcode} --huisnummer {FATIMA.huisnummer} --user {FATIMA.user}",
        f"{env} hub token operator --user beheerder",
        f"{env} hub serve",
    ]


def _explore_hint(data_dir: Path, *, kept: bool) -> None:
    """Tell the user how to look around afterwards, and where the data is (or that it is gone)."""
    if not kept:
        _say("\nThe demo's temporary data directory has been removed. To explore further, run")
        _say("  hub demo --data-dir ./wijkhub-demo")
        _say("which keeps its data in ./wijkhub-demo and then shows the commands to look around.")
        return
    _say(f"\nExplore further (the data stays in {data_dir}; remove it with "
         f"`rm -r {shlex.quote(str(data_dir))}`):")
    for line in explore_commands(data_dir):
        _say(f"  {line}")
    _say("  then open http://127.0.0.1:8000/inloggen and choose whom to be (resident, "
         "regisseur, operator),")
    _say("  or call the API with a token above: curl -H \"Authorization: Bearer <token>\" "
         "http://127.0.0.1:8000/api/v1/inbox")
    _say("  HUB_ENV=development is the development switch: anyone can log in as anyone, "
         "on 127.0.0.1 only.")


@contextmanager
def _quiet(*names: str) -> Iterator[None]:
    """Lower chatty libraries to warnings while the demo runs: the narration tells the story."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _walk_story(ctx: HubContext) -> None:
    """Seed the hub, run it and walk the story; raises DemoFailed at the first surprise."""
    _show_wijkmap(ctx)
    woonbron_api = PartnerApi()
    partner_id, partner_key = _seed_partner(ctx, endpoint=woonbron_api.url)
    _seed_residents(ctx)
    with _serving(ctx) as base_url, httpx.Client(base_url=base_url, timeout=10) as http, \
            woonbron_api.running():
        _say(f"\nThe hub is running at {base_url} with its worker.")
        story = Story(http, ctx, partner_key)
        try:
            story.walk()
            plan_shared(story, woonbron_api, partner_id, _say, _poll)
        except httpx.HTTPError as exc:
            raise DemoFailed(story.step, f"HTTP error {type(exc).__name__}") from None


def run_demo(data_dir: Path | None) -> int:
    """Seed a fresh hub, run it, walk the story; 0 on success, 1 if a step fails, 2 on bad use.

    Without ``data_dir`` the demo works in a temporary directory and removes it at the
    end; a given directory keeps the demo's hub for exploring.
    """
    kept = data_dir is not None
    try:
        data_dir = _prepare_data_dir(data_dir)
    except ValueError as exc:
        print(f"error: --data-dir {exc}", file=sys.stderr)
        return 2
    try:
        return _run(data_dir, kept=kept)
    finally:
        if not kept:
            shutil.rmtree(data_dir, ignore_errors=True)


def _run(data_dir: Path, *, kept: bool) -> int:
    _say(f"Wijkhub demo. Data directory: {data_dir}\n")
    with _quiet("httpx", "alembic", "hub", "consent", "plugins"):
        ctx = _build_hub(data_dir)
        try:
            _walk_story(ctx)
        except DemoFailed as exc:
            _say(str(exc))
            return 1
        finally:
            ctx.dispose()
    _say("\nDemo complete: statute, hold, consent, revocation, one outreach case and the "
         "household plan shared only with consent, all behaved as designed.")
    _explore_hint(data_dir, kept=kept)
    return 0
