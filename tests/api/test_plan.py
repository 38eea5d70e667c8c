"""The household plan (issue 17): versioned, sealed, audited; who may read and write it."""

from __future__ import annotations

from sqlalchemy import text

from tests.utils.builders import (
    operator,
    partner,
    person,
    regisseur,
    register,
    resident,
    teamlead,
)

GOAL = "Ik wil weer rust in mijn hoofd over geld"


def household_of(ctx, who) -> str:
    """The household id of a registered person."""
    with ctx.engine.connect() as conn:
        return conn.execute(text("select household_id from residents where subject = :s"),
                            {"s": ctx.pseudonyms.subject(who.bsn)}).scalar_one()


def plan_body(woonbron_id: str | None = None, **extra) -> dict:
    """A plan with the resident's goal and agreements for the resident, the network and
    (with ``woonbron_id``) Woonbron."""
    agreements = [
        {"domain": "financien", "text": "Ik open elke week mijn post", "who": "resident",
         "due": "2027-01-15"},
        {"domain": "sociaal-netwerk", "text": "Mijn zus gaat mee naar de bank",
         "who": "network", "network_person": "mijn zus"},
    ]
    if woonbron_id:
        agreements.append({"domain": "financien",
                           "text": "Betalingsregeling voor de huurachterstand",
                           "who": "partner", "partner_id": woonbron_id, "due": "2027-01-31"})
    return {"goals": [{"domain": "financien", "text": GOAL, "score_start": 2}],
            "agreements": agreements, "evaluation_date": "2027-03-01", **extra}


def test_regisseur_writes_a_plan_and_every_change_is_a_new_version(ctx, client):
    anna = person(1)
    register(ctx, anna)
    hid = household_of(ctx, anna)
    staff = regisseur(ctx)
    empty = client.get(f"/api/v1/households/{hid}/plan", headers=staff)
    assert empty.status_code == 200 and empty.json()["version"] == 0
    first = client.put(f"/api/v1/households/{hid}/plan", json=plan_body(), headers=staff)
    assert first.status_code == 200, first.text
    plan = first.json()
    assert plan["version"] == 1
    assert plan["goals"][0]["text"] == GOAL
    assert plan["goals"][0]["domain_label"] == "Geld en schulden"
    assert [a["who"] for a in plan["agreements"]] == ["resident", "network"]
    kept = plan["agreements"][0]["id"]
    body = plan_body()
    body["agreements"][0]["id"] = kept
    body["goals"][0]["score_now"] = 3
    second = client.put(f"/api/v1/households/{hid}/plan", json={**body, "based_on": 1},
                        headers=staff)
    assert second.status_code == 200, second.text
    assert second.json()["version"] == 2
    assert second.json()["agreements"][0]["id"] == kept  # stable across versions
    state = client.post(f"/api/v1/households/{hid}/plan/agreements/{kept}/state",
                        json={"state": "done"}, headers=staff)
    assert state.status_code == 200, state.text
    assert state.json()["version"] == 3
    assert state.json()["agreements"][0]["state_label"] == "Klaar"
    with ctx.engine.connect() as conn:
        rows = conn.execute(text("select version, body_sealed from plan_versions "
                                 "where household_id = :h order by version"),
                            {"h": hid}).all()
        events = conn.execute(text("select action, data from audit_events "
                                   "where action like 'plan.%' order by seq")).all()
    assert [r.version for r in rows] == [1, 2, 3]  # nothing overwritten
    assert all(GOAL not in r.body_sealed and "post" not in r.body_sealed for r in rows)
    assert [e.action for e in events] == ["plan.write", "plan.write", "plan.state"]
    assert all(GOAL not in str(e.data) and "zus" not in str(e.data) for e in events)


def test_a_stale_editor_gets_409_naming_based_on(ctx, client):
    anna = person(1)
    register(ctx, anna)
    hid = household_of(ctx, anna)
    staff = regisseur(ctx)
    assert client.put(f"/api/v1/households/{hid}/plan", json=plan_body(),
                      headers=staff).status_code == 200
    r = client.put(f"/api/v1/households/{hid}/plan", json={**plan_body(), "based_on": 0},
                   headers=staff)
    assert r.status_code == 409
    assert "based_on" in r.json()["detail"]


