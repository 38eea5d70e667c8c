"""Referral Bundles built from the conformance examples (copied into ./conformance)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole

CONFORMANCE = Path(__file__).parent / "conformance"
BSN_SYSTEM = "http://fhir.nl/fhir/NamingSystem/bsn"
# The BSN of the nl-core Patient example (nl-core-Patient-01.xml).
NL_CORE_BSN = "111222333"
FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"


def example(name: str) -> dict[str, Any]:
    """A conformance example as FHIR JSON (XML ones read with fhir.resources)."""
    raw = (CONFORMANCE / name).read_bytes()
    if name.endswith(".json"):
        return json.loads(raw)
    cls = {"Patient": Patient, "Practitioner": Practitioner,
           "PractitionerRole": PractitionerRole, "Organization": Organization}
    for kind, model in cls.items():
        if f"<{kind} " in raw.decode() or f"<{kind}>" in raw.decode():
            return model.model_validate_xml(raw).model_dump(mode="json")
    raise AssertionError(name)


def patient(bsn: str | None = NL_CORE_BSN) -> dict[str, Any]:
    """The nl-core Patient example, its BSN replaced by ``bsn`` (None: removed)."""
    resource = example("nl-core-Patient-01.xml")
    others = [i for i in resource.get("identifier", []) if i.get("system") != BSN_SYSTEM]
    resource["identifier"] = others + ([{"system": BSN_SYSTEM, "value": bsn}] if bsn else [])
    if not resource["identifier"]:
        del resource["identifier"]
    return resource


def referral(bsn: str | None = NL_CORE_BSN, *, ident: str = "TASK-1",
             reason: str = "Zorgen over schulden en eenzaamheid", priority: str = "urgent",
             with_practice: bool = True) -> dict[str, Any]:
    """A transaction Bundle: the nl-core Patient, a ServiceRequest, a Task, and who referred."""
    entries: list[dict[str, Any]] = [
        {"fullUrl": "urn:uuid:patient-1", "resource": patient(bsn),
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:sr-1", "resource": {
            "resourceType": "ServiceRequest", "status": "active", "intent": "order",
            "priority": priority,
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.2.4.6.1", "value": ident}],
            "subject": {"reference": "urn:uuid:patient-1"},
            "requester": {"reference": "urn:uuid:practitioner-1"},
            "authoredOn": "2026-11-22T10:00:00+01:00",
            "reasonCode": [{"text": reason, "coding": [
                {"system": "http://hl7.org/fhir/sid/icpc-2", "code": "Z01",
                 "display": "Armoede/financiële problemen"}]}],
            "note": [{"text": "Graag contact met de POH."}]},
         "request": {"method": "POST", "url": "ServiceRequest"}},
        {"fullUrl": "urn:uuid:task-1", "resource": {
            "resourceType": "Task", "status": "requested", "intent": "order",
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.2.4.6.1", "value": ident}],
            "focus": {"reference": "urn:uuid:sr-1"}, "for": {"reference": "urn:uuid:patient-1"},
            "requester": {"reference": "urn:uuid:practitioner-1"},
            "owner": {"reference": "Organization/wijkteam"},
            "authoredOn": "2026-11-22T10:00:00+01:00"},
         "request": {"method": "POST", "url": "Task"}},
    ]
    if with_practice:
        entries += [
            {"fullUrl": "urn:uuid:practitioner-1",
             "resource": example("nl-core-HealthProfessional-Practitioner-01.xml"),
             "request": {"method": "POST", "url": "Practitioner"}},
            {"fullUrl": "urn:uuid:role-1",
             "resource": example("nl-core-HealthProfessional-PractitionerRole-01.xml"),
             "request": {"method": "POST", "url": "PractitionerRole"}},
            {"fullUrl": "urn:uuid:org-1",
             "resource": example("nl-core-HealthcareProvider-Organization-01.xml"),
             "request": {"method": "POST", "url": "Organization"}},
        ]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def entry(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    """The resource of the first entry of ``kind`` (to edit in a test)."""
    return next(e["resource"] for e in bundle["entry"]
                if e["resource"]["resourceType"] == kind)


def edited(bundle: dict[str, Any]) -> dict[str, Any]:
    """A deep copy to change."""
    return copy.deepcopy(bundle)
