"""The other way: a regisseur refers a resident to the practice's POH and follows it."""

from __future__ import annotations

import json

import httpx
from fhir.resources.R4B.bundle import Bundle

from tests.plugins.huisarts.conftest import PRACTICE_FHIR
from tests.utils.builders import partner, person, regisseur, register


def _refer(fhir, ctx, practice_id, who, **change):
    body = {"partner_id": practice_id, "bsn": who.bsn, "urgency": "urgent",
            "reason": "Somberheid na verlies van werk; graag gesprek met de POH GGz.", **change}
    return fhir.post("/api/v1/referrals/poh", json=body, headers=regisseur(ctx))


def test_a_referral_to_the_poh_is_posted_as_a_transaction_and_followed(
        ctx, fhir, worker, practice, practice_server):
    practice_id, _ = practice
    bram = person(40)
    register(ctx, bram)
    r = _refer(fhir, ctx, practice_id, bram)
    assert r.status_code == 202, r.text
    referral_id = r.json()["id"]
    assert r.json()["delivery"] == "queued"
    practice_server.get(f"{PRACTICE_FHIR}/Task/gp-2").mock(return_value=httpx.Response(
        200, json={"resourceType": "Task", "id": "gp-2", "status": "accepted",
                   "intent": "order"}))
    worker.drain()
    [call] = practice_server.routes["transaction"].calls
    bundle = Bundle.model_validate(json.loads(call.request.content))
    patient, request, task = (e.resource for e in bundle.entry)
    assert patient.identifier[0].value == bram.bsn
    assert request.reasonCode[0].text.startswith("Somberheid")
    assert (request.priority, request.subject.reference) == ("urgent", task.for_fhir.reference)
    assert (task.intent, task.status) == ("order", "requested")
    assert task.focus.reference == bundle.entry[1].fullUrl
    assert all(e.request.ifNoneExist for e in bundle.entry)  # a retry creates nothing twice
    assert call.request.headers["idempotency-key"] == referral_id

    followed = fhir.get(f"/api/v1/referrals/poh/{referral_id}", headers=regisseur(ctx))
    assert followed.status_code == 200, followed.text
    assert followed.json() == {"id": referral_id, "delivery": "delivered",
                               "task_status": "accepted", "attempts": 1}


def test_only_residents_of_the_own_wijk_and_real_practices(ctx, fhir, practice):
    practice_id, _ = practice
    bram, elsewhere = person(41), person(42, postcode="3314AA")
    register(ctx, bram, elsewhere)
    assert _refer(fhir, ctx, practice_id, elsewhere).status_code == 404
    corporation_id, _ = partner(ctx)
    for pid in (corporation_id, "no-such-practice"):
        r = _refer(fhir, ctx, pid, bram)
        assert r.status_code == 404
        assert r.json()["errors"][0]["field"] == "partner_id"
    bad = _refer(fhir, ctx, practice_id, bram, bsn="111222334")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "bsn"
    r = fhir.get("/api/v1/referrals/poh/nope", headers=regisseur(ctx))
    assert r.status_code == 404
    other = regisseur(ctx, "crabbehof", user="chris")
    sent = _refer(fhir, ctx, practice_id, bram).json()["id"]
    assert fhir.get(f"/api/v1/referrals/poh/{sent}", headers=other).status_code == 404
