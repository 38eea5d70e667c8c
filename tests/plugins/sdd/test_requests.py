"""The Wmo desk: a regisseur's request, the desk's status and decision, bad inputs."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from consent.policy import Policy
from hub.core.models import InboxItem, Message
from plugins.sdd.models import WmoRequest
from tests.plugins.sdd.helpers import decision, desk, desk_server, status, wmo_request
from tests.utils.builders import partner, person, regisseur, register, resident, teamlead

PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def desk_api():
    """The desk's server: every request it is sent is answered 201 (respx)."""
    mock, route = desk_server()
    with mock:
        yield route


@pytest.fixture
def anna(ctx):
    who = person(1)  # Krispijn
    register(ctx, who)
    return who


def _file(client, ctx, who, **fields) -> dict:
    r = client.post("/api/v1/wmo/requests", json=wmo_request(who, **fields),
                    headers=regisseur(ctx))
    assert r.status_code == 201, r.text
    return r.json()


def _count(ctx, model) -> int:
    with ctx.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def _problem(r, status_code: int, field: str) -> None:
    assert r.status_code == status_code, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert field in {e["field"] for e in r.json().get("errors", [])}, r.text


# --- the happy path -------------------------------------------------------------------


def test_request_status_decision_reach_regisseur_and_resident(ctx, client, worker, anna):
    _, desk_key = desk(ctx)
    created = _file(client, ctx, anna)
    assert created["status"] == "queued"
    assert created["provision"] == "01"
    assert created["provision_name"] == "Hulp bij het huishouden"
    assert created["desk"] == "SDD Drechtsteden"
    assert created["melding_date"] == "2026-11-23"
    assert created["onderzoek_due"] == "2027-01-04"  # six weeks after the melding
    assert created["besluit_due"] is None and created["decision"] is None
    assert anna.bsn not in str(created)
    rid = created["id"]
    worker.drain()
    delivered = client.get(f"/api/v1/wmo/requests/{rid}", headers=regisseur(ctx)).json()
    assert delivered["status"] == "submitted"
    assert delivered["delivery"]["status"] == "delivered"
    assert delivered["desk_reference"] == "WMO-2026-0815"  # from the desk's answer

    r = client.post("/api/v1/messages", json=status(anna, rid, aanvraag_date="2026-11-23"),
                    headers=desk_key)
    assert r.status_code == 202, r.text
    followed = client.get(f"/api/v1/wmo/requests/{rid}", headers=regisseur(ctx)).json()
    assert followed["status"] == "in_behandeling"
    assert followed["desk_reference"] == "WMO-2026-0815"
    assert followed["besluit_due"] == "2026-12-07"  # two weeks after the aanvraag
    assert [t["kind"] for t in followed["terms"]] == ["besluit"]

    r = client.post("/api/v1/messages", json=decision(anna, rid), headers=desk_key)
    assert r.status_code == 202, r.text
    decision_id = r.json()["id"]
    worker.drain()

    followed = client.get(f"/api/v1/wmo/requests/{rid}", headers=regisseur(ctx)).json()
    assert followed["status"] == "besluit" and followed["terms"] == []
    assert followed["decision"]["message_id"] == decision_id
    item_id = followed["decision"]["inbox_item_id"]
    assert item_id is not None

    item = client.get(f"/api/v1/inbox/{item_id}", headers=regisseur(ctx)).json()
    assert item["type"] == "wmo.decision" and item["basis"] == "statute"
    assert item["summary"] == "Besluit Wmo: huishoudelijke hulp toegekend"
    assert item["data"]["request_id"] == rid and item["data"]["outcome"] == "granted"
    assert item["data"]["volume"] == {"amount": 3, "unit": "uur", "frequency": "week"}
    assert "Wet maatschappelijke ondersteuning 2015" in item["reason"]

    mine = client.get("/api/v1/me/data", headers=resident(ctx, anna)).json()
    by_type = {k["type"]: k for k in mine}
    assert by_type["wmo.decision"]["summary"] == "Besluit Wmo: huishoudelijke hulp toegekend"
    assert by_type["wmo.decision"]["status"] == "shown"
    assert by_type["wmo.status"]["summary"] == "Wmo-aanvraag in behandeling bij de Wmo-desk"

    trail = client.get("/api/v1/me/audit", headers=resident(ctx, anna)).json()["items"]
    texts = " ".join(e["text"] for e in trail)
    assert "Uw regisseur heeft voor u een Wmo-aanvraag gedaan bij de Wmo-desk" in texts
    assert "SDD Drechtsteden heeft laten weten dat uw Wmo-aanvraag in behandeling is" in texts
    assert "SDD Drechtsteden heeft een besluit genomen over uw Wmo-aanvraag" in texts
    assert "Er is iets gedaan" not in texts


