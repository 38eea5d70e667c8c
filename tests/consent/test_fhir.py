"""FHIR R4 Consent: export, import, the round trip, and the conformance examples."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fhir.resources.R4B.consent import Consent

from consent import fhir
from consent.model import CATEGORIES
from consent.records import GrantRecord, GrantStatus
from tests.consent.factories import T0

# ../shared/conformance beside the checkout (as in CI), as the issue names it.
# A copy of the shared folder's Consents travels with the tests (see its SOURCE.md);
# the shared folder itself is read too when it sits beside the checkout.
VENDORED = Path(__file__).resolve().parent / "conformance"
CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "conformance"
BSN = (fhir.BSN_SYSTEM, "111222333")


def _record(**overrides) -> GrantRecord:
    values = {
        "id": "0d6f2c1e-aaaa-4bbb-8ccc-123456789abc", "subject": "p-1",
        "recipient": "wijkteam", "source_kinds": frozenset({"woningcorporatie"}),
        "source_partners": frozenset({"partner-1"}),
        "categories": frozenset({"financieel", "wonen"}), "purpose": "hulp bij schulden",
        "valid_from": T0, "valid_until": T0 + timedelta(days=30), "granted_at": T0,
        "revoked_at": None, "status": GrantStatus.ACTIVE,
        "provenance": {"method": "paper", "form_ref": "WIP-2026-17", "recorded_by": "anna"},
        "request_id": None}
    values.update(overrides)
    return GrantRecord(**values)


def _export(record: GrantRecord | None = None, patient=BSN) -> dict:
    ctx = fhir.ExportContext(patient=patient, partner_names={"partner-1": "Woonbron"})
    return json.loads(fhir.to_fhir_json(record or _record(), ctx))


def _import(data: dict, now: datetime = T0) -> fhir.ImportedConsent:
    return fhir.from_fhir(fhir.parse_consent(data), now=now)


def _refusal(data, now: datetime = T0) -> dict[str, str]:
    with pytest.raises(fhir.FhirRefused) as info:
        _import(data, now)
    return {i.expression: i.code for i in info.value.issues}


# --- the conformance examples -------------------------------------------------------------


def _conformance_consents() -> list[Path]:
    """Every Consent in the folder, found as the issue says (grep for the resource type)."""
    marker = {".json": re.compile(r'"resourceType": *"Consent"'), ".xml": re.compile("<Consent")}
    found = []
    for folder in (VENDORED, CONFORMANCE):
        for path in sorted(folder.rglob("*")) if folder.exists() else []:
            pattern = marker.get(path.suffix)
            if pattern is not None and pattern.search(path.read_text(errors="replace")):
                found.append(path)
    return found


def test_the_conformance_folder_has_json_and_xml_consents():
    found = [p for p in _conformance_consents() if p.is_relative_to(VENDORED)]
    assert {p.suffix for p in found} == {".json", ".xml"}


@pytest.mark.parametrize("path", _conformance_consents(),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_conformance_consent_parses_as_r4(path: Path):
    if path.suffix == ".json":
        consent = Consent.model_validate_json(path.read_bytes())
    else:  # needs lxml (a test dependency)
        consent = Consent.model_validate_xml(path.read_bytes())
    assert consent.status == "active"
    assert consent.scope.coding[0].system == fhir.CONSENT_SCOPE
    # Parsed, they are refused for what the hub cannot honour, never with a crash.
    with pytest.raises(fhir.FhirRefused) as info:
        fhir.from_fhir(consent, now=T0)
    assert "Consent.patient.identifier" in {i.expression for i in info.value.issues}


# --- export -------------------------------------------------------------------------------


def test_export_is_an_r4_privacy_consent_with_a_permit():
    out = _export()
    assert Consent.model_validate(out).status == "active"
    assert out["scope"]["coding"][0]["code"] == "patient-privacy"
    assert out["category"][0]["coding"][0] == {"system": fhir.LOINC, "code": "59284-0",
                                               "display": "Patient Consent"}
    assert out["patient"]["identifier"] == {"system": fhir.BSN_SYSTEM, "value": "111222333"}
    assert out["dateTime"] == "2026-03-03T09:00:00Z"
    assert out["policyRule"]["coding"][0]["code"] == "OPTIN"
    provision = out["provision"]
    assert provision["type"] == "permit"
    assert provision["period"] == {"start": "2026-03-03T09:00:00Z",
                                   "end": "2026-04-02T09:00:00Z"}
    assert [c["code"] for c in provision["class"]] == ["financieel", "wonen"]
    assert provision["purpose"][0]["code"] == "COC"
    roles = [(a["role"]["coding"][0]["code"], a["reference"]["identifier"]["value"])
             for a in provision["actor"]]
    assert roles == [("IRCP", "wijkteam"), ("CST", "partner-1"), ("CST", "woningcorporatie")]
    assert provision["actor"][1]["reference"]["display"] == "Woonbron"


def test_export_carries_the_paper_provenance():
    out = _export()
    assert out["sourceReference"]["identifier"] == {"system": fhir.FORM_SYSTEM,
                                                    "value": "WIP-2026-17"}
    (ext,) = [e for e in out["extension"] if e["url"] == fhir.PROVENANCE_URL]
    parts = {p["url"]: p for p in ext["extension"]}
    assert parts["method"]["valueCode"] == "paper"
    assert parts["formRef"]["valueString"] == "WIP-2026-17"
    assert parts["recordedBy"]["valueIdentifier"] == {"system": fhir.STAFF_SYSTEM,
                                                      "value": "anna"}


def test_portal_consent_has_no_source_reference():
    out = _export(_record(provenance={"method": "portal"}))
    assert "sourceReference" not in out


def test_revoked_and_refused_consents_are_not_active():
    revoked = _export(_record(status=GrantStatus.REVOKED, revoked_at=T0 + timedelta(days=2)))
    assert revoked["status"] == "inactive"
    assert revoked["provision"]["period"]["end"] == "2026-03-05T09:00:00Z"
    refused = _export(_record(status=GrantStatus.REFUSED, valid_until=T0))
    assert refused["status"] == "rejected"


def test_every_category_and_status_has_a_fhir_form():
    assert set(fhir.CATEGORY_DISPLAY) == CATEGORIES
    assert set(fhir.STATUS_TO_FHIR) == set(GrantStatus)


# --- round trip ---------------------------------------------------------------------------


@pytest.mark.parametrize("overrides", [
    {},
    {"valid_until": None},
    {"source_kinds": frozenset()},
    {"source_partners": frozenset(), "categories": frozenset(CATEGORIES)},
])
def test_round_trip_export_parse_import_gives_the_same_grant(overrides):
    record = _record(**overrides)
    text = fhir.to_fhir_json(record, fhir.ExportContext(patient=BSN))
    imported = fhir.from_fhir(Consent.model_validate_json(text), now=T0)
    assert imported.patient_identifiers == (BSN,)
    assert (imported.recipient, imported.source_kinds, imported.source_partners,
            imported.categories, imported.purpose, imported.valid_until) == (
        record.recipient, record.source_kinds, record.source_partners, record.categories,
        record.purpose, record.valid_until)
    assert imported.source_id == record.id


# --- import refusals ----------------------------------------------------------------------


def test_deny_is_refused():
    data = _export()
    data["provision"]["type"] = "deny"
    assert _refusal(data) == {"Consent.provision.type": "not-supported"}


def test_unknown_category_is_refused_with_its_index():
    data = _export()
    data["provision"]["class"].append({"system": fhir.CATEGORY_SYSTEM, "code": "hobby"})
    assert _refusal(data) == {"Consent.provision.class[2]": "code-invalid"}
    data["provision"]["class"] = [{"system": "http://loinc.org", "code": "wonen"}]
    assert _refusal(data) == {"Consent.provision.class[0]": "code-invalid"}


def test_missing_parts_are_all_named_at_once():
    data = _export()
    del data["patient"]
    del data["provision"]["class"]
    del data["provision"]["purpose"]
    data["provision"]["actor"] = data["provision"]["actor"][1:]
    assert _refusal(data) == {
        "Consent.patient.identifier": "required", "Consent.provision.class": "required",
        "Consent.provision.purpose": "required", "Consent.provision.actor": "required"}


@pytest.mark.parametrize(("change", "path"), [
    (lambda d: d.update(status="proposed"), "Consent.status"),
    (lambda d: d["scope"]["coding"][0].update(code="treatment"), "Consent.scope"),
    (lambda d: d["provision"].update(provision=[{"type": "deny"}]), "Consent.provision.provision"),
    (lambda d: d["provision"].update(securityLabel=[{"code": "R"}]),
     "Consent.provision.securityLabel"),
    (lambda d: d["provision"].update(dataPeriod={"start": "2020-01-01"}),
     "Consent.provision.dataPeriod"),
    (lambda d: d["provision"]["actor"][0]["reference"]["identifier"].update(value="gemeente"),
     "Consent.provision.actor[0].reference.identifier"),
    (lambda d: d["provision"]["actor"][1]["role"]["coding"][0].update(code="AUT"),
     "Consent.provision.actor[1].role"),
    (lambda d: d["provision"]["action"][0]["coding"][0].update(code="access"),
     "Consent.provision.action"),
    (lambda d: d["provision"]["purpose"][0].update(code="HRESCH"), "Consent.provision.purpose"),
    (lambda d: d.update(modifierExtension=[{"url": "http://x.org/m", "valueBoolean": True}]),
     "Consent.modifierExtension"),
])
def test_what_the_hub_cannot_honour_is_refused(change, path):
    data = copy.deepcopy(_export())
    change(data)
    assert path in _refusal(data)


def test_period_must_be_current():
    data = _export()
    assert _refusal(data, now=T0 + timedelta(days=31)) == {
        "Consent.provision.period.end": "business-rule"}
    assert _refusal(data, now=T0 - timedelta(days=1)) == {
        "Consent.provision.period.start": "business-rule"}


def test_a_date_end_means_through_that_day_in_the_netherlands():
    data = _export()
    data["provision"]["period"] = {"start": "2026-03-01", "end": "2026-03-31"}
    imported = _import(data)
    # 1 April 00:00 in Amsterdam (summer time from 29 March) is 31 March 22:00 UTC.
    assert imported.valid_until == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)
    data["provision"]["period"] = {"end": "2026-12"}
    assert _import(data).valid_until == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)


def test_without_a_purpose_text_the_coded_purpose_is_stored_in_dutch():
    data = _export()
    del data["provision"]["extension"]
    assert _import(data).purpose == fhir.PURPOSES[(fhir.ACT_REASON, "COC")]


@pytest.mark.parametrize(("data", "path"), [
    ([], "Consent"),
    ({"resourceType": "Patient"}, "Consent.resourceType"),
    ({"resourceType": "Consent", "status": "active"}, "Consent.scope"),
])
def test_parse_refuses_what_is_not_a_consent(data, path):
    with pytest.raises(fhir.FhirRefused) as info:
        fhir.parse_consent(data)
    assert path in {i.expression for i in info.value.issues}


def test_validation_errors_name_the_element_path_without_the_value():
    data = _export()
    data["provision"]["period"]["start"] = "23-11-2026 secret"
    with pytest.raises(fhir.FhirRefused) as info:
        fhir.parse_consent(data)
    (issue,) = info.value.issues
    assert issue.expression == "Consent.provision.period.start"
    assert "secret" not in issue.diagnostics


def test_parse_json_refuses_nan_and_broken_json():
    for raw in (b"{", b'{"a": NaN}', b"\xff"):
        with pytest.raises(fhir.FhirRefused):
            fhir.parse_json(raw)


def test_operation_outcome_is_valid_r4():
    from fhir.resources.R4B.operationoutcome import OperationOutcome

    outcome = fhir.operation_outcome([fhir.Issue("Consent.status", "nope", "business-rule")])
    parsed = OperationOutcome.model_validate(outcome)
    assert parsed.issue[0].expression == ["Consent.status"]


def test_an_exported_refusal_is_not_importable():
    data = _export(replace(_record(), status=GrantStatus.REFUSED))
    assert "Consent.status" in _refusal(data)


@pytest.mark.parametrize("end", ["9999", "9999-12", "9999-12-31", "0001-01-01T00:00:00+14:00"])
def test_dates_at_the_edge_of_the_calendar_are_refused_not_crashed(end):
    data = _export()
    data["provision"]["period"] = {"end": end}
    refusal = _refusal(data)
    assert set(refusal) == {"Consent.provision.period.end"}


def test_a_year_or_month_start_is_its_first_day_in_the_netherlands():
    data = _export()
    data["provision"]["period"] = {"start": "2026-03"}
    assert _import(data, now=datetime(2026, 2, 28, 23, 30, tzinfo=UTC)).purpose
    assert "Consent.provision.period.start" in _refusal(
        data, now=datetime(2026, 2, 28, 22, 30, tzinfo=UTC))


def test_the_patient_may_be_a_contained_patient_with_a_bsn():
    data = _export()
    data["patient"] = {"reference": "#p"}
    data["contained"] = [{"resourceType": "Patient", "id": "p",
                          "identifier": [{"system": fhir.BSN_SYSTEM, "value": "111222333"}]}]
    assert _import(data).patient_identifiers == (BSN,)
    data["patient"] = {"reference": "#other"}
    assert "Consent.patient.identifier" in _refusal(data)
    data["patient"] = {"reference": "Patient/p"}  # not contained: the hub cannot follow it
    assert "Consent.patient.identifier" in _refusal(data)
