"""Task as a resource: a referral POSTed as one Task, read, and searched by a polling GP."""

from __future__ import annotations

import json

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.task import Task

from plugins.huisarts import tasks
from plugins.huisarts.models import ReferralTask
from tests.plugins.huisarts.fhirdata import FHIR_JSON, FHIR_XML, entry, referral
from tests.utils.builders import partner


def contained_task(ident="TASK-C1"):
    """The referral as one Task with its Patient and ServiceRequest contained."""
    bundle = referral(ident=ident, with_practice=False)
    patient, sr, task = (entry(bundle, k) for k in ("Patient", "ServiceRequest", "Task"))
    patient["id"], sr["id"] = "p", "sr"
    sr["subject"] = {"reference": "#p"}
    sr["requester"] = {"identifier": {"system": "http://fhir.nl/fhir/NamingSystem/big",
                                      "value": "21870932"}, "display": "dr. Lu"}
    task.update(contained=[patient, sr], focus={"reference": "#sr"}, **{"for": {
        "reference": "#p"}})
    task.pop("requester")
    return task


def send(fhir, key, body):
    return fhir.post("/fhir/r4", content=json.dumps(body),
                     headers={**key, "content-type": FHIR_JSON})


def test_a_referral_as_one_task_with_contained_resources(ctx, fhir, practice,
                                                         patient_resident):
    _, key = practice
    r = fhir.post("/fhir/r4/Task", content=json.dumps(contained_task()),
                  headers={**key, "content-type": FHIR_JSON})
    assert r.status_code == 201, r.text
    task = Task.model_validate(r.json())
    assert r.headers["location"] == f"/fhir/r4/Task/{task.id}/_history/1"
    assert task.requester.identifier.value == "21870932"
    again = fhir.post("/fhir/r4/Task", content=json.dumps(contained_task()),
                      headers={**key, "content-type": FHIR_JSON})
    assert again.status_code == 200 and again.json()["id"] == task.id
    broken = contained_task("TASK-C2")
    broken["focus"] = {"reference": "#elsewhere"}
    bad = fhir.post("/fhir/r4/Task", content=json.dumps(broken),
                    headers={**key, "content-type": FHIR_JSON})
    assert bad.status_code == 422
    assert bad.json()["issue"][0]["expression"] == ["Task.focus"]
    no_bsn = contained_task("TASK-C3")
    no_bsn["contained"][0]["identifier"][0]["value"] = "111222334"
    bad = fhir.post("/fhir/r4/Task", content=json.dumps(no_bsn),
                    headers={**key, "content-type": FHIR_JSON})
    assert bad.json()["issue"][0]["expression"] == ["Task.contained[0].identifier[0].value"]


def _ids(response):
    bundle = Bundle.model_validate(response.json())
    assert bundle.type == "searchset"
    return {e.resource.id for e in bundle.entry or []}


def test_a_practice_polls_its_own_tasks_by_status_owner_requester_and_last_update(
        ctx, fhir, practice, patient_resident, clock):
    _, key = practice
    first = send(fhir, key, referral(ident="T-1")).json()["entry"][2]["response"]["location"]
    clock.advance(hours=1)
    second = send(fhir, key, referral(ident="T-2")).json()["entry"][2]["response"]["location"]
    first_id, second_id = first.split("/")[1], second.split("/")[1]
    clock.advance(hours=1)
    with ctx.sessions() as session, session.begin():
        assert tasks.move(task=session.get(ReferralTask, first_id), status="received",
                          now=clock()) is not None
    mark = clock().isoformat().replace("+00:00", "Z")

    def search(query):
        r = fhir.get(f"/fhir/r4/Task?{query}", headers=key)
        assert r.status_code == 200, r.text
        return _ids(r)

    assert search("") == {first_id, second_id}
    assert search("status=received") == {first_id}
    assert search("status=requested,received") == {first_id, second_id}
    assert search("owner=Organization/wijkteam") == {first_id, second_id}
    assert search("owner=Organization/elsewhere") == set()
    assert search("requester=urn:uuid:practitioner-1") == {first_id, second_id}
    assert search(f"_lastUpdated=ge{mark}") == {first_id}
    assert search(f"_lastUpdated=lt{mark}&status=requested") == {second_id}
    assert search("_count=1") in ({first_id}, {second_id})
    xml = fhir.get("/fhir/r4/Task?status=received", headers={**key, "accept": FHIR_XML})
    assert {e.resource.id for e in Bundle.model_validate_xml(xml.content).entry} == {first_id}


