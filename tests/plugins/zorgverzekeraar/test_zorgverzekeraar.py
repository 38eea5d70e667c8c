"""Health insurers: premium arrears, a partner kind described in a TOML file (issue 16)."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

import plugins.fixedcosts
from hub.core.context import build_context
from hub.core.migrate import upgrade
from hub.core.plugins import load_plugins
from tests.plugins.arrears import (
    csv_body,
    csv_row,
    inbox,
    not_echoed,
    problem,
    send_batch,
    signal,
    stored,
)
from tests.utils.builders import partner, person, regisseur, register, resident

PREMIUM = "signal.arrears.health_insurance"
HEADER = ("source_ref", "name", "birthdate", "postcode", "huisnummer", "bsn", "amount_eur",
          "months", "since", "policy_ref", "phone", "email")
MINIMAL = {"name", "address", "phone", "email", "creditor", "amount_eur", "since"}
ENDPOINT = "https://api.zorgverzekeraar.example/wijkhub"

ANNA = person(41)
BOB = person(42)


def premium(who, *, ref: str, **data):
    """A health insurer's premium-arrears message about ``who``."""
    return signal(who, type_=PREMIUM, ref=ref, reference="policy_ref", **data)


def _insurer(ctx, endpoint: str | None = None):
    return partner(ctx, "Zorgverzekeraar Zuid", kind="zorgverzekeraar", endpoint=endpoint)


def test_the_kind_is_described_in_a_file_and_served_by_the_generic_plugin(ctx):
    loaded = {p["name"]: p for p in ctx.plugins.describe()}
    assert loaded["fixedcosts"]["message_types"] == ["feedback.arrears.health_insurance",
                                                     PREMIUM]
    assert ctx.plugins.catalog.csv_format_for("zorgverzekeraar").header == HEADER
    (kind,) = plugins.fixedcosts.KINDS
    assert kind.all_labels["policy_ref"] == "polisnummer"


def test_without_consent_only_the_statutory_fields_reach_the_inbox(ctx, client, worker):
    register(ctx, ANNA)
    _, insurer = _insurer(ctx)
    r = client.post("/api/v1/messages", json=premium(ANNA, ref="Z-1", amount="640.5"),
                    headers=insurer)
    assert r.status_code == 202, r.text
    worker.drain()
    (item,) = inbox(client, ctx)
    assert (item["type"], item["basis"]) == (PREMIUM, "statute")
    assert set(item["data"]) == MINIMAL
    assert item["summary"] == "Achterstand zorgpremie van € 640,50"


def test_with_consent_every_field_reaches_the_inbox(ctx, client, worker):
    register(ctx, ANNA)
    _, insurer = _insurer(ctx)
    assert client.post("/api/v1/me/consents", headers=resident(ctx, ANNA), json={
        "recipient": "wijkteam", "source_kinds": ["zorgverzekeraar"], "source_partners": [],
        "categories": ["financieel"], "purpose": "hulp bij schulden",
        "valid_until": "2027-06-01T00:00:00+02:00"}).status_code == 201
    r = client.post("/api/v1/messages", json=premium(ANNA, ref="Z-1", policy_ref="P-123"),
                    headers=insurer)
    assert r.status_code == 202, r.text
    worker.drain()
    (item,) = inbox(client, ctx)
    assert item["basis"] == "consent"
    assert item["data"]["policy_ref"] == "P-123" and item["data"]["months"] == 4


@pytest.mark.parametrize(("change", "field"), [
    ({"phone": "+31 6 1234"}, "data.phone"),
    ({"email": "geen adres"}, "data.email"),
    ({"policy_ref": ""}, "data.policy_ref"),
    ({"customer_ref": "K-1"}, "data.customer_ref"),  # another kind's field
])
def test_bad_data_is_422_naming_the_field_and_nothing_is_stored(ctx, client, change, field):
    _, insurer = _insurer(ctx)
    body = problem(client.post("/api/v1/messages", json=premium(ANNA, ref="Z-9", **change),
                               headers=insurer), 422, field)
    not_echoed(body, "+31 6 1234", "geen adres")
    assert stored(ctx) == (0, 0, 0)


def test_a_batch_reports_bad_lines_by_line_and_column(ctx, client, worker):
    register(ctx, ANNA, BOB)
    _, insurer = _insurer(ctx)
    body = csv_body(HEADER, csv_row(ANNA, "B-1", "policy_ref", email="anna@example.nl"),
                    csv_row(BOB, "B-2", "policy_ref", phone="123"),
                    csv_row(BOB, "B-3", "policy_ref", months="0"))
    r = send_batch(client, body, insurer)
    assert r.status_code == 202, r.text
    batch = client.get(f"/api/v1/batches/{r.json()['batch_id']}", headers=insurer).json()
    assert (batch["accepted"], batch["rejected"]) == (1, 2)
    assert [(e["line"], e["field"]) for e in batch["errors"]] == [(3, "phone"), (4, "months")]
    worker.drain()
    (item,) = inbox(client, ctx)
    assert item["data"]["email"] == "anna@example.nl"


@pytest.fixture
def without_statute(settings, clock):
    """A hub whose municipality has switched early signalling of debts off."""
    context = build_context(settings.model_copy(update={"statute_early_signalling": False}),
                            plugins=load_plugins(), clock=clock)
    upgrade(context.engine)
    try:
        yield context
    finally:
        context.dispose()


@respx.mock
def test_the_insurer_hears_not_taken_up_when_the_resident_refuses(without_statute,
                                                                  client_factory, worker_for):
    ctx = without_statute
    client, worker = client_factory(ctx), worker_for(ctx)
    route = respx.post(f"{ENDPOINT}/arrears/Z-1/feedback").mock(
        return_value=httpx.Response(200, json={}))
    register(ctx, ANNA)
    _, insurer = _insurer(ctx, endpoint=ENDPOINT)
    assert client.post("/api/v1/messages", json=premium(ANNA, ref="Z-1"),
                       headers=insurer).status_code == 202
    worker.drain()
    assert route.call_count == 0  # "held" says something about consent: not told
    me = resident(ctx, ANNA)
    (request,) = client.get("/api/v1/me/requests", headers=me).json()
    assert client.post(f"/api/v1/me/requests/{request['id']}/deny",
                       headers=me).status_code == 200
    worker.drain()
    (call,) = route.calls
    assert json.loads(call.request.read())["status"] == "not_taken_up"


@respx.mock
def test_the_insurer_hears_taken_up(ctx, client, worker):
    route = respx.post(f"{ENDPOINT}/arrears/Z-1/feedback").mock(
        return_value=httpx.Response(200, json={}))
    register(ctx, ANNA)
    _, insurer = _insurer(ctx, endpoint=ENDPOINT)
    client.post("/api/v1/messages", json=premium(ANNA, ref="Z-1"), headers=insurer)
    worker.drain()
    (item,) = inbox(client, ctx)
    assert client.post(f"/api/v1/inbox/{item['id']}/take-up",
                       headers=regisseur(ctx)).status_code == 200
    worker.drain()
    (call,) = route.calls
    sent = json.loads(call.request.read())
    assert (sent["source_ref"], sent["status"]) == ("Z-1", "taken_up")
