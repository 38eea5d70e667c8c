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
