"""The FHIR R4 endpoint: a referral as a transaction Bundle (JSON and XML), Task read/search."""

from __future__ import annotations

import json

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.task import Task
from sqlalchemy import func, select

from hub.core.models import Message
from plugins.huisarts.models import ReferralTask
from tests.plugins.huisarts.fhirdata import FHIR_JSON, FHIR_XML, referral


def post(fhir, headers, body, *, xml=False, path="/fhir/r4"):
    if xml:
        raw = Bundle.model_validate(body).model_dump_xml() if body["resourceType"] == "Bundle" \
            else Task.model_validate(body).model_dump_xml()
        return fhir.post(path, content=raw, headers={**headers, "content-type": FHIR_XML})
    return fhir.post(path, content=json.dumps(body),
                     headers={**headers, "content-type": FHIR_JSON})


def test_metadata_is_an_r4_capability_statement_naming_task_and_its_searches(fhir):
    r = fhir.get("/fhir/r4/metadata")
    assert r.status_code == 200 and r.headers["content-type"].startswith(FHIR_JSON)
    cs = CapabilityStatement.model_validate(r.json())
    assert cs.fhirVersion == "4.0.1"
    (task,) = cs.rest[0].resource
    assert task.type == "Task"
    assert {i.code for i in task.interaction} == {"read", "search-type", "create"}
    assert {p.name for p in task.searchParam} >= {"status", "owner", "requester",
                                                   "_lastUpdated"}
    assert [i.code for i in cs.rest[0].interaction] == ["transaction"]
    xml = fhir.get("/fhir/r4/metadata", headers={"accept": FHIR_XML})
    assert xml.headers["content-type"].startswith(FHIR_XML)
    assert CapabilityStatement.model_validate_xml(xml.content).fhirVersion == "4.0.1"


def test_the_openapi_document_lists_the_same_task_searches_as_the_capability_statement(fhir):
    cs = CapabilityStatement.model_validate(fhir.get("/fhir/r4/metadata").json())
    searches = {p.name for p in cs.rest[0].resource[0].searchParam}
    operation = fhir.get("/openapi.json").json()["paths"]["/fhir/r4/Task"]["get"]
    documented = {p["name"]: p for p in operation["parameters"]}
    # What an integrator reads (and the API fuzz sends) is what the endpoint supports.
    assert set(documented) == searches | {"_count", "_format"}
    assert documented["_lastUpdated"]["schema"]["type"] == "array"  # repeat for a range
    assert documented["_count"]["schema"]["maximum"] == 100


def test_a_referral_is_stored_once_as_a_medical_message_with_a_task(ctx, fhir, practice,
                                                                    patient_resident):
    _, key = practice
    r = post(fhir, key, referral())
    assert r.status_code == 200, r.text
    answer = Bundle.model_validate(r.json())
    assert answer.type == "transaction-response"
    task_entry = answer.entry[2].response
    assert task_entry.status == "201 Created"
    task_id = task_entry.location.split("/")[1]
    again = post(fhir, key, referral())
    assert again.json()["entry"][2]["response"]["status"] == "200 OK"
    assert again.json()["entry"][2]["response"]["location"] == task_entry.location
    with ctx.sessions() as session:
        (message,) = session.scalars(select(Message)).all()
        assert (message.type, message.category) == ("referral.gp", "medisch")
        assert message.subject == ctx.pseudonyms.subject(patient_resident.bsn)
        assert session.scalar(select(func.count()).select_from(ReferralTask)) == 1
        payload = ctx.cipher.open(message.payload_sealed, context=f"message:{message.id}")
    data = payload["data"]
    assert data["urgency"] == "urgent"
    assert data["reason"] == "Zorgen over schulden en eenzaamheid"
    assert data["requester"]["practitioner"]["big"] == "21870932"
    assert data["requester"]["organization"]["ura"] == "06020806"
    got = fhir.get(f"/fhir/r4/Task/{task_id}", headers=key)
    assert got.status_code == 200
    task = Task.model_validate(got.json())
    assert (task.status, task.intent) == ("requested", "order")
    assert task.identifier[0].value == "TASK-1"
    assert patient_resident.bsn not in got.text


def test_a_referral_in_xml_is_answered_in_xml(ctx, fhir, practice, patient_resident):
    _, key = practice
    r = post(fhir, key, referral(), xml=True)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(FHIR_XML)
    answer = Bundle.model_validate_xml(r.content)
    assert answer.entry[2].response.status == "201 Created"
