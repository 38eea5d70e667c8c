"""A consent given on paper, recorded by the regisseur: POST /api/v1/consents."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.utils.builders import make_bsn, nuisance, partner, person, regisseur, register, resident


def _paper(who, **overrides) -> dict:
    body = {"bsn": who.bsn, "source_kinds": ["woningcorporatie"], "categories": ["wonen"],
            "purpose": "hulp bij woonoverlast",
            "provenance": {"method": "paper", "form_ref": "WIP-2026-17"}}
    body.update(overrides)
    return body


def _problem_fields(response) -> set[str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return {e["field"] for e in response.json().get("errors", [])}


def test_the_resident_sees_the_paper_consent_with_its_provenance(ctx, client):
    anna = person(1)
    register(ctx, anna)
    r = client.post("/api/v1/consents", json=_paper(anna), headers=regisseur(ctx, user="bram"))
    assert r.status_code == 201, r.text
    mine = client.get("/api/v1/me/consents", headers=resident(ctx, anna)).json()
    assert [c["id"] for c in mine] == [r.json()["id"]]
    (consent,) = mine
    assert consent["status"] == "active"
    assert consent["categories"] == ["wonen"]
    assert consent["purpose"] == "hulp bij woonoverlast"
    assert consent["provenance"] == {"method": "paper", "form_ref": "WIP-2026-17",
                                     "recorded_by": "bram", "recorded_in": "krispijn"}


def test_a_paper_consent_releases_held_messages(ctx, client, worker):
    anna = person(1)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    assert client.post("/api/v1/messages", json=nuisance(anna, ref="N-1"),
                       headers=woonbron).status_code == 202
    worker.drain()
    staff = regisseur(ctx)
    assert client.get("/api/v1/inbox", headers=staff).json()["total"] == 0
    assert client.post("/api/v1/consents", json=_paper(anna), headers=staff).status_code == 201
    worker.drain()
    items = client.get("/api/v1/inbox", headers=staff).json()["items"]
    assert [(i["type"], i["basis"]) for i in items] == [("signal.nuisance", "consent")]


def test_a_resident_of_another_wijk_and_an_unknown_bsn_get_the_same_answer(ctx, client):
    elsewhere = person(2, postcode="3321AA")  # Crabbehof
    register(ctx, elsewhere)
    staff = regisseur(ctx, "krispijn")
    other = client.post("/api/v1/consents", json=_paper(elsewhere), headers=staff)
    unknown = client.post("/api/v1/consents", json=_paper(person(3)), headers=staff)
    assert other.status_code == unknown.status_code == 404
    assert other.json() == unknown.json()
    assert elsewhere.bsn not in other.text
    # Nothing was stored for the resident of the other wijk.
    assert client.get("/api/v1/me/consents", headers=resident(ctx, elsewhere)).json() == []
    own = regisseur(ctx, "crabbehof", user="carla")
    assert client.post("/api/v1/consents", json=_paper(elsewhere), headers=own).status_code == 201


@pytest.mark.parametrize(("change", "field"), [
    ({"bsn": "123456789"}, "bsn"),
    ({"bsn": ""}, "bsn"),
    ({"provenance": {"method": "paper", "form_ref": "   "}}, "provenance.form_ref"),
    ({"provenance": {"method": "paper", "form_ref": "x" * 101}}, "provenance.form_ref"),
    ({"provenance": {"method": "paper", "form_ref": "WIP\n1"}}, "provenance.form_ref"),
    ({"provenance": {"method": "portal", "form_ref": "WIP-1"}}, "provenance.method"),
    ({"provenance": {"method": "paper"}}, "provenance.form_ref"),
    ({"provenance": {"method": "paper", "form_ref": "W", "recorded_by": "x"}},
     "provenance.recorded_by"),
    ({"categories": ["hobby"]}, "categories"),
    ({"source_kinds": []}, "source"),
    ({"valid_until": "9999-12-31T23:59:59-14:00"}, "valid_until"),
    ({"valid_until": "9999-12-31T23:00:00Z"}, "valid_until"),
])
def test_bad_input_is_refused_naming_the_field(ctx, client, change, field):
    anna = person(1)
    register(ctx, anna)
    r = client.post("/api/v1/consents", json=_paper(anna, **change), headers=regisseur(ctx))
    assert r.status_code == 422, r.text
    assert field in _problem_fields(r)
    assert anna.bsn not in r.text
    assert client.get("/api/v1/me/consents", headers=resident(ctx, anna)).json() == []


def test_provenance_is_required(ctx, client):
    anna = person(1)
    register(ctx, anna)
    body = _paper(anna)
    del body["provenance"]
    r = client.post("/api/v1/consents", json=body, headers=regisseur(ctx))
    assert r.status_code == 422
    assert "provenance" in _problem_fields(r)


def test_only_a_regisseur_records_paper_consents(ctx, client):
    anna = person(1)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    assert client.post("/api/v1/consents", json=_paper(anna)).status_code == 401
    assert client.post("/api/v1/consents", json=_paper(anna),
                       headers=woonbron).status_code == 401
    assert client.post("/api/v1/consents", json=_paper(anna),
                       headers=resident(ctx, anna)).status_code == 403


def test_a_bsn_written_with_spaces_is_the_same_resident(ctx, client):
    anna = person(1)
    register(ctx, anna)
    spaced = f"{anna.bsn[:4]} {anna.bsn[4:6]} {anna.bsn[6:]}"
    r = client.post("/api/v1/consents", json=_paper(anna, bsn=spaced), headers=regisseur(ctx))
    assert r.status_code == 201, r.text
    assert len(client.get("/api/v1/me/consents", headers=resident(ctx, anna)).json()) == 1
    assert make_bsn(1) == anna.bsn


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=10)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(["bsn", "provenance", "categories", "source_kinds", "purpose",
                            "valid_until", "recipient", "extra"]), value=json_values)
def test_near_miss_paper_consents_never_answer_500(ctx, client, key, value):
    if not hasattr(ctx, "_fuzz_headers"):
        register(ctx, person(1))
        ctx._fuzz_headers = regisseur(ctx)
    r = client.post("/api/v1/consents", json={**_paper(person(1)), key: value},
                    headers=ctx._fuzz_headers)
    assert r.status_code in (201, 422), r.text
    if r.status_code == 422:
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"]


def test_a_paper_consent_with_an_unknown_source_is_refused_by_field(ctx, client):
    # Issue 13, item 17: a consent that can never match anything is refused.
    anna = person(1)
    register(ctx, anna)
    staff = regisseur(ctx)
    r = client.post("/api/v1/consents", json=_paper(anna, source_kinds=["woningcorporatei"]),
                    headers=staff)
    assert r.status_code == 422, r.text
    assert _problem_fields(r) == {"source_kinds[0]"}
    r = client.post("/api/v1/consents",
                    json=_paper(anna, source_kinds=[], source_partners=["no-such-partner"]),
                    headers=staff)
    assert r.status_code == 422, r.text
    assert _problem_fields(r) == {"source_partners[0]"}
    assert client.get("/api/v1/me/consents", headers=resident(ctx, anna)).json() == []
