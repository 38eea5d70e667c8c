"""The energy supplier hears back what became of its signals, like Evides (issue 16)."""

from __future__ import annotations

import json

import httpx
import respx

from tests.plugins.energie.test_energie import ANNA, END, energy
from tests.utils.builders import partner, regisseur, register

ENDPOINT = "https://api.energie.example/wijkhub"
REF = "E/2026/7"  # a slash in the supplier's own reference: quoted in the path
FEEDBACK_URL = f"{ENDPOINT}/arrears/E%2F2026%2F7/feedback"


@respx.mock
def test_taken_up_and_closed_reach_the_supplier_without_the_closing_note(ctx, client, worker):
    route = respx.post(FEEDBACK_URL).mock(return_value=httpx.Response(201, json={"id": "V-1"}))
    register(ctx, ANNA)
    _, supplier = partner(ctx, "Vandebron", kind="energie", endpoint=ENDPOINT)
    r = client.post("/api/v1/messages", headers=supplier, json=energy(
        ANNA, ref=REF, type_=END, end_of_supply_date="2027-01-15"))
    assert r.status_code == 202, r.text
    worker.drain()
    (item,) = client.get("/api/v1/inbox", headers=regisseur(ctx)).json()["items"]
    assert route.call_count == 0  # "delivered" tells the supplier nothing
    staff = regisseur(ctx)
    assert client.post(f"/api/v1/inbox/{item['id']}/take-up", headers=staff).status_code == 200
    assert client.post(f"/api/v1/inbox/{item['id']}/close", headers=staff,
                       json={"summary": "Betalingsregeling getroffen"}).status_code == 200
    worker.drain()
    bodies = [json.loads(call.request.read()) for call in route.calls]
    assert [(b["source_ref"], b["status"]) for b in bodies] == \
        [(REF, "taken_up"), (REF, "closed")]
    assert all(b["hub_message_id"] == r.json()["id"] for b in bodies)
    said = json.dumps(bodies)
    assert "Betalingsregeling" not in said and ANNA.name not in said


@respx.mock
def test_without_an_endpoint_nothing_is_pushed(ctx, client, worker):
    route = respx.route().mock(return_value=httpx.Response(200))
    register(ctx, ANNA)
    _, supplier = partner(ctx, "Vandebron", kind="energie")
    assert client.post("/api/v1/messages", json=energy(ANNA, ref=REF),
                       headers=supplier).status_code == 202
    worker.drain()
    (item,) = client.get("/api/v1/inbox", headers=regisseur(ctx)).json()["items"]
    client.post(f"/api/v1/inbox/{item['id']}/take-up", headers=regisseur(ctx))
    worker.drain()
    assert route.call_count == 0
