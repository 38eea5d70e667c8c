"""Neither a BSN, a name, an address nor message data is ever in clear at rest or in a log.

A realistic story runs on the embedded default (SQLite in a temporary data
directory, keys from ``HUB_KEYS``): partners send messages with BSNs, names,
addresses and contact details, residents consent, the regisseur reads, keys
rotate. Then every file in the data directory (the database, its WAL and
shared-memory files) and every log line is searched for each value used, and
for the API keys, tokens and keys.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.core.audit import verify
from hub.core.context import build_context
from hub.core.keys import new_key_document, rotate_data_key
from hub.core.migrate import upgrade
from hub.core.plugins import load_plugins
from hub.core.reencrypt import reencrypt_all
from hub.core.worker import OutboxWorker
from hub.settings import Settings
from tests.utils.builders import FakeClock, partner, person, regisseur, register, resident

FATIMA = person(7001, name="Fatima el Amrani", postcode="3317AB", huisnummer="12")
JOOST = person(7002, name="Joost van Dijk-Özdemir", postcode="3318CD", huisnummer="7")
STRANGER_BSN = "123456782"  # valid, but not in the registry: the message goes to triage
REF_BSN = person(7003).bsn  # a partner that uses a BSN as its own reference (issue 13, item 10)
VALUES = ["98765.43", "HC-ZEBRA-7731", "+31612345678", "fatima.amrani@example.nl",
          "Geluidsoverlast bij de buren in de nacht", "Woonconsulent Bakhuizen",
          "Kees Onbekend-Tromp", "4321.09",
          # The household plan (issue 17): goal, agreements, a network person, the resident's
          # comment and question, the partner's progress note.
          "Schuldenvrij voor Koningsdag", "Budgetcoach Zwaluwstraat bellen",
          "buurvrouw Henriette", "Liever op woensdag Quokka", "Wie betaalt de Zeppelinrekening",
          "Regeling Flamingo afgesproken", "Betalingsregeling Kolibrie"]
PLAN_ENDPOINT = "https://api.plan-partner.test/wijkhub"


def message(who, ref, *, by_bsn=False, amount="98765.43"):
    # Each its own tenancy: the same tenancy and amount again would be a linked repeat.
    subject = ({"bsn": who.bsn} if by_bsn else
               {"name": who.name, "postcode": who.postcode, "huisnummer": who.huisnummer})
    return {"type": "signal.arrears.rent", "source_ref": ref, "subject": subject,
            "occurred_at": "2026-11-20T08:00:00+00:00",
            "data": {"amount_eur": amount, "months": 4, "since": "2026-07-01",
                     "tenancy_ref": f"HC-ZEBRA-7731-{ref}",
                     "address": {"postcode": who.postcode, "huisnummer": who.huisnummer},
                     "contact": {"name": "Woonconsulent Bakhuizen", "phone": "+31612345678",
                                 "email": "fatima.amrani@example.nl"}}}


def nuisance(who, ref):
    return {"type": "signal.nuisance", "source_ref": ref,
            "subject": {"name": who.name, "postcode": who.postcode,
                        "huisnummer": who.huisnummer},
            "occurred_at": "2026-11-20T08:00:00+00:00",
            "data": {"description": "Geluidsoverlast bij de buren in de nacht",
                     "address": {"postcode": who.postcode, "huisnummer": who.huisnummer}}}


def forms(value: str) -> list[bytes]:
    """The ways a value could sit in a file: as given, case-folded, and as UTF-16."""
    return [value.encode(), value.casefold().encode(), value.encode("utf-16-le")]


def key_forms(b64: str) -> list[bytes]:
    return [b64.encode(), base64.b64decode(b64), base64.b64decode(b64).hex().encode()]


class AllLogs(logging.Handler):
    """Every log record of the run, rendered as a log file would have it (with tracebacks)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logs():
    handler = AllLogs()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_a_full_story_leaves_nothing_in_clear(tmp_path, monkeypatch, logs):
    keys_doc = new_key_document()
    monkeypatch.setenv("HUB_KEYS", json.dumps(keys_doc))
    data_dir = tmp_path / "data"
    settings = Settings(env="test", data_dir=data_dir, database_url="", worker_enabled=False)
    ctx = build_context(settings, plugins=load_plugins(), clock=FakeClock())
    upgrade(ctx.engine)
    worker = OutboxWorker(ctx)
    secrets: dict[str, list[bytes]] = {}
    for who in (FATIMA, JOOST):
        secrets[f"bsn of {who.name}"] = forms(who.bsn)
        secrets[f"name of {who.name}"] = forms(who.name)
        for joined in (f"{who.postcode}{who.huisnummer}", f"{who.postcode} {who.huisnummer}",
                       f"{who.postcode}|{who.huisnummer}", who.postcode):
            secrets[f"address {joined}"] = forms(joined)
    secrets["stranger bsn"] = forms(STRANGER_BSN)
    secrets["bsn as source_ref"] = forms(REF_BSN)
    # BSNs that fail the elfproef are refused, and must not be echoed anywhere either.
    secrets["refused bsn 1"] = forms(FATIMA.bsn[:-1] + "0")
    secrets["refused bsn 2"] = forms(JOOST.bsn[:-1] + "0")
    for value in VALUES:
        secrets[value] = forms(value)
    for name in ("pseudonym_key", "token_key", "audit_key"):
        secrets[name] = key_forms(keys_doc[name])
    secrets["data key k1"] = key_forms(keys_doc["data_keys"]["k1"])

    try:
        register(ctx, FATIMA, JOOST)
        _, woonbron = partner(ctx)
        fatima, joost, staff = resident(ctx, FATIMA), resident(ctx, JOOST), regisseur(ctx)
        for label, header in (("api key", woonbron), ("resident token", fatima),
                              ("regisseur token", staff)):
            secrets[label] = forms(header["Authorization"].split()[1])
        with TestClient(create_app(ctx, run_worker=False),
                        raise_server_exceptions=False) as client:
            sent = [message(FATIMA, "R-1", by_bsn=True), message(JOOST, "R-2"),
                    nuisance(FATIMA, "N-1"), nuisance(JOOST, "N-2"),
                    {**message(FATIMA, "R-3"), "subject": {"bsn": STRANGER_BSN}},
                    # Refused ones: their values must not end up in a log either.
                    {**message(FATIMA, "R-4"), "subject": {"bsn": FATIMA.bsn[:-1] + "0"}},
                    {**message(FATIMA, "R-5", amount="-4321.09")},
                    message(JOOST, REF_BSN)]
            for body in sent:
                client.post("/api/v1/messages", json=body, headers=woonbron)
            csv = ("source_ref,name,birthdate,postcode,huisnummer,bsn,amount_eur,months,since,"
                   "tenancy_ref\n"
                   f"B-1,Kees Onbekend-Tromp,,3317AB,12,{STRANGER_BSN},4321.09,2,2026-09-01,"
                   "HC-ZEBRA-7731\n"
                   f"B-2,{JOOST.name},,3318CD,7,{JOOST.bsn[:-1]}0,4321.09,2,2026-09-01,HC-1\n")
            client.post("/api/v1/messages/batch", content=csv.encode(),
                        headers={**woonbron, "content-type": "text/csv"})
            worker.drain()
            for me in (fatima, joost):
                for request in client.get("/api/v1/me/requests", headers=me).json():
                    client.post(f"/api/v1/me/requests/{request['id']}/approve", headers=me)
            worker.drain()
            page = client.get("/api/v1/inbox", headers=staff).json()
            shown = json.dumps(page)
            assert FATIMA.name in shown and "Geluidsoverlast bij de buren" in shown
            for item in page["items"]:
                client.get(f"/api/v1/inbox/{item['id']}", headers=staff)
            client.post(f"/api/v1/inbox/{page['items'][0]['id']}/take-up", headers=staff)
            assert client.get("/api/v1/me/audit", headers=fatima).json()["total"] > 3
            consent = client.get("/api/v1/me/consents", headers=joost).json()[0]
            client.post(f"/api/v1/me/consents/{consent['id']}/revoke", headers=joost)
            _plan_story(ctx, client, worker, staff, fatima, page)

            # Rotating from the environment is the operator's job; here the document moves on.
            new_doc = json.loads(json.dumps(keys_doc))
            provider = _MemoryProvider(new_doc)
            ctx.keys.provider = provider
            rotate_data_key(provider)
            secrets["data key k2"] = key_forms(new_doc["data_keys"]["k2"])
            ctx.keys.refresh()
            assert reencrypt_all(ctx=ctx, batch_size=2).resealed > 0
            client.get("/api/v1/inbox", headers=staff)

        with ctx.sessions() as session:
            assert verify(session, ctx.keys).intact
        assert page["total"] >= 5, "the story ran: the regisseur saw the messages"
        # While the hub still holds its connections (the WAL is there), and after.
        files_before = _files(data_dir)
        assert any(p.name.endswith("-wal") for p in files_before), "WAL is searched too"
        _assert_nowhere(secrets, files_before, logs.lines)
    finally:
        ctx.dispose()
    _assert_nowhere(secrets, _files(data_dir), logs.lines)