def test_refusal_and_partial_grant_read_in_dutch(ctx, client, worker, anna):
    _, desk_key = desk(ctx)
    refused = _file(client, ctx, anna, provision="wheelchair")["id"]
    partly = _file(client, ctx, anna, provision="home_adaptation")["id"]
    assert client.post("/api/v1/messages", headers=desk_key, json=decision(
        anna, refused, ref="B-1", outcome="refused", product_category=None,
        product_code=None, volume=None, start_date=None, end_date=None)).status_code == 202
    assert client.post("/api/v1/messages", headers=desk_key, json=decision(
        anna, partly, ref="B-2", outcome="partly_granted", product_category="13",
        product_code="13A05")).status_code == 202
    worker.drain()
    summaries = {k["summary"] for k in client.get("/api/v1/me/data",
                                                  headers=resident(ctx, anna)).json()}
    assert "Besluit Wmo: voorziening afgewezen" in summaries
    assert "Besluit Wmo: woningaanpassing gedeeltelijk toegekend" in summaries


def test_bsn_is_never_stored_in_clear(ctx, client, anna):
    desk(ctx)
    rid = _file(client, ctx, anna)["id"]
    with ctx.engine.connect() as conn:
        row = conn.execute(select(WmoRequest.__table__).where(
            WmoRequest.__table__.c.id == rid)).one()
    assert anna.bsn not in " ".join(str(v) for v in row)
    assert row.subject == ctx.pseudonyms.subject(anna.bsn)


def test_idempotency_key_makes_a_retry_safe(ctx, client, anna):
    desk(ctx)
    headers = {**regisseur(ctx), "Idempotency-Key": "plan-7-hbh"}
    first = client.post("/api/v1/wmo/requests", json=wmo_request(anna), headers=headers)
    again = client.post("/api/v1/wmo/requests", json=wmo_request(anna), headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert _count(ctx, WmoRequest) == 1


def test_list_is_per_wijk_and_team_lead_reads_along(ctx, client, anna):
    desk(ctx)
    rid = _file(client, ctx, anna)["id"]
    own = client.get("/api/v1/wmo/requests", headers=regisseur(ctx)).json()
    assert own["total"] == 1 and own["items"][0]["id"] == rid
    lead = client.get(f"/api/v1/wmo/requests/{rid}", headers=teamlead(ctx))
    assert lead.status_code == 200
    other = regisseur(ctx, "crabbehof", user="chris")
    assert client.get("/api/v1/wmo/requests", headers=other).json()["total"] == 0
    r = client.get(f"/api/v1/wmo/requests/{rid}", headers=other)
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)
    # Only a regisseur files requests.
    r = client.post("/api/v1/wmo/requests", json=wmo_request(anna), headers=teamlead(ctx))
    assert r.status_code == 403


# --- bad requests: a clear 4xx, nothing stored ------------------------------------------


