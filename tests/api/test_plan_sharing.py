"""A plan agreement reaches the partner in it, on the resident's consent, and no one else
(issue 17, item 4). respx stands in for Woonbron's own API."""

from __future__ import annotations

import json

import httpx
import respx
from sqlalchemy import text

from tests.api.test_plan import GOAL, household_of, plan_body
from tests.utils.builders import partner, person, regisseur, register, resident

ENDPOINT = "https://api.woonbron.test/wijkhub"
ARRANGEMENT = "Betalingsregeling voor de huurachterstand"


def _share_request(client, who_headers) -> dict:
    [request] = [r for r in client.get("/api/v1/me/requests", headers=who_headers).json()
                 if r["status"] == "pending"]
    return request


def _statuses(ctx) -> list[str]:
    with ctx.engine.connect() as conn:
        return conn.execute(text(
            "select status from outbound_messages where type = 'plan.agreement' "
            "order by created_at")).scalars().all()


def _woonbron_agreement(plan: dict) -> dict:
    return next(a for a in plan["agreements"] if a["who"] == "partner")


@respx.mock
def test_agreement_goes_to_woonbron_only_with_consent_and_stops_after_revocation(
        ctx, client, worker, clock):
    anna = person(1)
    register(ctx, anna)
    hid = household_of(ctx, anna)
    woonbron_id, woonbron = partner(ctx, endpoint=ENDPOINT)
    _, trivire = partner(ctx, "Trivire", endpoint="https://api.trivire.test")
    route = respx.post(ENDPOINT).mock(return_value=httpx.Response(200, json={"id": "WB-9"}))
    staff, me = regisseur(ctx), resident(ctx, anna)
    url = f"/api/v1/households/{hid}/plan"

    plan = client.put(url, json=plan_body(woonbron_id), headers=staff).json()
    agreement = _woonbron_agreement(plan)
    assert agreement["share"]["status"] == "not_shared"
    worker.drain()
    assert route.call_count == 0 and _statuses(ctx) == []  # nothing without consent

    # The resident is asked, in plain Dutch, naming the partner but not the agreement's words.
    question = _share_request(client, me)
    assert "Woonbron" in question["text"] and "afspraak uit uw plan" in question["text"]
    assert ARRANGEMENT not in question["text"]
    approved = client.post(f"/api/v1/me/requests/{question['id']}/approve", headers=me)
    assert approved.status_code == 200, approved.text
    worker.drain()
    assert route.call_count == 1
    sent = route.calls[0].request
    payload = json.loads(sent.content)
    assert payload["type"] == "plan.agreement"
    assert payload["data"]["agreement_id"] == agreement["id"]
    assert payload["data"]["text"] == ARRANGEMENT
    assert payload["data"]["resident_name"] == anna.name
    body = sent.content.decode()
    # Exactly that agreement: not the goal, not the other agreements, no address, no BSN.
    for secret in (GOAL, "Ik open elke week mijn post", "zus", anna.bsn, anna.postcode):
        assert secret not in body
    shared = client.get(url, headers=staff).json()
    assert _woonbron_agreement(shared)["share"]["status"] == "shared"

    # Saving the plan again without a change for Woonbron sends nothing new.
    same = plan_body(woonbron_id)
    same["agreements"][2]["id"] = agreement["id"]
    client.put(url, json=same, headers=staff)
    worker.drain()
    assert route.call_count == 1

    # Woonbron reports progress on its own agreement; the regisseur and resident see it.
    r = client.post("/api/v1/plan/progress", headers=woonbron, json={
        "agreement_id": agreement["id"], "state": "in_progress",
        "note": "Regeling van 50 euro per maand afgesproken"})
    assert r.status_code == 201, r.text
    for other, body in ((trivire, {"agreement_id": agreement["id"], "state": "done"}),
                        (woonbron, {"agreement_id": plan["agreements"][0]["id"],
                                    "state": "done"})):
        refused = client.post("/api/v1/plan/progress", headers=other, json=body)
        assert refused.status_code == 404, refused.text
    bad = client.post("/api/v1/plan/progress", headers=woonbron,
                      json={"agreement_id": agreement["id"], "state": "klaar"})
    assert bad.status_code == 422 and "state" in bad.json()["detail"]
    seen = _woonbron_agreement(client.get("/api/v1/me/plan", headers=me).json())
    assert seen["progress"][0]["state_label"] == "Bezig"
    assert seen["progress"][0]["note"].startswith("Regeling")

    # The resident revokes: the next plan update does not go to Woonbron.
    [grant] = [c for c in client.get("/api/v1/me/consents", headers=me).json()
               if c["purpose"] == "plan.share"]
    assert "Woonbron" in grant["explanation"]
    assert client.post(f"/api/v1/me/consents/{grant['id']}/revoke",
                       headers=me).status_code == 200
    changed = plan_body(woonbron_id)
    changed["agreements"][2] = {**changed["agreements"][2], "id": agreement["id"],
                                "due": "2027-02-28"}
    after = client.put(url, json=changed, headers=staff).json()
    worker.drain()
    assert route.call_count == 1
    assert _woonbron_agreement(after)["share"]["status"] == "not_shared"
    # ... and Woonbron can no longer report on it.
    r = client.post("/api/v1/plan/progress", headers=woonbron,
                    json={"agreement_id": agreement["id"], "state": "done"})
    assert r.status_code == 404