def _plan_story(ctx, client, worker, staff, fatima, page) -> None:
    """Issue 17: a triage item attached, a plan written and shared, answered, a question."""
    import httpx
    import respx

    triage = next(i for i in page["items"] if i["triage"])
    assert client.post(f"/api/v1/inbox/{triage['id']}/attach", json={"bsn": FATIMA.bsn},
                       headers=staff).status_code == 200
    partner_id, partner_key = partner(ctx, "Woonbron Plan", endpoint=PLAN_ENDPOINT)
    with ctx.sessions() as session:
        from hub.core.models import Resident
        household = session.get(Resident, ctx.pseudonyms.subject(FATIMA.bsn)).household_id
    plan = client.put(f"/api/v1/households/{household}/plan", headers=staff, json={
        "goals": [{"domain": "financien", "text": "Schuldenvrij voor Koningsdag"}],
        "agreements": [
            {"domain": "financien", "text": "Budgetcoach Zwaluwstraat bellen",
             "who": "network", "network_person": "buurvrouw Henriette"},
            {"domain": "wonen", "text": "Betalingsregeling Kolibrie", "who": "partner",
             "partner_id": partner_id}],
        "evaluation_date": "2027-03-01"})
    assert plan.status_code == 200, plan.text
    asked = [r for r in client.get("/api/v1/me/requests", headers=fatima).json()
             if r["status"] == "pending"]
    client.post(f"/api/v1/me/requests/{asked[0]['id']}/approve", headers=fatima)
    with respx.mock(assert_all_called=True) as mock:
        mock.post(PLAN_ENDPOINT).mock(return_value=httpx.Response(200, json={}))
        worker.drain()
    agreement = plan.json()["agreements"][1]["id"]
    assert client.post("/api/v1/plan/progress", headers=partner_key, json={
        "agreement_id": agreement, "state": "in_progress",
        "note": "Regeling Flamingo afgesproken"}).status_code == 201
    assert client.post("/api/v1/me/plan/comment", headers=fatima,
                       json={"text": "Liever op woensdag Quokka"}).status_code == 201
    assert client.post("/api/v1/me/questions", headers=fatima,
                       json={"text": "Wie betaalt de Zeppelinrekening"}).status_code == 201
    shown = client.get("/api/v1/me/plan", headers=fatima).text
    assert "Schuldenvrij voor Koningsdag" in shown and "Regeling Flamingo" in shown