@pytest.mark.parametrize(("fields", "field"), [
    ({"bsn": "123456789"}, "bsn"),
    ({"provision": "99"}, "provision"),
    ({"provision": "jacuzzi"}, "provision"),
    ({"reason": ""}, "reason"),
    ({"reason": "a\x00b"}, "reason"),
    ({"urgency": "yesterday"}, "urgency"),
    ({"melding_date": "2026-13-01"}, "melding_date"),
    ({"melding_date": "2026-12-01"}, "melding_date"),  # after the hub's today
    ({"aanvraag_date": "2026-11-30"}, "aanvraag_date"),
    ({"melding_date": "0001-01-01"}, "melding_date"),  # more than a year ago
    ({"surprise": 1}, "surprise"),
    ({"desk": "Nobody"}, "desk"),
])
def test_bad_request_names_the_field_and_stores_nothing(ctx, client, anna, fields, field):
    desk(ctx)
    r = client.post("/api/v1/wmo/requests", json=wmo_request(anna, **fields),
                    headers=regisseur(ctx))
    _problem(r, 422, field)
    assert anna.bsn not in r.text
    assert _count(ctx, WmoRequest) == 0 and _count(ctx, Message) == 0


def test_aanvraag_before_melding_is_refused(ctx, client, anna):
    desk(ctx)
    r = client.post("/api/v1/wmo/requests", headers=regisseur(ctx), json=wmo_request(
        anna, melding_date="2026-11-10", aanvraag_date="2026-11-01"))
    assert r.status_code == 422 and "aanvraag_date" in r.text
    assert _count(ctx, WmoRequest) == 0


def test_resident_of_another_wijk_or_unknown_is_not_found(ctx, client, anna):
    desk(ctx)
    elsewhere = person(2, postcode="3312AA")  # another wijk than the regisseur's
    register(ctx, elsewhere)
    for who in (elsewhere, person(3)):  # another wijk's, and nobody the registry knows
        r = client.post("/api/v1/wmo/requests", json=wmo_request(who),
                        headers=regisseur(ctx, "krispijn"))
        _problem(r, 404, "bsn")
    assert _count(ctx, WmoRequest) == 0


def test_no_desk_registered_is_a_conflict(ctx, client, anna):
    r = client.post("/api/v1/wmo/requests", json=wmo_request(anna), headers=regisseur(ctx))
    _problem(r, 409, "desk")
    assert _count(ctx, WmoRequest) == 0


def test_two_desks_need_a_name(ctx, client, anna):
    desk(ctx, "SDD Drechtsteden")
    desk(ctx, "Wmo-loket Zwijndrecht")
    r = client.post("/api/v1/wmo/requests", json=wmo_request(anna), headers=regisseur(ctx))
    _problem(r, 422, "desk")
    named = _file(client, ctx, anna, desk="Wmo-loket Zwijndrecht")
    assert named["desk"] == "Wmo-loket Zwijndrecht"


# --- bad answers from the desk ----------------------------------------------------------


def _stored_messages(ctx) -> int:
    with ctx.sessions() as session:
        return session.scalar(select(func.count()).select_from(Message)
                              .where(Message.type.in_(("wmo.decision", "wmo.status"))))


def test_decision_for_an_unknown_request_is_refused(ctx, client, anna):
    _, desk_key = desk(ctx)
    r = client.post("/api/v1/messages", json=decision(anna, "no-such-request"),
                    headers=desk_key)
    _problem(r, 422, "data.request_id")
    assert _stored_messages(ctx) == 0


def test_decision_from_another_desk_is_refused(ctx, client, anna):
    desk(ctx, "SDD Drechtsteden")
    _, other_key = desk(ctx, "Wmo-loket Zwijndrecht")
    rid = _file(client, ctx, anna, desk="SDD Drechtsteden")["id"]
    r = client.post("/api/v1/messages", json=decision(anna, rid), headers=other_key)
    _problem(r, 422, "data.request_id")
    r = client.post("/api/v1/messages", json=status(anna, rid), headers=other_key)
    _problem(r, 422, "data.request_id")
    assert _stored_messages(ctx) == 0
    assert client.get(f"/api/v1/wmo/requests/{rid}",
                      headers=regisseur(ctx)).json()["decision"] is None


