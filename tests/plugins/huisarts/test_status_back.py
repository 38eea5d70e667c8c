"""Status back: each step of the GP's Task reaches the practice's FHIR server (respx),
idempotently, with the closing summary only where the resident's consent covers it."""

from __future__ import annotations

import json

import httpx
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from hub.core.models import OutboundMessageRow
from tests.plugins.huisarts.conftest import PRACTICE_FHIR
from tests.plugins.huisarts.fhirdata import FHIR_JSON, referral
from tests.utils.builders import regisseur, resident

FEEDBACK = {"source_kinds": ["huisarts"], "categories": ["medisch"],
            "purpose": "Terugkoppeling aan mijn huisarts over de verwijzing"}


def _sent(server):
    """Every transaction the practice's server received: (headers, Bundle)."""
    return [(call.request.headers, Bundle.model_validate(json.loads(call.request.content)))
            for call in server.routes["transaction"].calls]


def _task_of(bundle):
    return bundle.entry[0].resource


def _refer_and_consent(fhir, ctx, worker, key, who):
    r = fhir.post("/fhir/r4", content=json.dumps(referral()),
                  headers={**key, "content-type": FHIR_JSON})
    assert r.status_code == 200
    worker.drain()
    me = resident(ctx, who)
    [request] = fhir.get("/api/v1/me/requests", headers=me).json()
    fhir.post(f"/api/v1/me/requests/{request['id']}/approve", headers=me)
    worker.drain()
    anna = regisseur(ctx)
    [item] = fhir.get("/api/v1/inbox", headers=anna).json()["items"]
    return me, anna, item["id"]


def test_every_step_reaches_the_practice_and_the_summary_stays_without_consent(
        ctx, fhir, worker, practice, practice_server, patient_resident):
    _, key = practice
    _, anna, item_id = _refer_and_consent(fhir, ctx, worker, key, patient_resident)
    fhir.post(f"/api/v1/inbox/{item_id}/take-up", headers=anna)
    fhir.post(f"/api/v1/inbox/{item_id}/close", headers=anna,
              json={"summary": "Budgetcoach gestart, contact met de POH gelegd."})
    worker.drain()
    sent = _sent(practice_server)
    # held -> received (approving and delivering keep it received: nothing new to tell)
    assert [_task_of(b).status for _, b in sent] == ["received", "in-progress", "completed"]
    for headers, bundle in sent:
        assert bundle.type == "transaction"
        assert bundle.entry[0].request.method == "PUT"
        # The practice's own Task, found by the identifier it gave it.
        assert bundle.entry[0].request.url == \
            "Task?identifier=urn%3Aoid%3A2.16.840.1.113883.2.4.6.1%7CTASK-1"
        assert headers["content-type"] == FHIR_JSON
        assert headers["idempotency-key"]
    assert [_task_of(b).meta for _, b in sent] == [None, None, None]  # no versionId to clash
    completed = sent[-1][1]
    assert len(completed.entry) == 1  # no Communication: no terugkoppeling consent
    assert "Budgetcoach" not in json.dumps([json.loads(c.request.content)
                                            for c in practice_server.calls])
    assert patient_resident.bsn not in str([c.request.content for c in practice_server.calls])


def test_with_a_terugkoppeling_consent_the_summary_goes_back_as_a_communication(
        ctx, fhir, worker, practice, practice_server, patient_resident):
    _, key = practice
    me, anna, item_id = _refer_and_consent(fhir, ctx, worker, key, patient_resident)
    assert fhir.post("/api/v1/me/consents", json=FEEDBACK, headers=me).status_code == 201
    fhir.post(f"/api/v1/inbox/{item_id}/take-up", headers=anna)
    fhir.post(f"/api/v1/inbox/{item_id}/close", headers=anna,
              json={"summary": "Budgetcoach gestart."})
    worker.drain()
    _, completed = _sent(practice_server)[-1]
    task, communication = (e.resource for e in completed.entry)
    assert task.status == "completed"
    assert communication.get_resource_type() == "Communication"
    assert communication.payload[0].contentString == "Budgetcoach gestart."
    assert communication.subject is None
    assert completed.entry[1].request.url.startswith("Communication?identifier=")


def test_a_resident_who_says_no_and_a_close_without_take_up_reject_the_task(
        ctx, fhir, worker, practice, practice_server, patient_resident):
    _, key = practice
    fhir.post("/fhir/r4", content=json.dumps(referral(ident="T-no")),
              headers={**key, "content-type": FHIR_JSON})
    worker.drain()
    me = resident(ctx, patient_resident)
    [request] = fhir.get("/api/v1/me/requests", headers=me).json()
    fhir.post(f"/api/v1/me/requests/{request['id']}/deny", headers=me)
    worker.drain()
    rejected = _task_of(_sent(practice_server)[-1][1])
    assert rejected.status == "rejected"
    assert "geen toestemming" in rejected.statusReason.text

    assert fhir.post("/api/v1/me/consents", json={**FEEDBACK, "purpose": "Hulp"},
                     headers=me).status_code == 201
    fhir.post("/fhir/r4", content=json.dumps(referral(ident="T-later")),
              headers={**key, "content-type": FHIR_JSON})
    worker.drain()
    anna = regisseur(ctx)
    [item] = fhir.get("/api/v1/inbox", headers=anna).json()["items"]
    fhir.post(f"/api/v1/inbox/{item['id']}/close", headers=anna)
    worker.drain()
    last = _task_of(_sent(practice_server)[-1][1])
    assert (last.status, last.statusReason.text) == ("rejected",
                                                     "Het wijkteam heeft de verwijzing niet "
                                                     "opgepakt.")


def test_a_practice_server_that_fails_is_retried_with_the_same_idempotency_key(
        ctx, fhir, worker, clock, practice, practice_server, patient_resident):
    _, key = practice
    practice_server.routes["transaction"].side_effect = [
        httpx.Response(503), httpx.ConnectTimeout("slow"),
        httpx.Response(200, json={"resourceType": "Bundle", "type": "transaction-response",
                                  "entry": [{"response": {"status": "200 OK",
                                                          "location": "Task/77/_history/3"}}]})]
    fhir.post("/fhir/r4", content=json.dumps(referral()),
              headers={**key, "content-type": FHIR_JSON})
    worker.drain()
    for _ in range(2):
        clock.advance(minutes=5)
        worker.drain()
    calls = practice_server.routes["transaction"].calls
    assert len(calls) == 3
    assert len({c.request.headers["idempotency-key"] for c in calls}) == 1
    with ctx.sessions() as session:
        row = session.scalars(select(OutboundMessageRow)).one()
        assert (row.type, row.status, row.receipt) == ("referral.status", "delivered",
                                                       "Task/77/_history/3")
    assert str(calls[0].request.url) == PRACTICE_FHIR