class _MemoryProvider:
    """A key source for the test: the document lives only in memory."""

    description = "memory"
    writable = True

    def __init__(self, document):
        self.document = document

    def read(self):
        return json.loads(json.dumps(self.document))

    def changed(self):
        return False

    def write(self, document):
        self.document.clear()
        self.document.update(document)

    def locked(self):
        from contextlib import nullcontext

        return nullcontext()


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _assert_nowhere(secrets: dict[str, list[bytes]], files: list[Path], log_lines: list[str]):
    assert files, "the data directory should hold the database"
    contents = {p: p.read_bytes() for p in files}
    logged = "\n".join(log_lines).encode()
    assert log_lines, "the story should have logged something"
    assert b"Traceback" not in logged
    for label, variants in secrets.items():
        for variant in variants:
            for path, content in contents.items():
                assert variant not in content, f"{label} found in {path.name}"
            assert variant not in logged, f"{label} found in the logs"


def test_a_forced_internal_error_shows_no_stack_trace_and_logs_no_data(ctx, logs, monkeypatch):
    def broken(**_kwargs):
        raise RuntimeError(f"cannot list for {FATIMA.bsn} {FATIMA.name}")

    monkeypatch.setattr("hub.api.inbox.read_inbox", broken)
    # raise_server_exceptions=True: an exception that escaped the app (for the server
    # to log with its traceback and message) would fail this test.
    with TestClient(create_app(ctx, run_worker=False), raise_server_exceptions=True) as client:
        response = client.get("/api/v1/inbox", headers=regisseur(ctx))
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {"type": "about:blank", "title": "Internal error",
                               "status": 500, "detail": "Internal error"}
    logged = "\n".join(logs.lines)
    assert "unhandled RuntimeError" in logged
    for leak in ("Traceback", FATIMA.bsn, FATIMA.name, "cannot list"):
        assert leak not in logged
        assert leak not in response.text


def test_the_worker_logs_a_failed_round_without_a_traceback(ctx, logs):
    import threading

    from hub.core.worker import OutboxWorker

    worker, stop = OutboxWorker(ctx), threading.Event()

    def failing(limit: int = 100) -> int:
        stop.set()
        raise RuntimeError(f"lost connection while routing {FATIMA.bsn}")

    worker.run_once = failing
    worker.run_forever(stop)
    logged = "\n".join(logs.lines)
    assert "outbox worker round failed: RuntimeError" in logged
    assert "Traceback" not in logged and FATIMA.bsn not in logged


def test_an_error_in_a_middleware_does_not_reach_the_server_either(ctx, logs):
    class Failing:
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            if scope["type"] == "http":
                raise RuntimeError(f"middleware saw {FATIMA.name}")
            await self.app(scope, receive, send)

    app = create_app(ctx, run_worker=False)
    app.add_middleware(Failing)  # added last: the outermost of the app's own middleware
    with TestClient(app, raise_server_exceptions=True) as client:
        response = client.get("/healthz")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    logged = "\n".join(logs.lines)
    assert "unhandled RuntimeError" in logged
    assert FATIMA.name not in logged and "Traceback" not in logged