def test_bad_plans_are_refused_naming_the_field(ctx, client, clock):
    anna = person(1)
    register(ctx, anna)
    hid = household_of(ctx, anna)
    woonbron_id, _ = partner(ctx)
    staff = regisseur(ctx)
    url = f"/api/v1/households/{hid}/plan"
    cases = {
        "evaluation_date": {k: v for k, v in plan_body().items() if k != "evaluation_date"},
        "goals.0.domain": {**plan_body(), "goals": [{"domain": "geluk", "text": "x"}]},
        "goals.0.text": {**plan_body(), "goals": [{"domain": "wonen", "text": "  "}]},
        "goals.0.score_start": {**plan_body(),
                                "goals": [{"domain": "wonen", "text": "x", "score_start": 6}]},
        "agreements.0": {**plan_body(), "agreements": [
            {"domain": "wonen", "text": "x", "who": "partner"}]},
        "agreements.0.partner_id": {**plan_body(), "agreements": [
            {"domain": "wonen", "text": "x", "who": "partner", "partner_id": "nobody"}]},
        "agreements.0.id": {**plan_body(), "agreements": [
            {"id": "not-here", "domain": "wonen", "text": "x", "who": "resident"}]},
        "resident_bsn": {**plan_body(), "resident_bsn": "123456789"},
    }
    # A partner whose kind takes no part in plans (the Wmo desk) cannot be given one.
    desk_id, _ = partner(ctx, "SDD Drechtsteden", kind="sdd")
    r = client.put(url, json=plan_body(desk_id), headers=staff)
    assert r.status_code == 422 and "agreements.2.partner_id" in r.json()["detail"]
    past = {**plan_body(), "evaluation_date": "2020-01-01"}
    for field, body in cases.items():
        r = client.put(url, json=body, headers=staff)
        assert r.status_code == 422, (field, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in r.json()["detail"], (field, r.json()["detail"])
    r = client.put(url, json=past, headers=staff)
    assert r.status_code == 422 and "evaluation_date" in r.json()["detail"]
    assert client.put(url, json={**plan_body(), "agreements": [
        {"domain": "wonen", "text": "x", "who": "resident", "partner_id": woonbron_id}]},
        headers=staff).status_code == 422
    # Nothing was half-stored.
    assert client.get(url, headers=staff).json()["version"] == 0


def test_who_may_read_and_write(ctx, client):
    anna, ben = person(1), person(2, postcode="3311AA")  # Krispijn, another wijk
    register(ctx, anna, ben)
    hid = household_of(ctx, anna)
    url = f"/api/v1/households/{hid}/plan"
    assert client.put(url, json=plan_body(), headers=regisseur(ctx)).status_code == 200
    lead = teamlead(ctx)
    assert client.get(url, headers=lead).status_code == 200
    r = client.put(url, json=plan_body(), headers=lead)
    assert r.status_code == 403
    other = regisseur(ctx, "crabbehof", user="carla")
    missing = client.get("/api/v1/households/no-such-household/plan", headers=other)
    foreign = client.get(url, headers=other)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["detail"] == missing.json()["detail"]
    assert client.put(url, json=plan_body(), headers=other).status_code == 404
    assert client.get(url, headers=operator(ctx)).status_code == 403
    assert client.get(url, headers=resident(ctx, anna)).status_code == 403
    # The resident reads their own plan on /me, another resident has none to see.
    mine = client.get("/api/v1/me/plan", headers=resident(ctx, anna))
    assert mine.status_code == 200 and mine.json()["goals"][0]["text"] == GOAL
    theirs = client.get("/api/v1/me/plan", headers=resident(ctx, ben)).json()
    assert theirs["version"] == 0 and theirs["goals"] == []


def test_the_plan_text_never_reaches_the_log(ctx, client, caplog):
    anna = person(1)
    register(ctx, anna)
    hid = household_of(ctx, anna)
    caplog.set_level("DEBUG")
    client.put(f"/api/v1/households/{hid}/plan", json=plan_body(), headers=regisseur(ctx))
    client.get("/api/v1/me/plan", headers=resident(ctx, anna))
    assert GOAL not in caplog.text and "zus" not in caplog.text
    assert anna.bsn not in caplog.text


def test_the_resident_reads_in_dutch_who_changed_and_read_their_plan(ctx, client):
    anna = person(1)
    register(ctx, anna)
    hid = household_of(ctx, anna)
    staff = regisseur(ctx)
    client.put(f"/api/v1/households/{hid}/plan", json=plan_body(), headers=staff)
    client.get(f"/api/v1/households/{hid}/plan", headers=staff)
    texts = [e["text"] for e in client.get("/api/v1/me/audit",
                                            headers=resident(ctx, anna)).json()["items"]]
    # Staff by role and wijkteam, never by login (issue 15, item 12).
    assert any(t.startswith("Een regisseur van het wijkteam") and "heeft uw plan bekeken" in t
               for t in texts)
    assert any(t.startswith("Een regisseur van het wijkteam") and "heeft uw plan aangepast" in t
               for t in texts)
    assert not any("anna" in t for t in texts)
