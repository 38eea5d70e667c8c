"""The demo story, through the API: statute, hold, consent, revocation."""

from __future__ import annotations

from tests.utils.builders import arrears, nuisance, partner, person, regisseur, register, resident


def test_arrears_delivered_minimal_by_statute(ctx, client, worker):
    anna = person(1)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    r = client.post("/api/v1/messages", json=arrears(anna, ref="A-1"), headers=woonbron)
    assert r.status_code == 202, r.text
    assert worker.drain() == 1
    page = client.get("/api/v1/inbox", headers=regisseur(ctx)).json()
    assert page["total"] == 1
    item = page["items"][0]
    assert item["basis"] == "statute"
    assert set(item["data"]) == {"name", "address", "creditor", "amount_eur", "since"}
    assert item["data"]["name"] == anna.name
    assert "Schuldhulpverlening" in item["reason"] or "schuldhulpverlening" in item["reason"]


def test_nuisance_held_then_consent_then_revoke(ctx, client, worker):
    anna = person(2)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    me = resident(ctx, anna)
    staff = regisseur(ctx)
    assert client.post("/api/v1/messages", json=nuisance(anna, ref="N-1"),
                       headers=woonbron).status_code == 202
    worker.drain()
    assert client.get("/api/v1/inbox", headers=staff).json()["total"] == 0
    requests = client.get("/api/v1/me/requests", headers=me).json()
    assert len(requests) == 1 and "Woonbron" in requests[0]["text"]
    r = client.post(f"/api/v1/me/requests/{requests[0]['id']}/approve", headers=me)
    assert r.status_code == 200, r.text
    worker.drain()
    page = client.get("/api/v1/inbox", headers=staff).json()
    assert page["total"] == 1 and page["items"][0]["basis"] == "consent"
    consent_id = r.json()["id"]
    assert client.post(f"/api/v1/me/consents/{consent_id}/revoke",
                       headers=me).status_code == 200
    assert client.get("/api/v1/inbox", headers=staff).json()["total"] == 0
    client.post("/api/v1/messages", json=nuisance(anna, ref="N-2"), headers=woonbron)
    worker.drain()
    assert client.get("/api/v1/inbox", headers=staff).json()["total"] == 0
    disclosures = client.get("/api/v1/me/disclosures", headers=me).json()
    assert len(disclosures) == 1
