"""No input produces a 500: random bodies against every write route."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.utils.builders import arrears, partner, person, resident

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12)

_valid = arrears(person(1), ref="fuzz")
# Valid messages with one part replaced: the closest misses find the deepest bugs.
near_misses = st.builds(
    lambda key, value: {**_valid, key: value} if key in _valid else
    {**_valid, "data": {**_valid["data"], key: value}},
    st.sampled_from([*_valid, *_valid["data"]]), json_values)
bodies = st.one_of(json_values, near_misses, st.builds(json.dumps, json_values).map(str.encode),
                   st.binary(max_size=200))
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _send(client, path, body, headers, content_type="application/json"):
    if isinstance(body, bytes):
        return client.post(path, content=body, headers={**headers, "content-type": content_type})
    return client.post(path, json=body, headers=headers)


def _assert_client_error_or_success(response):
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"]


@FUZZ
@given(body=bodies)
def test_messages_never_answer_500(ctx, client, body):
    if not hasattr(ctx, "_fuzz_key"):
        ctx._fuzz_key = partner(ctx)[1]
    _assert_client_error_or_success(_send(client, "/api/v1/messages", body, ctx._fuzz_key))


@FUZZ
@given(body=bodies)
def test_consents_never_answer_500(ctx, client, body):
    _assert_client_error_or_success(
        _send(client, "/api/v1/me/consents", body, resident(ctx, person(2))))


@FUZZ
@given(text=st.text(max_size=300))
def test_batches_never_answer_500(ctx, client, text):
    if not hasattr(ctx, "_fuzz_key"):
        ctx._fuzz_key = partner(ctx)[1]
    header = "source_ref,name,birthdate,postcode,huisnummer,bsn,amount_eur,months,since,tenancy_ref"
    for content in (text, f"{header}\n{text}"):
        _assert_client_error_or_success(_send(client, "/api/v1/messages/batch",
                                              content.encode(), ctx._fuzz_key, "text/csv"))


def test_non_standard_json_numbers_are_refused(ctx, client):
    """Python's json accepts NaN and Infinity; the hub must not store them."""
    _, key = partner(ctx)
    body = json.dumps(arrears(person(3), ref="nan")).replace('"1250.00"', "NaN")
    response = _send(client, "/api/v1/messages", body.encode(), key)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"field": "body", "reason": "is not valid JSON (ValueError)"}]
