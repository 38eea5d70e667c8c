"""Evides: water-bill arrears as single JSON messages and as a CSV batch (issue 7)."""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from typing import Any

import pytest
from sqlalchemy import select, text

from hub.cli import main
from hub.core.models import Partner
from hub.core.plugins import ENTRY_POINT_GROUP
from tests.utils.builders import partner, person, regisseur, register, resident

PROBLEM_JSON = "application/problem+json"
WATER = "signal.arrears.water"
HEADER = ("source_ref,name,birthdate,postcode,huisnummer,bsn,amount_eur,months,since,"
          "customer_ref")
MINIMAL = {"name", "address", "creditor", "amount_eur", "since"}

ANNA = person(11)  # Krispijn
BOB = person(12)


def water(who, *, ref: str, amount: str = "312.40", customer: str | None = None,
          **data: Any) -> dict[str, Any]:
    """A ``signal.arrears.water`` message about ``who``, by name and address."""
    return {"type": WATER, "source_ref": ref,
            "subject": {"name": who.name, "postcode": who.postcode,
                        "huisnummer": who.huisnummer},
            "occurred_at": "2026-11-20T08:00:00+00:00",
            "data": {"amount_eur": amount, "months": 4, "since": "2026-07-01",
                     "customer_ref": customer or f"EV-{who.huisnummer}",
                     "address": {"postcode": who.postcode, "huisnummer": who.huisnummer},
                     **data}}


def _count(ctx, table: str) -> int:
    with ctx.engine.connect() as conn:
        return conn.execute(text(f"select count(*) from {table}")).scalar_one()


def _stored(ctx) -> tuple[int, int, int]:
    return _count(ctx, "messages"), _count(ctx, "outbox"), _count(ctx, "batches")


