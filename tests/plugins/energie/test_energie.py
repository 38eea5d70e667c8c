"""Energy suppliers: arrears and the end-of-supply notice, as JSON and as a CSV batch (issue 16)."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from hub.core.plugins import ENTRY_POINT_GROUP
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
from tests.utils.builders import partner, person, register, resident

ARREARS = "signal.arrears.energy"
END = "signal.end_of_supply.energy"
HEADER = ("source_ref", "name", "birthdate", "postcode", "huisnummer", "bsn", "amount_eur",
          "months", "since", "customer_ref", "end_of_supply_date", "phone", "email")
# What the Besluit gemeentelijke schuldhulpverlening lets through without consent.
MINIMAL = {"name", "address", "phone", "email", "creditor", "amount_eur", "since"}

ANNA = person(31)
BOB = person(32)


def energy(who, *, ref: str, type_: str = ARREARS, **data):
    """An energy supplier's message about ``who``."""
    return signal(who, type_=type_, ref=ref, reference="customer_ref", **data)


def _supplier(ctx, endpoint: str | None = None):
    return partner(ctx, "Vandebron", kind="energie", endpoint=endpoint)


def test_registers_through_the_entry_point_like_a_third_party(ctx):
    (ep,) = [e for e in entry_points(group=ENTRY_POINT_GROUP) if e.name == "energie"]
    assert ep.value == "plugins.energie"
    loaded = {p["name"]: p for p in ctx.plugins.describe()}
    assert loaded["energie"]["message_types"] == ["feedback.arrears.energy", ARREARS, END]
    assert ctx.plugins.catalog.csv_format_for("energie").header == HEADER


# --- single messages: statute minimal, consent full -------------------------------------------


def test_without_consent_only_the_statutory_fields_reach_the_inbox(ctx, client, worker):
    register(ctx, ANNA)
    _, supplier = _supplier(ctx)
    r = client.post("/api/v1/messages", json=energy(ANNA, ref="E-1", amount="1250"),
                    headers=supplier)
    assert r.status_code == 202, r.text
    assert worker.drain() == 1
    (item,) = inbox(client, ctx)
    assert (item["type"], item["basis"]) == (ARREARS, "statute")
    assert set(item["data"]) == MINIMAL
    # Contact details are checked and stored in one form: E.164, a normalised address.
    assert item["data"]["phone"] == "+31612345678"
    assert item["data"]["email"] == "Bewoner@example.nl"
    assert item["data"]["creditor"] == "Vandebron"
    assert item["summary"] == "Achterstand energierekening van € 1.250,00"


def test_the_end_of_supply_notice_shows_the_date_the_supply_stops(ctx, client, worker):
    register(ctx, ANNA)
    _, supplier = _supplier(ctx)
    r = client.post("/api/v1/messages", headers=supplier, json=energy(
        ANNA, ref="E-2", type_=END, end_of_supply_date="2027-01-15"))
    assert r.status_code == 202, r.text
    worker.drain()
    (item,) = inbox(client, ctx)
    assert (item["type"], item["basis"]) == (END, "statute")
    assert set(item["data"]) == MINIMAL | {"end_of_supply_date"}
    assert item["summary"] == ("Dringend: energie wordt afgesloten, achterstand van € 312,40; "
                               "levering stopt op 15 januari 2027")


def test_with_consent_every_field_reaches_the_inbox(ctx, client, worker):
    register(ctx, ANNA)
    _, supplier = _supplier(ctx)
    granted = client.post("/api/v1/me/consents", headers=resident(ctx, ANNA), json={
        "recipient": "wijkteam", "source_kinds": ["energie"], "source_partners": [],
        "categories": ["financieel"], "purpose": "hulp bij schulden",
        "valid_until": "2027-06-01T00:00:00+02:00"})
    assert granted.status_code == 201, granted.text
    r = client.post("/api/v1/messages", headers=supplier, json=energy(
        ANNA, ref="E-1", customer_ref="VDB-77", contact={"name": "Team Incasso",
                                                          "phone": "+31 20 123 4567"}))
    assert r.status_code == 202, r.text
    worker.drain()
    (item,) = inbox(client, ctx)
    assert item["basis"] == "consent"
    assert item["data"]["customer_ref"] == "VDB-77" and item["data"]["months"] == 4
    assert item["data"]["contact"] == {"name": "Team Incasso", "phone": "+31201234567",
                                       "email": None}
    assert item["summary"] == "Achterstand energierekening van € 312,40 (4 maanden)"


