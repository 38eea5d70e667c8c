"""POST /api/v1/messages: receipts, idempotency, refusals as problem+json, privacy at rest."""

from __future__ import annotations

import copy
import dataclasses
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict
from sqlalchemy import inspect, text

from hub import hookimpl
from hub.app import create_app
from hub.core.types import MessageType
from tests.utils.builders import (
    arrears,
    make_bsn,
    nuisance,
    partner,
    person,
    regisseur,
    register,
)

PROBLEM_JSON = "application/problem+json"
INVALID_BSN = "123456789"  # fails the elfproef


def _count(ctx, table: str) -> int:
    with ctx.engine.connect() as conn:
        return conn.execute(text(f"select count(*) from {table}")).scalar_one()


def _stored(ctx) -> tuple[int, int]:
    return _count(ctx, "messages"), _count(ctx, "outbox")


def _assert_problem(response, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert field in [e["field"] for e in body.get("errors", [])], body
    assert field in body["detail"], body
    assert all(e["reason"] for e in body["errors"]), body
    return body


# --- the happy path and idempotency -----------------------------------------------------------


def test_message_accepted_with_receipt(ctx, client):
    anna = person(1)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    r = client.post("/api/v1/messages", json=arrears(anna, ref="A-1"), headers=woonbron)
    assert r.status_code == 202, r.text
    # Serialised by the route itself (issue 14): the same JSON FastAPI would have sent.
    assert r.headers["content-type"] == "application/json"
    assert r.content == b'{"id":"%s","status":"received"}' % r.json()["id"].encode()
    receipt = r.json()
    assert set(receipt) == {"id", "status"}
    assert receipt["status"] == "received"
    uuid.UUID(receipt["id"])
    with ctx.engine.connect() as conn:
        row = conn.execute(text("select id, type, status from messages")).one()
        outbox = conn.execute(text("select message_id, status from outbox")).one()
    assert tuple(row) == (receipt["id"], "signal.arrears.rent", "accepted")
    assert tuple(outbox) == (receipt["id"], "pending")
    status = client.get(f"/api/v1/messages/{receipt['id']}", headers=woonbron)
    assert status.status_code == 200, status.text
    assert status.json()["status"] == "received"
    assert status.json()["source_ref"] == "A-1"


def test_same_source_ref_twice_gives_same_id_and_stores_once(ctx, client):
    anna = person(1)
    _, woonbron = partner(ctx)
    first = client.post("/api/v1/messages", json=arrears(anna, ref="A-1"), headers=woonbron)
    # Even a resend with other content is the same message: the source_ref is the key.
    again = client.post("/api/v1/messages", json=arrears(anna, ref="A-1", amount="99.00"),
                        headers=woonbron)
    assert first.status_code == again.status_code == 202, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == "received"
    assert _stored(ctx) == (1, 1)


def test_a_bsn_as_source_ref_is_accepted_but_never_stored_in_clear(ctx, client):
    # Issue 13, item 10: a partner may use any reference, even a BSN; the hub keeps it
    # as a keyed hash (for uniqueness) and sealed (to answer with it), never in clear.
    anna = person(1)
    ref = make_bsn(4242)
    _, woonbron = partner(ctx)
    first = client.post("/api/v1/messages", json=arrears(anna, ref=ref), headers=woonbron)
    assert first.status_code == 202, first.text
    again = client.post("/api/v1/messages", json=arrears(anna, ref=ref), headers=woonbron)
    assert again.json()["id"] == first.json()["id"]
    assert _stored(ctx) == (1, 1)
    status = client.get(f"/api/v1/messages/{first.json()['id']}", headers=woonbron)
    assert status.status_code == 200 and status.json()["source_ref"] == ref
    with ctx.engine.connect() as conn:
        for table in inspect(ctx.engine).get_table_names():
            for row in conn.execute(text(f'select * from "{table}"')):
                assert ref not in " ".join(str(v) for v in row), f"{table} holds the ref"


def test_a_source_ref_stored_in_clear_before_is_sealed_after_the_upgrade(ctx, client):
    # Rows stored before migration 0012 hold the reference in clear; the step after the
    # upgrade seals them, and a resend is still recognised.
    from hub.core.source_refs import seal_all_legacy_refs

    anna = person(1)
    _, woonbron = partner(ctx)
    sent = client.post("/api/v1/messages", json=arrears(anna, ref="OLD-1"), headers=woonbron)
    message_id = sent.json()["id"]
    with ctx.engine.begin() as conn:  # as the row looked before 0012
        conn.execute(text("update messages set source_ref = 'OLD-1', source_ref_sealed = null"))
    assert client.get(f"/api/v1/messages/{message_id}",
                      headers=woonbron).json()["source_ref"] == "OLD-1"
    assert seal_all_legacy_refs(ctx) == 1
    assert seal_all_legacy_refs(ctx) == 0
    with ctx.engine.connect() as conn:
        stored, sealed = conn.execute(text("select source_ref, source_ref_sealed "
                                           "from messages")).one()
    assert "OLD-1" not in stored and "OLD-1" not in sealed
    assert client.get(f"/api/v1/messages/{message_id}",
                      headers=woonbron).json()["source_ref"] == "OLD-1"
    again = client.post("/api/v1/messages", json=arrears(anna, ref="OLD-1"), headers=woonbron)
    assert again.json()["id"] == message_id and _stored(ctx) == (1, 1)


def test_same_source_ref_from_another_partner_is_another_message(ctx, client):
    anna = person(1)
    _, woonbron = partner(ctx, "Woonbron")
    _, trivire = partner(ctx, "Trivire")
    a = client.post("/api/v1/messages", json=arrears(anna, ref="A-1"), headers=woonbron)
    b = client.post("/api/v1/messages", json=arrears(anna, ref="A-1"), headers=trivire)
    assert a.status_code == b.status_code == 202, b.text
    assert a.json()["id"] != b.json()["id"]
    assert _stored(ctx) == (2, 2)


def test_valid_bsn_subject_is_accepted_and_matched(ctx, client, worker):
    anna = person(3)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    r = client.post("/api/v1/messages", json=arrears(anna, ref="A-1", by_bsn=True),
                    headers=woonbron)
    assert r.status_code == 202, r.text
    assert worker.drain() == 1
    page = client.get("/api/v1/inbox", headers=regisseur(ctx)).json()
    assert page["total"] == 1
    item = page["items"][0]
    assert item["triage"] is False and item["household_id"] is not None
    assert item["data"]["name"] == anna.name
    with ctx.engine.connect() as conn:
        assert conn.execute(text("select match_method from messages")).scalar_one() == "bsn"


# --- bad input --------------------------------------------------------------------------------


def _set(path: str, value: Any):
    def change(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = body
        for key in parents:
            target = target[key]
        target[last] = value
    return change


def _drop(path: str):
    def change(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = body
        for key in parents:
            target = target[key]
        del target[last]
    return change


BAD_BODIES = [
    # (id, change to a valid arrears message, status, field named)
    ("unknown-type", _set("type", "signal.unknown"), 422, "type"),
    ("invalid-bsn", _set("subject", {"bsn": INVALID_BSN}), 422, "subject.bsn"),
    ("short-bsn", _set("subject", {"bsn": "12345"}), 422, "subject.bsn"),
    ("bsn-not-digits", _set("subject", {"bsn": "abcdefghi"}), 422, "subject.bsn"),
    ("missing-type", _drop("type"), 422, "type"),
    ("missing-source-ref", _drop("source_ref"), 422, "source_ref"),
    ("empty-source-ref", _set("source_ref", ""), 422, "source_ref"),
    ("long-source-ref", _set("source_ref", "x" * 201), 422, "source_ref"),
    ("nul-in-source-ref", _set("source_ref", "A\x00-1"), 422, "source_ref"),
    ("missing-subject", _drop("subject"), 422, "subject"),
    ("subject-name-only", _set("subject", {"name": "Bewoner 1"}), 422, "subject"),
    ("subject-not-object", _set("subject", "Bewoner 1"), 422, "subject"),
    ("subject-extra-field", _set("subject.phone", "0612345678"), 422, "subject.phone"),
    ("bad-postcode", _set("subject.postcode", "33177AB"), 422, "subject.postcode"),
    ("bad-huisnummer", _set("subject.huisnummer", "nul"), 422, "subject.huisnummer"),
    ("bad-birthdate", _set("subject.birthdate", "1980-02-30"), 422, "subject.birthdate"),
    ("missing-occurred-at", _drop("occurred_at"), 422, "occurred_at"),
    ("naive-occurred-at", _set("occurred_at", "2026-11-20T08:00:00"), 422, "occurred_at"),
    ("occurred-at-past-9999", _set("occurred_at", "9999-12-31T23:59:59-14:00"), 422,
     "occurred_at"),
    ("occurred-at-before-1", _set("occurred_at", "0001-01-01T00:00:00+14:00"), 422,
     "occurred_at"),
    ("missing-data", _drop("data"), 422, "data"),
    ("data-not-object", _set("data", ["1250.00"]), 422, "data"),
    ("missing-amount", _drop("data.amount_eur"), 422, "data.amount_eur"),
    ("amount-with-comma", _set("data.amount_eur", "1250,00"), 422, "data.amount_eur"),
    ("amount-negative", _set("data.amount_eur", "-5"), 422, "data.amount_eur"),
    ("amount-as-number", _set("data.amount_eur", 1250.5), 422, "data.amount_eur"),
    ("months-zero", _set("data.months", 0), 422, "data.months"),
    ("bad-since", _set("data.since", "2026-13-01"), 422, "data.since"),
    ("missing-tenancy", _drop("data.tenancy_ref"), 422, "data.tenancy_ref"),
    ("data-extra-field", _set("data.iban", "NL91ABNA0417164300"), 422, "data.iban"),
    ("address-outside", _set("data.address.postcode", "1012AB"), 422, "data.address.postcode"),
    ("top-level-extra", _set("priority", "high"), 422, "priority"),
]


@pytest.mark.parametrize(("change", "status", "field"), [b[1:] for b in BAD_BODIES],
                         ids=[b[0] for b in BAD_BODIES])
def test_bad_message_is_refused_naming_the_field(ctx, client, change, status, field):
    anna = person(1)
    _, woonbron = partner(ctx)
    body = copy.deepcopy(arrears(anna, ref="A-1"))
    change(body)
    r = client.post("/api/v1/messages", json=body, headers=woonbron)
    problem = _assert_problem(r, status, field)
    assert INVALID_BSN not in r.text
    assert problem["title"]
    assert _stored(ctx) == (0, 0)


RAW_BODIES = [
    ("truncated-json", b'{"type": "signal.arrears.rent", '),
    ("not-json", b"type=signal.arrears.rent"),
    ("empty", b""),
    ("array", b"[]"),
    ("string", b'"hello"'),
    ("null", b"null"),
    ("number", b"1e999"),
    ("not-utf8", b'{"type": "\xff\xfe"}'),
    ("huge-integer", b'{"type": ' + b"9" * 5000 + b"}"),
    ("deep-nesting", b"[" * 100_000),
]


@pytest.mark.parametrize("raw", [b[1] for b in RAW_BODIES], ids=[b[0] for b in RAW_BODIES])
def test_unparseable_body_is_refused_naming_body(ctx, client, raw):
    _, woonbron = partner(ctx)
    r = client.post("/api/v1/messages", content=raw,
                    headers={**woonbron, "Content-Type": "application/json"})
    _assert_problem(r, 422, "body")
    assert _stored(ctx) == (0, 0)


def test_postcode_outside_the_wijk_map_is_refused(ctx, client):
    amsterdam = person(1, postcode="1012AB")
    _, woonbron = partner(ctx)
    body = arrears(amsterdam, ref="A-1")
    body["data"]["address"] = {"postcode": "3317AB", "huisnummer": "1"}
    r = client.post("/api/v1/messages", json=body, headers=woonbron)
    problem = _assert_problem(r, 422, "subject.postcode")
    assert "wijk" in problem["detail"]
    assert _stored(ctx) == (0, 0)


def test_oversized_body_is_refused_at_the_default_limit(ctx, client):
    assert ctx.settings.max_body_bytes == 1024 * 1024
    _, woonbron = partner(ctx)
    body = arrears(person(1), ref="A-1")
    body["data"]["padding"] = "x" * (1024 * 1024)
    r = client.post("/api/v1/messages", json=body, headers=woonbron)
    problem = _assert_problem(r, 413, "body")
    assert str(1024 * 1024) in problem["detail"]
    assert _stored(ctx) == (0, 0)


def test_oversized_body_limit_is_configurable(ctx, client):
    _, woonbron = partner(ctx)
    small_ctx = dataclasses.replace(
        ctx, settings=ctx.settings.model_copy(update={"max_body_bytes": 2048}))
    body = nuisance(person(1), ref="N-1")
    body["data"]["description"] = "overlast " * 300  # about 2.7 kB: fine under 1 MiB
    with TestClient(create_app(small_ctx, run_worker=False),
                    raise_server_exceptions=False) as small:
        r = small.post("/api/v1/messages", json=body, headers=woonbron)
        problem = _assert_problem(r, 413, "body")
        assert "2048" in problem["detail"]
        assert _stored(ctx) == (0, 0)
        # A body without a Content-Length (streamed) is counted as it arrives.
        raw = r.request.content

        def chunks():
            yield raw[:1000]
            yield raw[1000:]

        streamed = small.post("/api/v1/messages", content=chunks(),
                              headers={**woonbron, "Content-Type": "application/json"})
        _assert_problem(streamed, 413, "body")
        assert _stored(ctx) == (0, 0)
        small_ok = small.post("/api/v1/messages", json=nuisance(person(1), ref="N-2"),
                              headers=woonbron)
        assert small_ok.status_code == 202, small_ok.text
    assert client.post("/api/v1/messages", json=body, headers=woonbron).status_code == 202


# --- who may send what ------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [
    None,
    "Bearer whk_not-a-real-key",
    "Bearer ",
    "Basic d29vbmJyb246Z2VoZWlt",
    "whk_without_scheme",
], ids=["missing", "wrong-key", "empty-key", "basic-scheme", "no-scheme"])
def test_missing_or_wrong_key_is_401_with_challenge(ctx, client, authorization):
    partner(ctx)
    headers = {} if authorization is None else {"Authorization": authorization}
    r = client.post("/api/v1/messages", json=arrears(person(1), ref="A-1"), headers=headers)
    _assert_problem(r, 401, "authorization")
    assert r.headers["www-authenticate"] == "Bearer"
    assert _stored(ctx) == (0, 0)


def test_revoked_partner_key_is_401(ctx, client):
    partner_id, woonbron = partner(ctx)
    with ctx.engine.begin() as conn:
        conn.execute(text("update partners set active = :no where id = :id"),
                     {"no": False, "id": partner_id})
    r = client.post("/api/v1/messages", json=arrears(person(1), ref="A-1"), headers=woonbron)
    _assert_problem(r, 401, "authorization")
    assert _stored(ctx) == (0, 0)


def test_regisseur_token_is_no_partner_key(ctx, client):
    partner(ctx)
    r = client.post("/api/v1/messages", json=arrears(person(1), ref="A-1"),
                    headers=regisseur(ctx))
    _assert_problem(r, 401, "authorization")
    assert r.headers["www-authenticate"] == "Bearer"
    assert _stored(ctx) == (0, 0)


class _WaterArrears(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_eur: str


class _EvidesTestPlugin:
    """A throwaway plugin: a type only partners of kind ``evides-test`` may send."""

    @hookimpl
    def wijkhub_message_types(self) -> list[MessageType]:
        return [MessageType(name="signal.test.water", partner_kinds=("evides-test",),
                            category="financieel", data_model=_WaterArrears,
                            topic="waterachterstand")]


def _water(who, *, ref: str) -> dict[str, Any]:
    return {"type": "signal.test.water", "source_ref": ref,
            "subject": {"name": who.name, "postcode": who.postcode,
                        "huisnummer": who.huisnummer},
            "occurred_at": "2026-11-20T08:00:00+00:00", "data": {"amount_eur": "80.00"}}


def test_partner_may_send_only_its_own_kinds_types(ctx, client):
    anna = person(1)
    _, woonbron = partner(ctx, "Woonbron")
    _, evides = partner(ctx, "Evides", kind="evides-test")
    ctx.plugins.register(_EvidesTestPlugin(), name="evides-test")
    try:
        r = client.post("/api/v1/messages", json=_water(anna, ref="W-1"), headers=woonbron)
        problem = _assert_problem(r, 403, "type")
        assert "woningcorporatie" in problem["detail"]
        r = client.post("/api/v1/messages", json=arrears(anna, ref="A-1"), headers=evides)
        _assert_problem(r, 403, "type")
        assert _stored(ctx) == (0, 0)
        # The type itself is real: its own kind may send it.
        ok = client.post("/api/v1/messages", json=_water(anna, ref="W-1"), headers=evides)
        assert ok.status_code == 202, ok.text
        assert _stored(ctx) == (1, 1)
    finally:
        ctx.plugins.unregister("evides-test")
    assert ctx.plugins.catalog.type("signal.test.water") is None


# --- privacy at rest --------------------------------------------------------------------------


def test_neither_bsn_nor_name_is_stored_in_clear(ctx, client, worker):
    anna = dataclasses.replace(person(7), name="Zeynep Oudejans-Vermeulen")
    register(ctx, anna)
    _, woonbron = partner(ctx)
    body = arrears(anna, ref="A-1")
    body["subject"] = {"bsn": anna.bsn, "name": anna.name, "postcode": anna.postcode,
                       "huisnummer": anna.huisnummer, "birthdate": anna.birthdate}
    r = client.post("/api/v1/messages", json=body, headers=woonbron)
    assert r.status_code == 202, r.text
    worker.drain()
    item = client.get("/api/v1/inbox", headers=regisseur(ctx)).json()["items"][0]
    assert item["data"]["name"] == anna.name  # it did go through, and opens for the regisseur
    other = person(8)
    assert client.post("/api/v1/messages", json=arrears(other, ref="A-2", by_bsn=True),
                       headers=woonbron).status_code == 202
    worker.drain()

    tables = inspect(ctx.engine).get_table_names()
    assert {"messages", "outbox", "inbox_items", "residents", "disclosures"} <= set(tables)
    surname = "Vermeulen"
    seen = 0
    with ctx.engine.connect() as conn:
        for table in tables:
            for row in conn.execute(text(f'select * from "{table}"')):
                cells = " ".join(str(v) for v in row)
                seen += 1
                for secret in (anna.bsn, other.bsn, surname, make_bsn(7)):
                    assert secret not in cells, f"{table} holds personal data in clear"
    assert seen > 0
