"""No input to the FHIR endpoint produces a 500: near-miss referrals, random JSON and bytes."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.bundle import Bundle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.plugins.huisarts.fhirdata import FHIR_JSON, FHIR_XML, referral

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=3),
    max_leaves=10)

_VALID = referral()
# Paths to every object in the valid referral: the closest misses find the deepest bugs.
_PLACES: list[tuple] = []


def _walk(node, path):
    if isinstance(node, dict):
        _PLACES.append(path)
        for key, value in node.items():
            _walk(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _walk(value, (*path, i))


_walk(_VALID, ())


def _replace(place, key, value):
    body = json.loads(json.dumps(_VALID))
    node = body
    for part in place:
        node = node[part]
    node[key] = value
    return body


def _keys(place):
    node = _VALID
    for part in place:
        node = node[part]
    return [*node, "extra"]


near_misses = st.sampled_from(_PLACES).flatmap(
    lambda place: st.builds(_replace, st.just(place), st.sampled_from(_keys(place)),
                            json_values))
FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def _check(response):
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith(("application/fhir+json",
                                                            "application/fhir+xml"))


@FUZZ
@given(body=st.one_of(near_misses, json_values))
def test_json_referrals_never_answer_500(ctx, fhir, practice, patient_resident, body):
    _, key = practice
    _check(fhir.post("/fhir/r4", content=json.dumps(body),
                     headers={**key, "content-type": FHIR_JSON}))


_XML = Bundle.model_validate(_VALID).model_dump_xml()


@FUZZ
@given(cut=st.integers(0, len(_XML)), junk=st.binary(max_size=40))
def test_broken_xml_never_answers_500(ctx, fhir, practice, patient_resident, cut, junk):
    _, key = practice
    _check(fhir.post("/fhir/r4", content=_XML[:cut] + junk + _XML[cut:],
                     headers={**key, "content-type": FHIR_XML}))
