"""Bad input to the FHIR endpoint: a 4xx OperationOutcome naming the FHIRPath, nothing stored."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import func, select

from hub.core.models import Message
from plugins.huisarts.models import ReferralTask
from tests.plugins.huisarts.fhirdata import FHIR_JSON, FHIR_XML, edited, entry, referral
from tests.utils.builders import partner

# Refusals store nothing on any database; one suffices to show it (the store tests run on both).
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Bundle xmlns="http://hl7.org/fhir"><type value="&lol9;"/></Bundle>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Bundle [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Bundle xmlns="http://hl7.org/fhir"><type value="&xxe;"/></Bundle>"""


def _bundle(change):
    body = edited(referral())
    change(body)
    return body


def _set(kind, key, value):
    def change(body):
        entry(body, kind)[key] = value
    return change


def _drop(kind, key):
    def change(body):
        entry(body, kind).pop(key)
    return change


def _bsn(value):
    def change(body):
        for ident in entry(body, "Patient")["identifier"]:
            if ident["system"].endswith("/bsn"):
                ident["value"] = value
    return change


def _no_bsn(body):
    patient = entry(body, "Patient")
    patient["identifier"] = [i for i in patient["identifier"]
                             if not i["system"].endswith("/bsn")]


def _unknown_type(body):
    body["entry"].append({"resource": {"resourceType": "Spaceship"},
                          "request": {"method": "POST", "url": "Spaceship"}})


# (what is wrong, the body, the status, the FHIRPath the OperationOutcome must name)
JSON_CASES = [
    ("wrong type", _bundle(_set("Task", "authoredOn", {"when": 1})), 422,
     "Bundle.entry[2].resource.authoredOn"),
    ("wrong type nested", _bundle(_set("ServiceRequest", "subject", {"reference": 5})), 422,
     "Bundle.entry[1].resource.subject.reference"),
    ("missing required intent", _bundle(_drop("Task", "intent")), 422,
     "Bundle.entry[2].resource.intent"),
    ("missing required status", _bundle(_drop("ServiceRequest", "status")), 422,
     "Bundle.entry[1].resource.status"),
    ("unknown resourceType", _bundle(_unknown_type), 400,
     "Bundle.entry[6].resource.resourceType"),
    ("bundle of the wrong type", _bundle(lambda b: b.update(type="collection")), 422,
     "Bundle.type"),
    ("not a Bundle", {"resourceType": "Patient"}, 400, "Bundle.resourceType"),
    ("patient without BSN", _bundle(_no_bsn), 422, "Bundle.entry[0].resource.identifier"),
    ("BSN failing the elfproef", _bundle(_bsn("111222334")), 422,
     "Bundle.entry[0].resource.identifier[0].value"),
    ("task not requested", _bundle(_set("Task", "status", "completed")), 422,
     "Bundle.entry[2].resource.status"),
    ("task owner not the wijkteam", _bundle(_set("Task", "owner", {"reference": "Organization/x"})),
     422, "Bundle.entry[2].resource.owner"),
    ("task without identifier", _bundle(_drop("Task", "identifier")), 422,
     "Bundle.entry[2].resource.identifier"),
    ("unknown priority", _bundle(_set("ServiceRequest", "priority", "whenever")), 422,
     "Bundle.entry[1].resource.priority"),
    ("no reason", _bundle(_drop("ServiceRequest", "reasonCode")), 422,
     "Bundle.entry[1].resource.reasonCode"),
    ("focus elsewhere", _bundle(_set("Task", "focus", {"reference": "urn:uuid:nope"})), 422,
     "Bundle.entry[2].resource.focus"),
    ("unknown element", _bundle(_set("Task", "flavour", "vanilla")), 422,
     "Bundle.entry[2].resource.flavour"),
    ("two tasks", _bundle(lambda b: b["entry"].append(edited(b["entry"][2]))), 422,
     "Bundle.entry"),
]


def _assert_refused(ctx, r, status, path):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(("application/fhir+json",
                                                 "application/fhir+xml"))
    body = (OperationOutcome.model_validate_xml(r.content)
            if r.headers["content-type"].startswith(FHIR_XML)
            else OperationOutcome.model_validate(r.json()))
    expressions = [e for issue in body.issue for e in issue.expression or []]
    assert path in expressions, expressions
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0
        assert session.scalar(select(func.count()).select_from(ReferralTask)) == 0
    return body


@pytest.mark.parametrize(("body", "status", "path"), [c[1:] for c in JSON_CASES],
                         ids=[c[0] for c in JSON_CASES])
