"""A GP's referral is medical: held until the resident consents, then in the regisseur's inbox."""

from __future__ import annotations

import json

from tests.plugins.huisarts.fhirdata import FHIR_JSON, referral
from tests.utils.builders import regisseur, resident


def test_a_referral_is_held_and_the_resident_is_asked_in_plain_dutch(ctx, fhir, worker,
                                                                     practice,
                                                                     patient_resident):
    _, key = practice
    r = fhir.post("/fhir/r4", content=json.dumps(referral()),
                  headers={**key, "content-type": FHIR_JSON})
    assert r.status_code == 200
    worker.drain()
    anna = regisseur(ctx)
    assert fhir.get("/api/v1/inbox", headers=anna).json()["total"] == 0
    me = resident(ctx, patient_resident)
    [request] = fhir.get("/api/v1/me/requests", headers=me).json()
    assert "verwijzing van de huisarts" in json.dumps(request, ensure_ascii=False)
    assert fhir.post(f"/api/v1/me/requests/{request['id']}/approve",
                     headers=me).status_code == 200
    worker.drain()
    [item] = fhir.get("/api/v1/inbox", headers=anna).json()["items"]
    assert item["type"] == "referral.gp" and item["basis"] == "consent"
    shown = fhir.get(f"/api/v1/inbox/{item['id']}", headers=anna).json()
    assert shown["summary"] == "Verwijzing van de huisarts (dringend)"
    assert shown["data"]["reason"] == "Zorgen over schulden en eenzaamheid"


def _refer(fhir, key, ident="TASK-1"):
    r = fhir.post("/fhir/r4", content=json.dumps(referral(ident=ident)),
                  headers={**key, "content-type": FHIR_JSON})
    assert r.status_code == 200, r.text
    return r.json()["entry"][2]["response"]["location"].split("/")[1]


def _task(fhir, key, task_id):
    r = fhir.get(f"/fhir/r4/Task/{task_id}", headers=key)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_gps_task_follows_consent_take_up_and_close(ctx, fhir, worker, practice,
                                                        patient_resident):
    _, key = practice
    task_id = _refer(fhir, key)
    assert _task(fhir, key, task_id)["status"] == "requested"
    worker.drain()
    held = _task(fhir, key, task_id)
    assert (held["status"], held["meta"]["versionId"]) == ("received", "2")
    me = resident(ctx, patient_resident)
    [request] = fhir.get("/api/v1/me/requests", headers=me).json()
    fhir.post(f"/api/v1/me/requests/{request['id']}/approve", headers=me)
    worker.drain()
    assert _task(fhir, key, task_id)["status"] == "received"
    anna = regisseur(ctx)
    [item] = fhir.get("/api/v1/inbox", headers=anna).json()["items"]
    assert fhir.post(f"/api/v1/inbox/{item['id']}/take-up", headers=anna).status_code == 200
    working = _task(fhir, key, task_id)
    assert (working["status"], working["meta"]["versionId"]) == ("in-progress", "4")
    fhir.post(f"/api/v1/inbox/{item['id']}/close", headers=anna)
    done = _task(fhir, key, task_id)
    assert (done["status"], done["meta"]["versionId"]) == ("completed", "5")
    assert "statusReason" not in done


def test_a_resident_who_says_no_rejects_the_task_with_a_reason(ctx, fhir, worker, practice,
                                                               patient_resident):
    _, key = practice
    task_id = _refer(fhir, key)
    worker.drain()
    me = resident(ctx, patient_resident)
    [request] = fhir.get("/api/v1/me/requests", headers=me).json()
    assert fhir.post(f"/api/v1/me/requests/{request['id']}/deny",
                     headers=me).status_code == 200
    task = _task(fhir, key, task_id)
    assert task["status"] == "rejected"
    assert "geen toestemming" in task["statusReason"]["text"]
    rejected = fhir.get("/fhir/r4/Task?status=rejected", headers=key).json()
    assert [e["resource"]["id"] for e in rejected["entry"]] == [task_id]