@respx.mock
def test_a_queued_agreement_is_decided_again_before_delivery(ctx, client, worker):
    anna = person(1)
    register(ctx, anna)
    hid = household_of(ctx, anna)
    woonbron_id, _ = partner(ctx, endpoint=ENDPOINT)
    route = respx.post(ENDPOINT).mock(return_value=httpx.Response(200, json={}))
    staff, me = regisseur(ctx), resident(ctx, anna)
    client.put(f"/api/v1/households/{hid}/plan", json=plan_body(woonbron_id), headers=staff)
    question = _share_request(client, me)
    client.post(f"/api/v1/me/requests/{question['id']}/approve", headers=me)
    assert _statuses(ctx) == ["queued"]  # sent on approval, not yet delivered
    [grant] = [c for c in client.get("/api/v1/me/consents", headers=me).json()
               if c["purpose"] == "plan.share"]
    client.post(f"/api/v1/me/consents/{grant['id']}/revoke", headers=me)
    worker.drain()
    assert route.call_count == 0
    assert _statuses(ctx) == ["withheld"]


def test_a_share_consent_never_lets_a_message_reach_the_wijkteam(ctx, client, worker):
    from tests.utils.builders import nuisance

    anna = person(1)
    register(ctx, anna)
    hid = household_of(ctx, anna)
    woonbron_id, woonbron = partner(ctx, endpoint=ENDPOINT)
    staff, me = regisseur(ctx), resident(ctx, anna)
    client.put(f"/api/v1/households/{hid}/plan", json=plan_body(woonbron_id), headers=staff)
    client.post(f"/api/v1/me/requests/{_share_request(client, me)['id']}/approve", headers=me)
    # Woonbron's nuisance report (category wonen) still needs its own consent.
    client.post("/api/v1/messages", json=nuisance(anna, ref="N-1"), headers=woonbron)
    worker.drain()
    assert client.get("/api/v1/inbox", headers=staff).json()["total"] == 0


def test_one_question_per_agreement_and_a_no_is_not_asked_again(ctx, client, worker):
    anna = person(1)
    register(ctx, anna)
    hid = household_of(ctx, anna)
    woonbron_id, _ = partner(ctx, endpoint=ENDPOINT)
    staff, me = regisseur(ctx), resident(ctx, anna)
    url = f"/api/v1/households/{hid}/plan"
    first = client.put(url, json=plan_body(woonbron_id), headers=staff).json()
    again = plan_body(woonbron_id)
    again["agreements"][2].update(id=_woonbron_agreement(first)["id"], due="2027-02-15")
    client.put(url, json=again, headers=staff)
    pending = [r for r in client.get("/api/v1/me/requests", headers=me).json()
               if r["status"] == "pending"]
    assert len(pending) == 1 and pending[0]["purpose"] == "plan.share"  # merged, not two
    assert client.post(f"/api/v1/me/requests/{pending[0]['id']}/deny",
                       headers=me).status_code == 200
    again["agreements"][2]["due"] = "2027-03-01"
    client.put(url, json=again, headers=staff)
    assert [r for r in client.get("/api/v1/me/requests", headers=me).json()
            if r["status"] == "pending"] == []
    worker.drain()
    assert _statuses(ctx) == []


def test_a_representative_sees_only_the_domains_of_their_capacity(ctx, client):
    from tests.api.test_me_consents import _represent

    anna, bea = person(1), person(2)
    register(ctx, anna, bea)
    hid = household_of(ctx, anna)
    client.put(f"/api/v1/households/{hid}/plan", json=plan_body(), headers=regisseur(ctx))
    rep = _represent(ctx, anna, bea, "bewindvoerder")
    seen = client.get("/api/v1/me/plan", headers=resident(ctx, bea),
                      params={"on_behalf_of": rep.id})
    assert seen.status_code == 200, seen.text
    plan = seen.json()
    assert [g["domain"] for g in plan["goals"]] == ["financien"]
    assert [a["domain"] for a in plan["agreements"]] == ["financien"]  # not her sister's part
    # Agreeing speaks for the whole plan: beyond a bewindvoerder's capacity.
    r = client.post("/api/v1/me/plan/agree", headers=resident(ctx, bea),
                    params={"on_behalf_of": rep.id})
    assert r.status_code == 403
    r = client.post("/api/v1/me/plan/comment", headers=resident(ctx, bea),
                    params={"on_behalf_of": rep.id}, json={"text": "Graag maandelijks"})
    assert r.status_code == 201


def test_a_deactivated_partner_gets_nothing_and_the_residents_yes_still_works(ctx, client,
                                                                             worker):
    anna = person(1)
    register(ctx, anna)
    hid = household_of(ctx, anna)
    woonbron_id, _ = partner(ctx, endpoint=ENDPOINT)
    staff, me = regisseur(ctx), resident(ctx, anna)
    client.put(f"/api/v1/households/{hid}/plan", json=plan_body(woonbron_id), headers=staff)
    with ctx.engine.begin() as conn:
        conn.execute(text("update partners set active = false where id = :p"),
                     {"p": woonbron_id})
    answer = client.post(f"/api/v1/me/requests/{_share_request(client, me)['id']}/approve",
                         headers=me)
    assert answer.status_code == 200, answer.text
    assert _statuses(ctx) == []
