"""The conformance examples a referral can carry (nl-core and HL7 R4) parse and are used.

Copied from the shared conformance set into ./conformance, so CI does not need it.
"""

from __future__ import annotations

import json

import pytest

from plugins.huisarts.fhirio import parse_body, validate_resource
from tests.plugins.huisarts.fhirdata import (
    CONFORMANCE,
    FHIR_JSON,
    edited,
    entry,
    example,
    referral,
)

EXAMPLES = sorted(p.name for p in CONFORMANCE.iterdir() if p.suffix in (".json", ".xml"))


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_copied_example_parses_through_the_hubs_own_reader(name):
    raw = (CONFORMANCE / name).read_bytes()
    data = parse_body(raw, "json" if name.endswith(".json") else "xml", root="Resource")
    resource = validate_resource(data, data["resourceType"])
    assert resource.get_resource_type() == data["resourceType"]


def _post(fhir, key, body):
    return fhir.post("/fhir/r4", content=json.dumps(body),
                     headers={**key, "content-type": FHIR_JSON})


def _data(ctx):
    from sqlalchemy import select

    from hub.core.models import Message
    with ctx.sessions() as session:
        message = session.scalars(select(Message)).one()
        return ctx.cipher.open(message.payload_sealed, context=f"message:{message.id}")["data"]


def test_the_nl_core_patient_practitioner_role_and_provider_are_read(ctx, fhir, practice,
                                                                     patient_resident):
    _, key = practice
    assert _post(fhir, key, referral()).status_code == 200
    requester = _data(ctx)["requester"]
    assert requester["practitioner"]["big"] == "21870932"      # nl-core Practitioner's BIG
    assert requester["practitioner"]["name"]
    assert requester["practitioner"]["role"]                    # nl-core PractitionerRole
    assert requester["organization"]["ura"] == "06020806"      # nl-core Organization's URA


def test_the_hl7_practitioner_role_and_organization_are_carried(ctx, fhir, practice,
                                                                patient_resident):
    _, key = practice
    body = referral(with_practice=False)
    for name, kind in (("practitioner-example.json", "Practitioner"),
                       ("practitionerrole-example.json", "PractitionerRole"),
                       ("organization-example.json", "Organization")):
        body["entry"].append({"fullUrl": f"urn:uuid:{kind}", "resource": example(name),
                              "request": {"method": "POST", "url": kind}})
    entry(body, "ServiceRequest")["requester"] = {"reference": "urn:uuid:Practitioner"}
    assert _post(fhir, key, body).status_code == 200
    requester = _data(ctx)["requester"]
    assert requester["reference"] == "urn:uuid:Practitioner"
    assert requester["practitioner"]["name"] == "Adam Careful"
    assert requester["organization"]["name"] == example("organization-example.json")["name"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", ["patient-example.json", "patient-example.xml"])
def test_the_hl7_patient_has_no_bsn_and_is_refused(ctx, fhir, practice, name):
    _, key = practice
    body = edited(referral())
    body["entry"][0]["resource"] = example(name) if name.endswith(".json") else \
        parse_body((CONFORMANCE / name).read_bytes(), "xml", root="Patient")
    r = _post(fhir, key, body)
    assert r.status_code == 422
    assert r.json()["issue"][0]["expression"] == ["Bundle.entry[0].resource.identifier"]