def _problem(response, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON
    body = response.json()
    assert field in [e["field"] for e in body.get("errors", [])], body
    return body


def _inbox(client, ctx) -> list[dict[str, Any]]:
    page = client.get("/api/v1/inbox", headers=regisseur(ctx))
    assert page.status_code == 200, page.text
    return page.json()["items"]


def _evides(ctx):
    return partner(ctx, "Evides", kind="evides")


# --- registration -----------------------------------------------------------------------------


def test_registers_through_the_entry_point_like_a_third_party(ctx):
    (ep,) = [e for e in entry_points(group=ENTRY_POINT_GROUP) if e.name == "evides"]
    assert ep.value == "plugins.evides"
    loaded = {p["name"]: p for p in ctx.plugins.describe()}
    assert loaded["evides"]["message_types"] == ["feedback.arrears.water", WATER]
    assert ctx.plugins.catalog.csv_format_for("evides").message_type == WATER


def test_hub_partner_add_sets_the_outbound_endpoint_for_evides(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "var"))
    assert main(["partner", "add", "--name", "Evides", "--kind", "evides",
                 "--endpoint", "https://api.evides.example/wijkhub"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["kind"] == "evides" and added["api_key"]
    from hub.cli.common import hub_context

    ctx = hub_context()
    try:
        with ctx.sessions() as session:
            stored = session.scalar(select(Partner).where(Partner.name == "Evides"))
            assert (stored.kind, stored.endpoint) == ("evides", "https://api.evides.example/wijkhub")
    finally:
        ctx.dispose()


# --- single messages: statute minimal, consent full -------------------------------------------


def test_without_consent_only_the_statutory_fields_reach_the_inbox(ctx, client, worker):
    register(ctx, ANNA)
    _, evides = _evides(ctx)
    r = client.post("/api/v1/messages", json=water(ANNA, ref="W-1", amount="1250"),
                    headers=evides)
    assert r.status_code == 202, r.text
    assert worker.drain() == 1
    (item,) = _inbox(client, ctx)
    assert item["type"] == WATER and item["basis"] == "statute"
    assert set(item["data"]) == MINIMAL
    assert item["data"]["creditor"] == "Evides"
    assert item["data"]["amount_eur"] == "1250.00"
    assert "customer_ref" not in item["data"] and "months" not in item["data"]
    assert item["summary"] == "Achterstand waterrekening van € 1.250,00"


def test_with_consent_every_field_reaches_the_inbox(ctx, client, worker):
    register(ctx, ANNA)
    _, evides = _evides(ctx)
    granted = client.post("/api/v1/me/consents", headers=resident(ctx, ANNA), json={
        "recipient": "wijkteam", "source_kinds": ["evides"], "source_partners": [],
        "categories": ["financieel"], "purpose": "hulp bij schulden",
        "valid_until": "2027-06-01T00:00:00+02:00"})
    assert granted.status_code == 201, granted.text
    r = client.post("/api/v1/messages", json=water(ANNA, ref="W-1", customer="EV-77"),
                    headers=evides)
    assert r.status_code == 202, r.text
    worker.drain()
    (item,) = _inbox(client, ctx)
    assert item["basis"] == "consent"
    assert item["data"]["customer_ref"] == "EV-77" and item["data"]["months"] == 4
    assert set(item["data"]) > MINIMAL
    assert item["summary"] == "Achterstand waterrekening van € 312,40 (4 maanden)"


def test_a_repeat_for_the_same_customer_without_growth_is_linked(ctx, client, worker):
    register(ctx, ANNA)
    _, evides = _evides(ctx)
    for ref, amount in (("W-1", "300.00"), ("W-2", "300.00"), ("W-3", "450.00")):
        r = client.post("/api/v1/messages", json=water(ANNA, ref=ref, amount=amount),
                        headers=evides)
        assert r.status_code == 202, r.text
        worker.drain()
    items = sorted(_inbox(client, ctx), key=lambda i: i["data"]["amount_eur"])
    assert [i["data"]["amount_eur"] for i in items] == ["300.00", "450.00"]
    assert items[0]["repeats"] == 1


# --- bad input: clear 4xx, nothing stored -----------------------------------------------------


@pytest.mark.parametrize(("change", "field"), [
    ({"amount_eur": "12,50"}, "data.amount_eur"),
    ({"amount_eur": "-3"}, "data.amount_eur"),
    ({"months": 0}, "data.months"),
    ({"since": "2026-02-30"}, "data.since"),
    ({"customer_ref": ""}, "data.customer_ref"),
    ({"tenancy_ref": "HC-1"}, "data.tenancy_ref"),  # a rent field: not Evides' shape
])
def test_bad_data_is_422_naming_the_field_and_nothing_is_stored(ctx, client, change, field):
    _, evides = _evides(ctx)
    r = client.post("/api/v1/messages", json=water(ANNA, ref="W-9", **change), headers=evides)
    body = _problem(r, 422, field)
    for value in change.values():
        if value:
            assert str(value) not in json.dumps(body["errors"]), body
    assert _stored(ctx) == (0, 0, 0)


def test_other_kinds_may_not_send_water_arrears_nor_evides_rent(ctx, client):
    _, evides = _evides(ctx)
    _, woonbron = partner(ctx, "Woonbron")
    _problem(client.post("/api/v1/messages", json=water(ANNA, ref="W-1"), headers=woonbron),
             403, "type")
    rent = water(ANNA, ref="W-2")
    rent["type"] = "signal.arrears.rent"
    _problem(client.post("/api/v1/messages", json=rent, headers=evides), 403, "type")
    assert _stored(ctx) == (0, 0, 0)


# --- batches: the core's machinery ------------------------------------------------------------


def _csv(*lines: str) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode()


def _line(who, ref: str, amount: str = "99.95", **over: str) -> str:
    cells = {"source_ref": ref, "name": who.name, "birthdate": "", "postcode": who.postcode,
             "huisnummer": who.huisnummer, "bsn": "", "amount_eur": amount, "months": "2",
             "since": "2026-09-01", "customer_ref": f"EV-{who.huisnummer}", **over}
    return ",".join(cells[c] for c in HEADER.split(","))


def _send_batch(client, body: bytes, headers):
    return client.post("/api/v1/messages/batch", content=body,
                       headers={**headers, "Content-Type": "text/csv"})


def test_a_batch_imports_good_lines_and_reports_bad_ones_by_column(ctx, client, worker):
    register(ctx, ANNA, BOB)
    _, evides = _evides(ctx)
    r = _send_batch(client, _csv(_line(ANNA, "B-1"), _line(BOB, "B-2", amount="abc"),
                                 _line(BOB, "B-3", customer_ref="")), evides)
    assert r.status_code == 202, r.text
    batch = client.get(f"/api/v1/batches/{r.json()['batch_id']}", headers=evides).json()
    assert (batch["status"], batch["total"], batch["accepted"], batch["rejected"]) == \
        ("done", 3, 1, 2)
    assert batch["progress"] == 1.0 and batch["lines_done"] == batch["lines_total"] == 3
    assert [(e["line"], e["field"]) for e in batch["errors"]] == \
        [(3, "amount_eur"), (4, "customer_ref")]
    worker.drain()
    (item,) = _inbox(client, ctx)
    assert item["type"] == WATER and set(item["data"]) == MINIMAL


def test_a_batch_sent_twice_stores_nothing_twice(ctx, client):
    _, evides = _evides(ctx)
    body = _csv(_line(ANNA, "B-1"), _line(BOB, "B-2"))
    _send_batch(client, body, evides)
    again = _send_batch(client, body, evides)
    batch = client.get(f"/api/v1/batches/{again.json()['batch_id']}", headers=evides).json()
    assert (batch["accepted"], batch["duplicates"]) == (0, 2)
    assert _count(ctx, "messages") == _count(ctx, "outbox") == 2


def test_the_rent_header_is_refused_naming_evides_header(ctx, client):
    _, evides = _evides(ctx)
    rent = ("source_ref,name,birthdate,postcode,huisnummer,bsn,amount_eur,months,since,"
            "tenancy_ref\n" + _line(ANNA, "B-1") + "\n").encode()
    body = _problem(_send_batch(client, rent, evides), 422, "header")
    assert HEADER in body["detail"]
    assert _stored(ctx) == (0, 0, 0)


def test_the_inbox_line_counts_months_in_singular_and_plural():
    # Issue 13, item 16: never "(1 maanden)".
    from hub.core.plugins import load_plugins

    water_type = load_plugins().catalog.type(WATER)
    assert water_type.summary({"amount_eur": "95.00", "months": 1}) == \
        "Achterstand waterrekening van € 95,00 (1 maand)"
    assert water_type.summary({"amount_eur": "95.00", "months": 3}) == \
        "Achterstand waterrekening van € 95,00 (3 maanden)"
