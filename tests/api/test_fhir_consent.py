"""FHIR R4 Consent over HTTP: the resident's export and a GP system's import."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.operationoutcome import OperationOutcome
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent import fhir
from tests.utils.builders import Person, partner, person, regisseur, register, resident

FHIR_JSON = "application/fhir+json"


def _gp(ctx) -> tuple[str, dict[str, str]]:
    return partner(ctx, name="Huisartsenpraktijk Krispijn", kind="huisarts")


def _give(client, headers, **overrides) -> str:
    body = {"source_partners": [], "source_kinds": ["woningcorporatie"],
            "categories": ["wonen"], "purpose": "hulp bij woonoverlast",
            "valid_until": "2027-06-01T00:00:00+02:00"}
    body.update(overrides)
    r = client.post("/api/v1/me/consents", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _outcome(response, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == FHIR_JSON
    parsed = OperationOutcome.model_validate_json(response.content)
    return {(i.expression or [""])[0]: i.code for i in parsed.issue}


def _as_gp_sends_it(exported: dict, bsn: str) -> dict:
    data = copy.deepcopy(exported)
    data["patient"] = {"identifier": {"system": fhir.BSN_SYSTEM, "value": bsn}}
    data.pop("performer", None)
    return data


def _post(client, data, headers, content_type=FHIR_JSON):
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return client.post("/api/v1/fhir/Consent", content=raw,
                       headers={**headers, "content-type": content_type})


# --- export -------------------------------------------------------------------------------


def test_my_consent_as_fhir_names_me_by_pseudonym_never_by_bsn(ctx, client):
    anna = person(1)
    register(ctx, anna)
    woonbron_id, _ = partner(ctx)
    me = resident(ctx, anna)
    consent_id = _give(client, me, source_partners=[woonbron_id])
    r = client.get(f"/api/v1/me/consents/{consent_id}/fhir", headers=me)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == FHIR_JSON
    consent = Consent.model_validate_json(r.content)
    assert consent.id == consent_id
    assert consent.patient.identifier.system == fhir.SUBJECT_SYSTEM
    assert consent.patient.identifier.value == ctx.pseudonyms.subject(anna.bsn)
    assert anna.bsn not in r.text
    assert consent.provision.type == "permit"
    assert consent.provision.period.end.isoformat() == "2027-05-31T22:00:00+00:00"
    names = [a.reference.display for a in consent.provision.actor]
    assert names == ["Sociaal wijkteam", "Woonbron", None]


def test_a_paper_consent_exports_its_form_and_recorder(ctx, client):
    anna = person(1)
    register(ctx, anna)
    body = {"bsn": anna.bsn, "source_kinds": ["woningcorporatie"], "categories": ["wonen"],
            "purpose": "hulp", "provenance": {"method": "paper", "form_ref": "WIP-9"}}
    consent_id = client.post("/api/v1/consents", json=body,
                             headers=regisseur(ctx, user="bram")).json()["id"]
    out = client.get(f"/api/v1/me/consents/{consent_id}/fhir",
                     headers=resident(ctx, anna)).json()
    assert out["sourceReference"]["identifier"]["value"] == "WIP-9"
    parts = {p["url"]: p for p in out["extension"][0]["extension"]}
    assert parts["recordedBy"]["valueIdentifier"]["value"] == "bram"


def test_someone_elses_consent_is_not_found_as_operation_outcome(ctx, client):
    anna, bram = person(1), person(2)
    register(ctx, anna, bram)
    consent_id = _give(client, resident(ctx, anna))
    other = client.get(f"/api/v1/me/consents/{consent_id}/fhir", headers=resident(ctx, bram))
    missing = client.get("/api/v1/me/consents/nope/fhir", headers=resident(ctx, bram))
    assert _outcome(other, 404) == _outcome(missing, 404) == {"consent_id": "not-found"}


def test_export_needs_the_resident_and_answers_fhir_errors(ctx, client):
    anna = person(1)
    register(ctx, anna)
    consent_id = _give(client, resident(ctx, anna))
    path = f"/api/v1/me/consents/{consent_id}/fhir"
    assert _outcome(client.get(path), 401) == {"authorization": "login"}
    assert _outcome(client.get(path, headers=regisseur(ctx)), 403) == {"": "forbidden"}
    too_long = client.get(f"/api/v1/me/consents/{'x' * 65}/fhir", headers=resident(ctx, anna))
    assert _outcome(too_long, 422) == {"path.consent_id": "invalid"}


# --- import -------------------------------------------------------------------------------


def test_round_trip_export_parse_import_gives_the_same_grant(ctx, client):
    anna = person(1)
    register(ctx, anna)
    gp_id, gp = _gp(ctx)
    me = resident(ctx, anna)
    given_id = _give(client, me, source_kinds=[], source_partners=[gp_id],
                     categories=["medisch", "zorg"])
    exported = client.get(f"/api/v1/me/consents/{given_id}/fhir", headers=me).json()
    Consent.model_validate(exported)
    r = _post(client, _as_gp_sends_it(exported, anna.bsn), gp)
    assert r.status_code == 201, r.text
    assert r.headers["content-type"] == FHIR_JSON
    created = Consent.model_validate_json(r.content)
    assert r.headers["location"] == f"/api/v1/fhir/Consent/{created.id}"
    consents = {c["id"]: c for c in client.get("/api/v1/me/consents", headers=me).json()}
    original, imported = consents[given_id], consents[created.id]
    scope = ("recipient", "source_kinds", "source_partners", "categories", "purpose",
             "valid_until", "status")
    assert {k: imported[k] for k in scope} == {k: original[k] for k in scope}
    assert imported["provenance"] == {"method": "fhir", "partner": gp_id,
                                      "source_id": given_id}


def test_the_same_resource_sent_again_is_recorded_once(ctx, client):
    anna = person(1)
    register(ctx, anna)
    gp_id, gp = _gp(ctx)
    me = resident(ctx, anna)
    consent_id = _give(client, me, source_kinds=[], source_partners=[gp_id])
    exported = client.get(f"/api/v1/me/consents/{consent_id}/fhir", headers=me).json()
    data = _as_gp_sends_it(exported, anna.bsn)
    data["id"] = "gp-consent-7"
    first, again = _post(client, data, gp), _post(client, data, gp)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert len(client.get("/api/v1/me/consents", headers=me).json()) == 2


def _gp_consent(ctx, client, anna) -> tuple[dict, dict[str, str]]:
    gp_id, gp = _gp(ctx)
    me = resident(ctx, anna)
    consent_id = _give(client, me, source_kinds=[], source_partners=[gp_id],
                       categories=["medisch"])
    exported = client.get(f"/api/v1/me/consents/{consent_id}/fhir", headers=me).json()
    data = _as_gp_sends_it(exported, anna.bsn)
    data["id"] = "gp-1"
    return data, gp


def test_what_the_hub_cannot_honour_is_refused_and_nothing_is_stored(ctx, client):
    anna = person(1)
    register(ctx, anna)
    data, gp = _gp_consent(ctx, client, anna)
    deny = copy.deepcopy(data)
    deny["provision"]["type"] = "deny"
    assert _outcome(_post(client, deny, gp), 422) == {"Consent.provision.type": "not-supported"}
    unknown = copy.deepcopy(data)
    unknown["provision"]["class"] = [{"system": fhir.CATEGORY_SYSTEM, "code": "hobby"}]
    assert _outcome(_post(client, unknown, gp), 422) == {
        "Consent.provision.class[0]": "code-invalid"}
    foreign = copy.deepcopy(data)
    foreign["provision"]["actor"][1]["reference"]["identifier"]["value"] = "someone-else"
    assert _outcome(_post(client, foreign, gp), 422) == {
        "Consent.provision.actor": "business-rule"}
    assert len(client.get("/api/v1/me/consents", headers=resident(ctx, anna)).json()) == 1


def test_a_consent_ending_at_the_calendars_end_is_refused_by_name(ctx, client):
    anna = person(1)
    register(ctx, anna)
    data, gp = _gp_consent(ctx, client, anna)
    # 23:30 UTC on the last day of year 9999 is already year 10000 in Dutch time: a
    # resident's consent list showing it could not be drawn. Refused, nothing stored.
    data["provision"]["period"] = {"start": "2026-01-01T00:00:00Z",
                                   "end": "9999-12-31T23:30:00Z"}
    assert _outcome(_post(client, data, gp), 422) == {"Consent (valid_until)": "business-rule"}
    mine = client.get("/api/v1/me/consents", headers=resident(ctx, anna))
    assert mine.status_code == 200 and len(mine.json()) == 1


def test_the_patient_must_be_named_by_a_valid_bsn_known_or_not(ctx, client):
    anna = person(1)
    register(ctx, anna)
    data, gp = _gp_consent(ctx, client, anna)
    # Issue 13, item 12: a BSN the hub does not know is answered as a known one.
    known, stranger = copy.deepcopy(data), copy.deepcopy(data)
    known["id"], stranger["id"] = "gp-consent-known", "gp-consent-stranger"
    stranger["patient"]["identifier"]["value"] = person(9).bsn
    answers = [_post(client, body, gp) for body in (known, stranger)]
    assert [a.status_code for a in answers] == [201, 201], answers[1].text
    assert sorted(answers[0].json()) == sorted(answers[1].json())
    bad = copy.deepcopy(data)
    bad["patient"]["identifier"]["value"] = "123456789"
    r = _post(client, bad, gp)
    assert _outcome(r, 422) == {"Consent.patient.identifier.value": "invalid"}
    assert "123456789" not in r.text
    pseudonym = copy.deepcopy(data)
    pseudonym["patient"]["identifier"] = {"system": fhir.SUBJECT_SYSTEM,
                                          "value": ctx.pseudonyms.subject(anna.bsn)}
    assert _outcome(_post(client, pseudonym, gp), 422) == {
        "Consent.patient.identifier.system": "required"}


def test_broken_bodies_and_media_types_get_operation_outcomes(ctx, client):
    anna = person(1)
    register(ctx, anna)
    data, gp = _gp_consent(ctx, client, anna)
    assert _outcome(_post(client, b"{", gp), 422) == {"Consent": "structure"}
    assert _outcome(_post(client, {"resourceType": "Patient"}, gp), 422) == {
        "Consent.resourceType": "invalid"}
    bad_date = copy.deepcopy(data)
    bad_date["provision"]["period"]["start"] = "gisteren"
    assert _outcome(_post(client, bad_date, gp), 422) == {
        "Consent.provision.period.start": "invalid"}
    assert _outcome(_post(client, data, gp, "application/xml"), 415) == {
        "content-type": "not-supported"}


def test_only_a_partner_of_an_allowed_kind_may_import(ctx, client):
    anna = person(1)
    register(ctx, anna)
    data, _ = _gp_consent(ctx, client, anna)
    _, woonbron = partner(ctx)
    assert _outcome(_post(client, data, woonbron), 403) == {"authorization": "forbidden"}
    assert _outcome(_post(client, data, {}), 401) == {"authorization": "login"}
    assert _outcome(_post(client, data, resident(ctx, anna)), 401) == {"authorization": "login"}


def test_openapi_documents_fhir_errors(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path, method in (("/api/v1/fhir/Consent", "post"),
                         ("/api/v1/me/consents/{consent_id}/fhir", "get")):
        assert FHIR_JSON in paths[path][method]["responses"]["4XX"]["content"]
    assert "/api/v1/consents" in paths


# --- no 500, always an OperationOutcome ---------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=3),
    max_leaves=10)
_PATHS = [("status",), ("patient",), ("provision",), ("provision", "type"),
          ("provision", "period"), ("provision", "actor"), ("provision", "class"),
          ("provision", "purpose"), ("scope",), ("dateTime",), ("extension",)]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(_PATHS), value=json_values)
def test_near_miss_consents_never_answer_500(ctx, client, where, value):
    if not hasattr(ctx, "_fuzz"):
        anna = person(1)
        register(ctx, anna)
        ctx._fuzz = _gp_consent(ctx, client, anna)
    data, gp = ctx._fuzz
    data = copy.deepcopy(data)
    target = data
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    r = _post(client, data, gp)
    assert r.status_code in (200, 201, 422), r.text
    assert r.headers["content-type"] == FHIR_JSON


# --- the documentation's examples work ----------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "consent-fhir-and-paper.md"


def _doc_block(after: str, fence: str) -> str:
    return DOCS.read_text().split(after, 1)[1].split(f"```{fence}\n", 1)[1].split("```", 1)[0]


def test_the_documented_gp_consent_is_accepted(ctx, client):
    data = json.loads(_doc_block("A GP system sends, at the least:", "json"))
    bsn = data["patient"]["identifier"]["value"]
    register(ctx, Person(bsn=bsn, name="Voorbeeld", birthdate="1980-01-01", postcode="3317AB",
                         huisnummer="1"))
    gp_id, gp = _gp(ctx)
    r = _post(client, data, gp)
    assert r.status_code == 201, r.text
    stored = r.json()
    assert [a["reference"]["identifier"]["value"] for a in stored["provision"]["actor"]] == [
        "wijkteam", gp_id]


def test_the_documented_paper_consent_is_accepted(ctx, client):
    block = _doc_block("records it with the form's reference:", "http")
    body = json.loads(block.split("\n\n", 1)[1])
    register(ctx, Person(bsn=body["bsn"], name="Voorbeeld", birthdate="1980-01-01",
                         postcode="3317AB", huisnummer="1"))
    r = client.post("/api/v1/consents", json=body, headers=regisseur(ctx, "krispijn"))
    assert r.status_code == 201, r.text


def test_a_gp_may_name_the_patient_in_a_contained_patient(ctx, client):
    anna = person(1)
    register(ctx, anna)
    data, gp = _gp_consent(ctx, client, anna)
    data["patient"] = {"reference": "#patient"}
    data["contained"] = [{"resourceType": "Patient", "id": "patient",
                          "identifier": [{"system": fhir.BSN_SYSTEM, "value": anna.bsn}]}]
    r = _post(client, data, gp)
    assert r.status_code == 201, r.text
    assert len(client.get("/api/v1/me/consents", headers=resident(ctx, anna)).json()) == 2


def test_paper_and_fhir_consents_log_no_bsn_pseudonym_or_key(ctx, client, caplog):
    caplog.set_level(logging.DEBUG)
    anna = person(4243)
    register(ctx, anna)
    data, gp = _gp_consent(ctx, client, anna)
    paper = {"bsn": anna.bsn, "source_kinds": ["woningcorporatie"], "categories": ["wonen"],
             "purpose": "hulp", "provenance": {"method": "paper", "form_ref": "WIP-1"}}
    assert client.post("/api/v1/consents", json=paper, headers=regisseur(ctx)).status_code == 201
    assert _post(client, data, gp).status_code == 201
    bad = copy.deepcopy(data)
    bad["patient"]["identifier"]["value"] = anna.bsn[:-1] + ("1" if anna.bsn[-1] != "1" else "2")
    assert _post(client, bad, gp).status_code == 422
    logged = "\n".join(r.getMessage() + str(r.args or "") for r in caplog.records)
    for secret in (anna.bsn, ctx.pseudonyms.subject(anna.bsn), gp["Authorization"].split()[1]):
        assert secret not in logged