def test_invalid_json_referrals_are_refused_naming_the_element(ctx, fhir, practice,
                                                               patient_resident, body, status,
                                                               path):
    _, key = practice
    r = fhir.post("/fhir/r4", content=json.dumps(body),
                  headers={**key, "content-type": FHIR_JSON})
    outcome = _assert_refused(ctx, r, status, path)
    # The BSN is never echoed back, nor any other value sent.
    assert "111222334" not in r.text and "Zorgen" not in r.text
    assert all(i.severity == "error" for i in outcome.issue)


XML_CASES = [
    ("not well formed", b"<Bundle xmlns='http://hl7.org/fhir'><type value='transaction'>", 400,
     "Bundle"),
    ("billion laughs", BILLION_LAUGHS, 400, "Bundle"),
    ("external entity", XXE, 400, "Bundle"),
    ("not the FHIR namespace", b"<Bundle><type value='transaction'/></Bundle>", 400, "Bundle"),
    ("unknown resource", b"<Spaceship xmlns='http://hl7.org/fhir'/>", 400,
     "Bundle.resourceType"),
    ("unknown element", b"<Bundle xmlns='http://hl7.org/fhir'><type value='transaction'/>"
     b"<flavour value='x'/></Bundle>", 400, "Bundle"),
    ("empty", b"", 400, "Bundle"),
    # Found by test_fuzz: junk inside the XML declaration made its encoding name unknown.
    ("unknown encoding", b"<?xml version='1.0' encoding='ut8f-8'?>"
     b"<Bundle xmlns='http://hl7.org/fhir'><type value='transaction'/></Bundle>", 400, "Bundle"),
    ("bundle of the wrong type", b"<Bundle xmlns='http://hl7.org/fhir'>"
     b"<type value='batch'/></Bundle>", 422, "Bundle.type"),
]


@pytest.mark.parametrize(("raw", "status", "path"), [c[1:] for c in XML_CASES],
                         ids=[c[0] for c in XML_CASES])
def test_bad_xml_is_refused_safely(ctx, fhir, practice, raw, status, path):
    _, key = practice
    r = fhir.post("/fhir/r4", content=raw, headers={**key, "content-type": FHIR_XML})
    _assert_refused(ctx, r, status, path)
    assert r.headers["content-type"].startswith(FHIR_XML)
    assert b"root:" not in r.content  # /etc/passwd was never read


def test_other_media_types_and_bad_json_are_refused(ctx, fhir, practice):
    _, key = practice
    r = fhir.post("/fhir/r4", content=b"type,entry", headers={**key, "content-type": "text/csv"})
    _assert_refused(ctx, r, 415, "content-type")
    r = fhir.post("/fhir/r4", content=b'{"resourceType": "Bundle", "x": NaN}',
                  headers={**key, "content-type": FHIR_JSON})
    _assert_refused(ctx, r, 400, "Bundle")
    r = fhir.post("/fhir/r4", content=b"[1, 2]", headers={**key, "content-type": FHIR_JSON})
    _assert_refused(ctx, r, 400, "Bundle")


def test_an_unknown_person_is_answered_as_a_known_one(ctx, fhir, practice, patient_resident):
    # Issue 13, item 12: the answer must not tell a GP whether a BSN lives in the wijken.
    from tests.utils.builders import person

    _, key = practice
    known = fhir.post("/fhir/r4", content=json.dumps(referral(ident="TASK-K")),
                      headers={**key, "content-type": FHIR_JSON})
    unknown = fhir.post("/fhir/r4", content=json.dumps(referral(person(77).bsn,
                                                                ident="TASK-U")),
                        headers={**key, "content-type": FHIR_JSON})
    assert known.status_code == unknown.status_code == 200, (known.text, unknown.text)

    def shape(r):
        return [(e["response"]["status"], e["response"].get("location", "").split("/")[0])
                for e in r.json()["entry"]]

    assert shape(known) == shape(unknown)
    for answer in (known, unknown):  # and each Task reads back alike
        location = next(e["response"]["location"] for e in answer.json()["entry"]
                        if e["response"].get("location", "").startswith("Task/"))
        task_id = location.split("/")[1]
        assert fhir.get(f"/fhir/r4/Task/{task_id}", headers=key).status_code == 200


def test_only_a_gp_practice_may_post_and_errors_are_operation_outcomes(ctx, fhir,
                                                                       patient_resident):
    _, corporation = partner(ctx)  # a housing corporation
    body = json.dumps(referral())
    r = fhir.post("/fhir/r4", content=body, headers={**corporation, "content-type": FHIR_JSON})
    _assert_refused(ctx, r, 403, "authorization")
    r = fhir.post("/fhir/r4", content=body, headers={"content-type": FHIR_JSON})
    _assert_refused(ctx, r, 401, "authorization")
    assert r.headers["www-authenticate"] == "Bearer"
    r = fhir.get("/fhir/r4/Task", headers={"Authorization": "Bearer whk_nope",
                                           "accept": FHIR_XML})
    _assert_refused(ctx, r, 401, "authorization")
