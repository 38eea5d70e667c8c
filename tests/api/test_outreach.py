"""Outreach cases through the API: grouping, urgency, refusals, sealing, NotifyNL failures."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import respx
from sqlalchemy import select, text

from hub.core import outbound
from hub.core.models import OutboundMessageRow
from hub.core.outreach_models import OutreachCase
from tests.plugins.evides.test_evides import water
from tests.utils.builders import arrears, partner, person, regisseur, register, teamlead
from tests.utils.outreach import END_OF_SUPPLY, ENERGY, creditor_signal

ANNA, BOB = person(71, name="Anna Smit"), person(72, name="Bob Jansen")
NOTIFY = "https://notify.test"
KEY = "wijkhub_test-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0"
TEMPLATE = "f33517ff-2a88-4f6e-b855-c550268ce08a"
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _send(client, body, headers) -> str:
    r = client.post("/api/v1/messages", json=body, headers=headers)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def _cases(ctx, client, wijk: str = "krispijn") -> list[dict]:
    r = client.get("/api/v1/outreach", headers=regisseur(ctx, wijk))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _problem(r, status: int, field: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return body


def test_signals_within_the_window_share_a_case_later_ones_open_a_new(ctx, client, worker,
                                                                      clock):
    register(ctx, ANNA)
    _, woonbron = partner(ctx, "Woonbron")
    _, evides = partner(ctx, "Evides", kind="evides")
    _send(client, arrears(ANNA, ref="R-1"), woonbron)
    worker.drain()
    clock.advance(days=7)  # the window's last moment (window_days = 7)
    _send(client, water(ANNA, ref="W-1"), evides)
    worker.drain()
    (case,) = _cases(ctx, client)
    assert [s["partner_kind"] for s in case["signals"]] == ["woningcorporatie", "evides"]
    clock.advance(seconds=1)
    _send(client, water(ANNA, ref="W-2", amount="999.00", customer="EV-other"), evides)
    worker.drain()
    cases = _cases(ctx, client)
    assert sorted(len(c["signals"]) for c in cases) == [1, 2]
    # Only the household's first case counts as its first (the monitor's figure).
    with ctx.sessions() as session:
        firsts = session.scalars(select(OutreachCase.first_for_household)
                                 .order_by(OutreachCase.opened_at)).all()
    assert firsts == [True, False]


def test_a_nuisance_report_or_a_signal_without_household_opens_no_case(ctx, client, worker):
    register(ctx, ANNA)
    _, woonbron = partner(ctx, "Woonbron")
    stranger = person(74, name="Niet Bekend")  # not in the registry: triage, no household
    _send(client, arrears(stranger, ref="R-9"), woonbron)
    worker.drain()
    assert client.get("/api/v1/inbox", headers=regisseur(ctx)).json()["total"] == 1
    assert _cases(ctx, client) == []


def test_an_end_of_supply_notice_comes_first_then_amount_then_partners(ctx, client, worker):
    register(ctx, ANNA, BOB, person(75))
    _, woonbron = partner(ctx, "Woonbron")
    _, eneco = partner(ctx, "Eneco", kind="energie")
    _send(client, arrears(ANNA, ref="R-1", amount="4000.00"), woonbron)
    _send(client, arrears(person(75), ref="R-3", amount="100.00"), woonbron)
    _send(client, creditor_signal(BOB, type_=END_OF_SUPPLY, ref="E-1", amount="80.00"), eneco)
    worker.drain()
    cases = _cases(ctx, client)
    assert [c["amount_total_eur"] for c in cases] == ["80.00", "4000.00", "100.00"]
    assert cases[0]["urgency"] == 10


def test_another_wijk_gets_the_same_404_as_a_missing_case(ctx, client, worker):
    register(ctx, ANNA)
    _, woonbron = partner(ctx, "Woonbron")
    _send(client, arrears(ANNA, ref="R-1"), woonbron)
    worker.drain()
    (case,) = _cases(ctx, client)
    other = regisseur(ctx, "crabbehof", user="chris")
    attempt = {"kind": "phone", "result": "reached", "attempted_on": "2026-11-23"}
    theirs = client.post(f"/api/v1/outreach/{case['id']}/attempts", json=attempt,
                         headers=other)
    missing = client.post("/api/v1/outreach/no-such-case/attempts", json=attempt,
                          headers=other)
    assert _problem(theirs, 404) == _problem(missing, 404)
    assert client.get(f"/api/v1/outreach/{case['id']}", headers=other).status_code == 404
    assert _cases(ctx, client, "crabbehof") == []
    # A team lead of the wijk reads along but records nothing.
    lead = teamlead(ctx)
    assert client.get(f"/api/v1/outreach/{case['id']}", headers=lead).status_code == 200
    _problem(client.post(f"/api/v1/outreach/{case['id']}/attempts", json=attempt,
                         headers=lead), 403)


@sqlite_only
def test_bad_attempts_and_closes_are_refused_naming_the_field(ctx, client, worker, clock):
    register(ctx, ANNA)
    _, woonbron = partner(ctx, "Woonbron")
    message_id = _send(client, arrears(ANNA, ref="R-1"), woonbron)
    worker.drain()
    (case,) = _cases(ctx, client)
    url, staff = f"/api/v1/outreach/{case['id']}", regisseur(ctx)
    good = {"kind": "phone", "result": "not_reached", "attempted_on": "2026-11-23"}
    _problem(client.post(f"{url}/attempts", json={**good, "kind": "duif"}, headers=staff),
             422, "kind")
    _problem(client.post(f"{url}/attempts", json={**good, "result": "?"}, headers=staff),
             422, "result")
    _problem(client.post(f"{url}/attempts", json={**good, "attempted_on": "2026-11-24"},
                         headers=staff), 422, "attempted_on")  # tomorrow
    _problem(client.post(f"{url}/attempts", json={**good, "attempted_on": "2026-11-01"},
                         headers=staff), 422, "attempted_on")  # before the signal
    _problem(client.post(f"{url}/attempts", json={**good, "note": "x"}, headers=staff),
             422, "note")
    # Closing needs an attempt first; nothing was stored by the refusals above.
    _problem(client.post(f"{url}/close", json={"outcome": "declined"}, headers=staff), 409)
    _problem(client.post(f"{url}/close", json={"outcome": "weg"}, headers=staff),
             422, "outcome")
    assert client.get(url, headers=staff).json()["attempts"] == []
    assert client.post(f"{url}/attempts", json=good, headers=staff).status_code == 201
    assert client.post(f"{url}/close", json={"outcome": "not_reached"},
                       headers=staff).status_code == 200
    _problem(client.post(f"{url}/close", json={"outcome": "not_reached"}, headers=staff), 409)
    _problem(client.post(f"{url}/attempts", json=good, headers=staff), 409)
    # Help never started: the creditor hears not_taken_up, as from the inbox.
    assert client.get(f"/api/v1/messages/{message_id}",
                      headers=woonbron).json()["status"] == "not_taken_up"


@sqlite_only
def test_a_bad_contact_detail_is_refused_at_the_door(ctx, client, worker):
    register(ctx, ANNA)
    _, eneco = partner(ctx, "Eneco", kind="energie")
    r = client.post("/api/v1/messages", headers=eneco, json=creditor_signal(
        ANNA, type_=ENERGY, ref="E-1", phone="12"))
    _problem(r, 422, "data.phone")
    r = client.post("/api/v1/messages", headers=eneco, json=creditor_signal(
        ANNA, type_=ENERGY, ref="E-1", email="anna@"))
    _problem(r, 422, "data.email")
    _send(client, creditor_signal(ANNA, type_=ENERGY, ref="E-1"), eneco)
    worker.drain()
    (case,) = _cases(ctx, client)
    url = f"/api/v1/outreach/{case['id']}/notify"
    _problem(client.post(url, json={"channel": "sms", "phone": "06 123"},
                         headers=regisseur(ctx)), 422, "phone")
    _problem(client.post(url, json={"channel": "sms", "phone": "078 123 4567"},
                         headers=regisseur(ctx)), 422, "phone")  # a landline: no sms
    _problem(client.post(url, json={"channel": "email", "email": "geen adres"},
                         headers=regisseur(ctx)), 422, "email")


@respx.mock
def test_contact_details_are_sealed_and_never_logged_and_a_failing_send_is_dead_lettered(
        ctx, client, worker, clock, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("HUB_NOTIFYNL_BASE_URL", NOTIFY)
    monkeypatch.setenv("HUB_NOTIFYNL_API_KEY", KEY)
    monkeypatch.setenv("HUB_NOTIFYNL_TEMPLATE_OUTREACH_EMAIL", TEMPLATE)
    route = respx.post(f"{NOTIFY}/v2/notifications/email").mock(
        return_value=httpx.Response(500))
    register(ctx, ANNA)
    _, eneco = partner(ctx, "Eneco", kind="energie")
    _send(client, creditor_signal(ANNA, type_=ENERGY, ref="E-1", phone="+31 6 87654321",
                                  email="anna.smit@example.nl"), eneco)
    worker.drain()
    (case,) = _cases(ctx, client)
    assert case["has_email"] and case["has_phone"]
    r = client.post(f"/api/v1/outreach/{case['id']}/notify", json={"channel": "email"},
                    headers=regisseur(ctx))
    assert r.status_code == 202, r.text
    again = client.post(f"/api/v1/outreach/{case['id']}/notify", json={"channel": "email"},
                        headers=regisseur(ctx))
    assert again.json()["outbound_id"] == r.json()["outbound_id"]  # one text per case
    for _ in range(ctx.settings.max_attempts):
        worker.drain()
        clock.advance(seconds=60)
    assert route.call_count == ctx.settings.max_attempts == 3
    with ctx.sessions() as session:
        state = outbound.status(session, message_id=r.json()["outbound_id"])
        assert session.get(OutboundMessageRow, r.json()["outbound_id"]).type == "notify.email"
    assert (state.status, state.last_error) == ("failed", "HTTP 500")
    dumped = ""
    with ctx.engine.connect() as conn:
        for table in ("outreach_cases", "outbound_messages", "audit_events", "dead_letters"):
            dumped += json.dumps([list(map(str, row)) for row in
                                  conn.execute(text(f"select * from {table}"))])
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    for secret in ("87654321", "anna.smit", KEY[-36:]):
        assert secret not in dumped and secret not in logged


def test_a_household_reads_no_linked_item_that_the_inbox_would_hide(ctx, client, worker):
    register(ctx, ANNA)
    _, woonbron = partner(ctx, "Woonbron")
    _send(client, arrears(ANNA, ref="R-1"), woonbron)
    worker.drain()
    (case,) = _cases(ctx, client)
    with ctx.engine.begin() as conn:  # as a revocation's re-check would leave it
        conn.execute(text("update inbox_items set hidden = :t"), {"t": True})
    assert _cases(ctx, client) == []
    assert client.get(f"/api/v1/outreach/{case['id']}",
                      headers=regisseur(ctx)).status_code == 404


@sqlite_only
def test_a_dry_run_shows_the_text_and_stores_or_sends_nothing(ctx, client, worker):
    register(ctx, ANNA)
    _, woonbron = partner(ctx, "Woonbron")
    _send(client, arrears(ANNA, ref="R-1"), woonbron)
    worker.drain()
    (case,) = _cases(ctx, client)
    r = client.post(f"/api/v1/outreach/{case['id']}/notify", headers=regisseur(ctx),
                    json={"channel": "email", "dry_run": True})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "preview" and r.json()["outbound_id"] is None
    assert "Het wijkteam Krispijn wil graag met u praten" in r.json()["preview"]
    with ctx.engine.connect() as conn:
        assert conn.execute(text("select count(*) from outbound_messages")).scalar_one() == 0


@sqlite_only
def test_the_sealed_contact_details_are_resealed_when_the_key_rotates(ctx, client, worker):
    from hub.core import outreach
    from hub.core.crypto import Cipher
    from hub.core.keys import rotate_data_key
    from hub.core.outreach_models import OutreachCase
    from hub.core.reencrypt import reencrypt_all

    register(ctx, ANNA)
    _, eneco = partner(ctx, "Eneco", kind="energie")
    _send(client, creditor_signal(ANNA, type_=ENERGY, ref="E-1",
                                  phone="0687654321"), eneco)
    worker.drain()
    rotate_data_key(ctx.keys.provider)
    assert reencrypt_all(ctx=ctx).failed == 0
    with ctx.sessions() as session:
        case = session.scalar(select(OutreachCase))
        assert Cipher.key_id(case.contact_sealed) == "k2"
        assert outreach.contact_of(ctx, case) == {"phone": "+31687654321"}


@sqlite_only
def test_retention_takes_the_contact_details_with_the_signals(ctx, client, worker, clock):
    from hub.core.outreach_models import OutreachCase
    from hub.core.retention import run_retention

    register(ctx, ANNA)
    _, eneco = partner(ctx, "Eneco", kind="energie")
    _send(client, creditor_signal(ANNA, type_=ENERGY, ref="E-1",
                                  email="anna@example.nl"), eneco)
    worker.drain()
    clock.advance(days=91)  # past the Wgs retention of 90 days, help never started
    with ctx.sessions() as session, session.begin():
        dry = run_retention(session=session, ctx=ctx, now=clock.now, dry_run=True)
    with ctx.sessions() as session, session.begin():
        assert session.scalar(select(OutreachCase)).contact_sealed is not None
    assert dry.outreach_contacts == 0  # a dry run hides nothing, so nothing lapses yet
    with ctx.sessions() as session, session.begin():
        done = run_retention(session=session, ctx=ctx, now=clock.now)
    assert done.as_json()["outreach_contacts"] == 1
    with ctx.sessions() as session:
        assert session.scalar(select(OutreachCase)).contact_sealed is None