def test_decision_about_another_resident_is_refused(ctx, client, anna):
    _, desk_key = desk(ctx)
    bob = person(4)
    register(ctx, bob)
    rid = _file(client, ctx, anna)["id"]
    _problem(client.post("/api/v1/messages", json=decision(bob, rid), headers=desk_key),
             422, "subject.bsn")
    by_name = decision(anna, rid)
    by_name["subject"] = {"name": anna.name, "postcode": anna.postcode,
                          "huisnummer": anna.huisnummer}
    _problem(client.post("/api/v1/messages", json=by_name, headers=desk_key),
             422, "subject.bsn")
    assert _stored_messages(ctx) == 0


@pytest.mark.parametrize(("data", "field"), [
    ({"outcome": "maybe"}, "data.outcome"),
    ({"product_category": None}, "data"),  # a grant names its product
    ({"start_date": "2027-12-01", "end_date": "2027-01-01"}, "data"),
    ({"product_code": "01-A"}, "data.product_code"),
    ({"volume": {"amount": 0, "unit": "uur", "frequency": "week"}}, "data.volume.amount"),
    ({"reason": ""}, "data.reason"),
    ({"request_id": None}, "data.request_id"),
    ({"request_id": "x\u0000y"}, "data.request_id"),
])
def test_malformed_decision_names_the_field(ctx, client, anna, data, field):
    _, desk_key = desk(ctx)
    rid = _file(client, ctx, anna)["id"]
    body = decision(anna, rid)
    body["data"].update(data)
    _problem(client.post("/api/v1/messages", json=body, headers=desk_key), 422, field)
    assert _stored_messages(ctx) == 0


def test_second_decision_and_late_status_are_conflicts(ctx, client, anna):
    _, desk_key = desk(ctx)
    rid = _file(client, ctx, anna)["id"]
    first = client.post("/api/v1/messages", json=decision(anna, rid), headers=desk_key)
    assert first.status_code == 202
    # The same message again is a harmless resend: the same id, nothing new.
    again = client.post("/api/v1/messages", json=decision(anna, rid), headers=desk_key)
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    _problem(client.post("/api/v1/messages", json=decision(anna, rid, ref="SDD-B-2"),
                         headers=desk_key), 409, "data.request_id")
    _problem(client.post("/api/v1/messages", json=status(anna, rid, ref="SDD-S-9"),
                         headers=desk_key), 409, "data.request_id")
    assert _stored_messages(ctx) == 1


def test_status_with_an_aanvraag_date_ahead_or_before_the_melding(ctx, client, anna):
    _, desk_key = desk(ctx)
    rid = _file(client, ctx, anna, melding_date="2026-11-10")["id"]
    for ref, day in (("S-1", "2026-11-24"), ("S-2", "2026-11-09")):
        _problem(client.post("/api/v1/messages", headers=desk_key,
                             json=status(anna, rid, ref=ref, aanvraag_date=day)),
                 422, "data.aanvraag_date")
    assert _stored_messages(ctx) == 0
    assert client.get(f"/api/v1/wmo/requests/{rid}",
                      headers=regisseur(ctx)).json()["status"] != "in_behandeling"


def test_only_a_wmo_desk_sends_decisions(ctx, client, anna):
    desk(ctx)
    _, woonbron = partner(ctx)
    rid = _file(client, ctx, anna)["id"]
    r = client.post("/api/v1/messages", json=decision(anna, rid), headers=woonbron)
    _problem(r, 403, "type")
    assert _stored_messages(ctx) == 0


def test_decision_is_held_without_its_statute(ctx, client, worker, anna):
    # The basis is the policy's to give: switched off, the decision waits for consent.
    policy = ctx.policy
    statutes = dict(policy.statutes)
    statutes["wmo2015"] = dataclasses.replace(statutes["wmo2015"], enabled=False)
    ctx.policy = Policy(statutes=statutes, types=policy.types, safety=policy.safety)
    _, desk_key = desk(ctx)
    rid = _file(client, ctx, anna)["id"]
    assert client.post("/api/v1/messages", json=decision(anna, rid),
                       headers=desk_key).status_code == 202
    worker.drain()
    followed = client.get(f"/api/v1/wmo/requests/{rid}", headers=regisseur(ctx)).json()
    assert followed["status"] == "besluit"
    assert followed["decision"]["inbox_item_id"] is None
    assert _count(ctx, InboxItem) == 0
