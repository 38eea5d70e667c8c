"""Hostile FHIR XML is refused before the expensive parse, and parsing never holds the event
loop that answers every other partner (issue 13, item 3)."""

from __future__ import annotations

import threading

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

import plugins.huisarts.api as fhir_api
from plugins.huisarts import fhirio
from tests.plugins.huisarts.fhirdata import FHIR_JSON, FHIR_XML, referral

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _xml(key: dict[str, str]) -> dict[str, str]:
    return {**key, "content-type": FHIR_XML, "accept": FHIR_JSON}


def _namespaces(count: int) -> bytes:
    """A Bundle declaring ``count`` namespaces (the review's body had 42,000 in 1 MB)."""
    declared = " ".join(f'xmlns:n{i}="urn:x:{i}"' for i in range(count))
    return (f'<Bundle xmlns="http://hl7.org/fhir" {declared}><type value="transaction"/>'
            f"</Bundle>").encode()


@pytest.fixture
def parsed(monkeypatch) -> list[str]:
    """Records every call of fhir.resources' XML reader (the expensive, quadratic step)."""
    calls: list[str] = []
    real = Bundle.model_validate_xml

    def spy(*args, **kwargs):
        calls.append("parsed")
        return real(*args, **kwargs)

    monkeypatch.setattr(Bundle, "model_validate_xml", spy)
    return calls


def _issue(r, status: int) -> dict:
    assert r.status_code == status, r.text
    outcome = OperationOutcome.model_validate_json(r.content).model_dump(mode="json")
    return outcome["issue"][0]


def test_many_namespaces_are_refused_before_the_parse_naming_the_cap(fhir, practice, parsed):
    _, key = practice
    body = _namespaces(3000)  # about 70 kB: under the body limit, far over the cap
    assert len(body) < fhir.app.state.hub.settings.max_fhir_bytes
    r = fhir.post("/fhir/r4", content=body, headers=_xml(key))
    issue = _issue(r, 413)
    assert issue["code"] == "too-costly"
    assert f"at most {fhirio.XML_CAPS['namespaces']} namespace" in issue["diagnostics"]
    assert parsed == []


@pytest.mark.parametrize(("xml", "cap"), [
    (b'<Bundle xmlns="http://hl7.org/fhir">' + b"<a>" * 60 + b"</a>" * 60 + b"</Bundle>",
     "levels of nesting"),
    (b'<Bundle xmlns="http://hl7.org/fhir">' + b"<type/>" * 20_000 + b"</Bundle>", "elements"),
    (b'<Bundle xmlns="http://hl7.org/fhir"><type ' + b" ".join(
        f'a{i}="1"'.encode() for i in range(40)) + b"/></Bundle>", "attributes"),
])
def test_deep_wide_or_attribute_heavy_xml_is_refused_before_the_parse(fhir, practice, parsed,
                                                                      xml, cap):
    _, key = practice
    r = fhir.post("/fhir/r4", content=xml, headers=_xml(key))
    assert cap in _issue(r, 413)["diagnostics"]
    assert parsed == []


def test_the_reviews_one_megabyte_bundle_meets_the_fhir_body_limit(fhir, practice, parsed):
    _, key = practice
    body = _namespaces(42_000)
    assert len(body) > 1_000_000
    r = fhir.post("/fhir/r4", content=body, headers=_xml(key))
    issue = _issue(r, 413)
    assert issue["diagnostics"] == f"must be at most {256 * 1024} bytes"
    assert parsed == []


def test_a_real_referral_in_xml_is_well_inside_the_caps(fhir, practice, patient_resident):
    _, key = practice
    raw = Bundle.model_validate(referral()).model_dump_xml()
    fhirio.scan_xml(raw, root="Bundle")  # raises when a cap is too tight
    r = fhir.post("/fhir/r4", content=raw, headers=_xml(key))
    assert r.status_code == 200, r.text  # the transaction-response Bundle


def test_reading_a_referral_does_not_hold_other_partners_requests(fhir, practice,
                                                                  monkeypatch):
    # The referral's reading is held until /healthz has answered: if reading ran on the
    # event loop, /healthz could not answer and the reading would give up waiting.
    _, key = practice
    healthz_answered = threading.Event()
    order: list[str] = []
    real = fhir_api.read_referral

    def slow_read(bundle):
        order.append("reading")
        order.append("healthz first" if healthz_answered.wait(timeout=20) else "timed out")
        return real(bundle)

    monkeypatch.setattr(fhir_api, "read_referral", slow_read)
    raw = Bundle.model_validate(referral()).model_dump_xml()
    answers: list[int] = []
    sender = threading.Thread(target=lambda: answers.append(fhir.post(
        "/fhir/r4", content=raw, headers=_xml(key)).status_code))
    sender.start()
    try:
        while not order:  # the referral is being read
            sender.join(timeout=0.01)
            assert sender.is_alive() or order, "the referral was not read"
        assert fhir.get("/healthz").status_code == 200
        healthz_answered.set()
    finally:
        healthz_answered.set()
        sender.join()
    assert order == ["reading", "healthz first"]
    assert answers and answers[0] in (200, 422)