def test_another_practice_sees_nothing_of_mine(ctx, fhir, practice, patient_resident):
    _, key = practice
    location = send(fhir, key, referral()).json()["entry"][2]["response"]["location"]
    _, other = partner(ctx, name="Praktijk Wielwijk", kind="huisarts")
    assert fhir.get(f"/fhir/r4/{location.rsplit('/_history', 1)[0]}",
                    headers=other).status_code == 404
    assert _ids(fhir.get("/fhir/r4/Task", headers=other)) == set()
    assert fhir.get("/fhir/r4/Task/nope", headers=key).status_code == 404


def test_unsupported_search_parameters_are_refused_by_name(ctx, fhir, practice):
    _, key = practice
    for query, name in (("subject=Patient/1", "subject"), ("status=bogus", "status"),
                        ("_lastUpdated=yesterday", "_lastUpdated"),
                        ("_lastUpdated=2026-11-23", "_lastUpdated"), ("_count=0", "_count"),
                        ("_count=x", "_count"),
                        # Dates whose offset carries them past year 9999 or before year 1.
                        ("_lastUpdated=gt9999-12-31T23:59:59-14:00", "_lastUpdated"),
                        ("_lastUpdated=lt0001-01-01T00:00:00%2B01:00", "_lastUpdated")):
        r = fhir.get(f"/fhir/r4/Task?{query}", headers=key)
        assert r.status_code == 422, (query, r.text)
        assert r.json()["resourceType"] == "OperationOutcome"
        assert r.json()["issue"][0]["expression"] == [name]


def test_a_task_in_xml_is_answered_in_xml_or_as_asked(ctx, fhir, practice, patient_resident):
    _, key = practice
    raw = Task.model_validate(contained_task("TASK-X")).model_dump_xml()
    r = fhir.post("/fhir/r4/Task", content=raw, headers={**key, "content-type": FHIR_XML})
    assert r.status_code == 201, r.text
    assert Task.model_validate_xml(r.content).status == "requested"
    as_json = fhir.get(f"/fhir/r4/Task/{Task.model_validate_xml(r.content).id}?_format=json",
                       headers={**key, "accept": FHIR_XML})
    assert as_json.headers["content-type"].startswith(FHIR_JSON)


def test_the_gps_task_identifier_is_answered_but_never_stored_in_clear(ctx, fhir, practice,
                                                                       patient_resident):
    # Issue 13, item 10: the Task identifier is the message's source_ref, and may be
    # anything the practice chose (here a BSN-looking number).
    from sqlalchemy import inspect, text

    _, key = practice
    ident = "999990019"
    r = fhir.post("/fhir/r4/Task", content=json.dumps(contained_task(ident)),
                  headers={**key, "content-type": FHIR_JSON})
    assert r.status_code == 201, r.text
    task_id = r.json()["id"]
    assert ident in [i["value"] for i in r.json()["identifier"]]
    read = fhir.get(f"/fhir/r4/Task/{task_id}", headers=key)
    assert ident in [i["value"] for i in read.json()["identifier"]]
    found = fhir.get("/fhir/r4/Task", params={"_id": task_id}, headers=key).json()
    assert ident in [i["value"] for i in found["entry"][0]["resource"]["identifier"]]
    with ctx.engine.connect() as conn:
        for table in inspect(ctx.engine).get_table_names():
            for row in conn.execute(text(f'select * from "{table}"')):
                assert ident not in " ".join(str(v) for v in row), table