# --- bad input: a clear 4xx naming the field, never the value, nothing stored -----------------


@pytest.mark.parametrize(("type_", "change", "field"), [
    (ARREARS, {"phone": "0612"}, "data.phone"),
    (ARREARS, {"phone": "bel me maar"}, "data.phone"),
    (ARREARS, {"email": "anna@@example"}, "data.email"),
    (ARREARS, {"contact": {"email": "incasso.example.nl"}}, "data.contact.email"),
    (ARREARS, {"amount_eur": "12,50"}, "data.amount_eur"),
    (ARREARS, {"customer_ref": ""}, "data.customer_ref"),
    (ARREARS, {"end_of_supply_date": "2027-01-15"}, "data.end_of_supply_date"),  # not arrears'
    (END, {}, "data.end_of_supply_date"),                                       # missing
    (END, {"end_of_supply_date": "2027-02-30"}, "data.end_of_supply_date"),
])
def test_bad_data_is_422_naming_the_field_and_nothing_is_stored(ctx, client, type_, change,
                                                                field):
    _, supplier = _supplier(ctx)
    r = client.post("/api/v1/messages", json=energy(ANNA, ref="E-9", type_=type_, **change),
                    headers=supplier)
    body = problem(r, 422, field)
    not_echoed(body, "0612", "bel me maar", "anna@@example", "incasso.example.nl", "12,50")
    assert stored(ctx) == (0, 0, 0)


def test_other_kinds_may_not_send_energy_signals(ctx, client):
    _, woonbron = partner(ctx, "Woonbron")
    problem(client.post("/api/v1/messages", json=energy(ANNA, ref="E-1"), headers=woonbron),
            403, "type")
    assert stored(ctx) == (0, 0, 0)


# --- batches ----------------------------------------------------------------------------------


def test_a_batch_carries_both_signals_and_reports_bad_lines_by_line_and_column(ctx, client,
                                                                               worker):
    register(ctx, ANNA, BOB)
    _, supplier = _supplier(ctx)
    body = csv_body(HEADER,
                    csv_row(ANNA, "B-1", "customer_ref", phone="0612345678"),
                    csv_row(BOB, "B-2", "customer_ref", end_of_supply_date="2027-01-15"),
                    csv_row(BOB, "B-3", "customer_ref", phone="0612"),
                    csv_row(BOB, "B-4", "customer_ref", email="bob-at-example"),
                    csv_row(BOB, "B-5", "customer_ref", end_of_supply_date="morgen"))
    r = send_batch(client, body, supplier)
    assert r.status_code == 202, r.text
    batch = client.get(f"/api/v1/batches/{r.json()['batch_id']}", headers=supplier).json()
    assert (batch["status"], batch["total"], batch["accepted"], batch["rejected"]) == \
        ("done", 5, 2, 3)
    assert [(e["line"], e["field"]) for e in batch["errors"]] == \
        [(4, "phone"), (5, "email"), (6, "end_of_supply_date")]
    not_echoed(batch, "0612,", "bob-at-example", "morgen")
    worker.drain()
    items = {i["type"]: i for i in inbox(client, ctx)}
    assert set(items) == {ARREARS, END}
    assert items[ARREARS]["data"]["phone"] == "+31612345678"
    assert items[END]["data"]["end_of_supply_date"] == "2027-01-15"


def test_a_header_of_another_kind_is_refused_naming_the_expected_one(ctx, client):
    _, supplier = _supplier(ctx)
    water = ("source_ref", "name", "birthdate", "postcode", "huisnummer", "bsn", "amount_eur",
             "months", "since", "customer_ref")
    body = problem(send_batch(client, csv_body(water, csv_row(ANNA, "B-1", "customer_ref")),
                              supplier), 422, "header")
    assert ",".join(HEADER) in body["detail"]
    assert stored(ctx) == (0, 0, 0)
