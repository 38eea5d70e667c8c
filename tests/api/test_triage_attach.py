"""Attaching a triage item to a resident of the wijk (issue 17, item 2)."""

from __future__ import annotations

import dataclasses

from sqlalchemy import text

from tests.utils.builders import arrears, partner, person, regisseur, register, resident, teamlead

STATUTE_MINIMAL = {"name", "address", "creditor", "amount_eur", "since"}
CONSENT = {"source_kinds": ["woningcorporatie"], "categories": ["financieel"],
           "purpose": "Hulp bij schulden"}


def _triage_item(ctx, client, worker, who):
    _, woonbron = partner(ctx)
    # A misspelt name: the hub cannot match it, so it lands in triage.
    body = arrears(dataclasses.replace(who, name="B. Ewoner"), ref="A-1")
    assert client.post("/api/v1/messages", json=body, headers=woonbron).status_code == 202
    worker.drain()
    [item] = client.get("/api/v1/inbox", headers=regisseur(ctx)).json()["items"]
    assert item["triage"] is True and item["household_id"] is None
    return item


def test_attach_links_the_item_and_decides_again_with_the_residents_consent(
        ctx, client, worker, caplog):
    anna = person(1)
    register(ctx, anna)
    item = _triage_item(ctx, client, worker, anna)
    assert set(item["data"]) == STATUTE_MINIMAL
    # Anna consented to share financial signals from housing corporations in full.
    assert client.post("/api/v1/me/consents", json=CONSENT,
                       headers=resident(ctx, anna)).status_code == 201
    caplog.set_level("DEBUG")
    r = client.post(f"/api/v1/inbox/{item['id']}/attach", json={"bsn": anna.bsn},
                    headers=regisseur(ctx))
    assert r.status_code == 200, r.text
    attached = r.json()
    assert attached["triage"] is False and attached["household_id"] is not None
    # Decided again: now on her consent, so the months and tenancy are shown as well.
    assert attached["basis"] == "consent"
    assert {"months", "tenancy_ref"} <= set(attached["data"])
    assert anna.bsn not in caplog.text
    with ctx.engine.connect() as conn:
        event = conn.execute(text("select data, subject from audit_events "
                                  "where action = 'item.attach'")).one()
    assert item["id"] in str(event.data) and anna.bsn not in str(event.data)
    assert event.subject == ctx.pseudonyms.subject(anna.bsn)
    # The disclosure is now on Anna's own record.
    assert len(client.get("/api/v1/me/disclosures", headers=resident(ctx, anna)).json()) == 1
    again = client.post(f"/api/v1/inbox/{item['id']}/attach", json={"bsn": anna.bsn},
                        headers=regisseur(ctx))
    assert again.status_code == 409


def test_attach_refuses_a_bad_or_foreign_bsn_naming_the_field(ctx, client, worker):
    anna, far = person(1), person(2, postcode="3321AB")  # Krispijn, Crabbehof
    register(ctx, anna, far)
    item = _triage_item(ctx, client, worker, anna)
    url = f"/api/v1/inbox/{item['id']}/attach"
    for bsn in ("123456789", "12", far.bsn, person(77).bsn):
        r = client.post(url, json={"bsn": bsn}, headers=regisseur(ctx))
        assert r.status_code == 422, (bsn, r.text)
        assert r.json()["detail"].startswith("bsn:")
        assert bsn not in r.text
    assert client.post(url, json={}, headers=regisseur(ctx)).status_code == 422
    # A team lead reads but does not attach; another wijk sees no such item.
    assert client.post(url, json={"bsn": anna.bsn}, headers=teamlead(ctx)).status_code == 403
    assert client.post(url, json={"bsn": anna.bsn},
                       headers=regisseur(ctx, "crabbehof", user="c")).status_code == 404
    # Nothing changed.
    assert client.get(f"/api/v1/inbox/{item['id']}",
                      headers=regisseur(ctx)).json()["triage"] is True
