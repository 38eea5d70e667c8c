"""The regisseur's report to Veilig Thuis (meldcode step 5): retries, one delivery, a receipt.

respx stands in for Veilig Thuis' own server.
"""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from sqlalchemy import func, select

from hub.core.models import AuditEvent, DeadLetter, OutboundMessageRow, OutboxEntry
from tests.plugins.veiligthuis.helpers import household_of, safety_report, send, veilig_thuis
from tests.utils.builders import operator, partner, person, regisseur, register, teamlead

ENDPOINT = "https://veiligthuis.example/api"
REPORTS = f"{ENDPOINT}/meldingen"


def report_body(who, *, ref: str = "M-1", **report) -> dict:
    return {"ref": ref, "bsn": who.bsn, "report": {
        "concern": "child_abuse", "description": "Blauwe plekken gezien bij de jongste",
        "acute": False, "resident_informed": False,
        "not_informed_reason": "Moeder loopt gevaar als vader het hoort",
        "reporter": {"name": "Anna", "phone": "078-1234567"}, **report}}


@pytest.fixture
def family(ctx, client):
    who = person(31)
    register(ctx, who)
    r = client.post(f"/api/v1/households/{household_of(ctx, who)}/regisseur",
                    json={"user": "anna"}, headers=teamlead(ctx))
    assert r.status_code == 200
    return who


def _count(ctx, model) -> int:
    with ctx.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


@respx.mock
def test_timeouts_and_5xx_then_success_deliver_once_with_the_reference(ctx, client, worker,
                                                                       clock, family):
    veilig_thuis(ctx, endpoint=ENDPOINT)
    route = respx.post(REPORTS).mock(side_effect=[
        httpx.ReadTimeout("slow"), httpx.Response(503),
        httpx.Response(201, json={"reference": "VT-2026-0815"})])
    anna = regisseur(ctx, user="anna")
    r = client.post("/api/v1/veiligthuis/reports", json=report_body(family), headers=anna)
    assert r.status_code == 202, r.text
    sent = r.json()
    assert (sent["status"], sent["receipt"], sent["attempts"]) == ("queued", None, 0)
    worker.drain()
    assert route.call_count == 1  # the timeout; the retry waits for its backoff
    for seconds in (1, 2, 60):  # past each backoff (3 attempts in tests), then nothing left
        clock.advance(seconds=seconds)
        worker.drain()
    assert route.call_count == 3
    assert {c.request.headers["idempotency-key"] for c in route.calls} == {sent["id"]}
    body = json.loads(route.calls[-1].request.read())
    assert body["person"] == {"name": family.name, "birthdate": family.birthdate,
                              "postcode": family.postcode, "huisnummer": family.huisnummer}
    assert body["concern"] == "child_abuse" and body["resident_informed"] is False
    assert body["id"] == sent["id"] and body["ref"] == "M-1"
    assert family.bsn not in json.dumps(body)  # the hub never holds the BSN

    anna = regisseur(ctx, user="anna")  # the clock moved: a fresh token
    state = client.get(f"/api/v1/veiligthuis/reports/{sent['id']}", headers=anna).json()
    assert (state["status"], state["receipt"], state["attempts"]) == (
        "delivered", "VT-2026-0815", 3)
    with ctx.sessions() as session:
        row = session.get(OutboundMessageRow, sent["id"])
        assert "Blauwe plekken" not in row.payload_sealed  # sealed at rest
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "message.sent")).one()
        assert event.actor == "anna" and event.subject == ctx.pseudonyms.subject(family.bsn)


@respx.mock
def test_the_same_ref_again_is_one_report(ctx, client, worker, family):
    veilig_thuis(ctx, endpoint=ENDPOINT)
    route = respx.post(REPORTS).mock(return_value=httpx.Response(
        201, json={"reference": "VT-1"}))
    anna = regisseur(ctx, user="anna")
    first = client.post("/api/v1/veiligthuis/reports", json=report_body(family), headers=anna)
    again = client.post("/api/v1/veiligthuis/reports", json=report_body(family), headers=anna)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    worker.drain()
    assert route.call_count == 1 and _count(ctx, OutboundMessageRow) == 1


@respx.mock
def test_a_refusal_is_dead_at_once_and_an_operator_replays_it(ctx, client, worker, family):
    veilig_thuis(ctx, endpoint=ENDPOINT)
    route = respx.post(REPORTS).mock(side_effect=[
        httpx.Response(400, json={"error": "onbekend"}),
        httpx.Response(201, json={"reference": "VT-9"})])
    anna = regisseur(ctx, user="anna")
    sent = client.post("/api/v1/veiligthuis/reports", json=report_body(family),
                       headers=anna).json()
    worker.drain()
    state = client.get(f"/api/v1/veiligthuis/reports/{sent['id']}", headers=anna).json()
    assert (state["status"], state["last_error"]) == ("failed", "HTTP 400")
    with ctx.sessions() as session:
        dead_id = session.scalar(select(DeadLetter.id).where(DeadLetter.message_id == sent["id"]))
    assert client.post(f"/api/v1/ops/dead-letters/{dead_id}/replay",
                       headers=operator(ctx)).status_code == 202
    worker.drain()
    state = client.get(f"/api/v1/veiligthuis/reports/{sent['id']}", headers=anna).json()
    assert (state["status"], state["receipt"]) == ("delivered", "VT-9")
    assert route.call_count == 2


@respx.mock
def test_an_answer_without_a_reference_is_delivered_without_a_receipt(ctx, client, worker,
                                                                      family):
    veilig_thuis(ctx, endpoint=ENDPOINT)
    respx.post(REPORTS).mock(return_value=httpx.Response(200, text="ok"))
    anna = regisseur(ctx, user="anna")
    sent = client.post("/api/v1/veiligthuis/reports", json=report_body(family),
                       headers=anna).json()
    worker.drain()
    state = client.get(f"/api/v1/veiligthuis/reports/{sent['id']}", headers=anna).json()
    assert (state["status"], state["receipt"]) == ("delivered", None)


@pytest.mark.parametrize(("change", "field"), [
    ({"bsn": "123456789"}, "bsn"),
    ({"ref": ""}, "ref"),
    ({"ref": "met spatie"}, "ref"),
    ({"report": {"concern": "child_abuse"}}, "report.description"),
    ({"report_extra": 1}, "report_extra"),
    ({"related_item_id": "not-an-item"}, "related_item_id"),
    ({"partner_id": "not-a-partner"}, "partner_id"),
])
def test_bad_reports_are_422_naming_the_field_and_store_nothing(ctx, client, family, change,
                                                                field):
    veilig_thuis(ctx, endpoint=ENDPOINT)
    body = {**report_body(family), **change}
    r = client.post("/api/v1/veiligthuis/reports", json=body,
                    headers=regisseur(ctx, user="anna"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]]
    assert family.bsn not in r.text
    assert _count(ctx, OutboundMessageRow) == 0 and _count(ctx, OutboxEntry) == 0


@pytest.mark.parametrize(("informed", "reason", "message"), [
    (False, None, "not_informed_reason is required"),
    (True, "Gevaar", "only for a resident who was not informed"),
])
def test_the_meldcode_asks_why_the_resident_was_not_informed(ctx, client, family, informed,
                                                             reason, message):
    veilig_thuis(ctx, endpoint=ENDPOINT)
    body = report_body(family, resident_informed=informed, not_informed_reason=reason)
    r = client.post("/api/v1/veiligthuis/reports", json=body,
                    headers=regisseur(ctx, user="anna"))
    assert r.status_code == 422 and message in r.text
    assert _count(ctx, OutboundMessageRow) == 0


def test_who_may_report_and_follow_a_report(ctx, client, worker, family):
    veilig_thuis(ctx, endpoint=ENDPOINT)
    bram = regisseur(ctx, user="bram")
    # Another regisseur of the wijk: the household has its designated regisseur.
    r = client.post("/api/v1/veiligthuis/reports", json=report_body(family), headers=bram)
    assert r.status_code == 403, r.text
    # Another wijk: the resident is not theirs (and whether the BSN exists is not said).
    r = client.post("/api/v1/veiligthuis/reports", json=report_body(family),
                    headers=regisseur(ctx, "crabbehof", user="chris"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "bsn"
    assert client.post("/api/v1/veiligthuis/reports", json=report_body(family),
                       headers=teamlead(ctx)).status_code == 403
    assert _count(ctx, OutboundMessageRow) == 0
    sent = client.post("/api/v1/veiligthuis/reports", json=report_body(family),
                       headers=regisseur(ctx, user="anna")).json()
    url = f"/api/v1/veiligthuis/reports/{sent['id']}"
    assert client.get(url, headers=regisseur(ctx, user="anna")).status_code == 200
    # Nor the team lead: a report about a household with a designated regisseur is that
    # regisseur's (issue 13: an outbound message is as visible as what it is about).
    assert client.get(url, headers=teamlead(ctx)).status_code == 404
    assert client.get(url, headers=bram).status_code == 404
    assert client.get(url, headers=teamlead(ctx, "crabbehof")).status_code == 404


def test_without_a_veilig_thuis_partner_it_is_409_and_nothing_is_stored(ctx, client, family):
    r = client.post("/api/v1/veiligthuis/reports", json=report_body(family),
                    headers=regisseur(ctx, user="anna"))
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "partner_id"
    assert _count(ctx, OutboundMessageRow) == 0


@respx.mock
def test_an_answer_to_a_veilig_thuis_hand_over_names_it(ctx, client, worker, family):
    _, vt = veilig_thuis(ctx, endpoint=ENDPOINT)
    respx.post(REPORTS).mock(return_value=httpx.Response(201, json={"reference": "VT-2"}))
    message_id = send(client, safety_report(family, ref="R-1"), vt)
    worker.drain()
    anna = regisseur(ctx, user="anna")
    item_id = client.get("/api/v1/inbox", headers=anna).json()["items"][0]["id"]
    body = {**report_body(family), "related_item_id": item_id}
    body["report"]["case_ref"] = "VT-R-1"
    sent = client.post("/api/v1/veiligthuis/reports", json=body, headers=anna).json()
    with ctx.sessions() as session:
        assert session.get(OutboundMessageRow, sent["id"]).related_message_id == message_id


@respx.mock
def test_the_resident_does_not_learn_of_the_report_while_it_is_withheld(ctx, client, worker,
                                                                        family):
    from tests.utils.builders import resident

    veilig_thuis(ctx, endpoint=ENDPOINT)
    respx.post(REPORTS).mock(return_value=httpx.Response(201, json={"reference": "VT-3"}))
    sent = client.post("/api/v1/veiligthuis/reports", json=report_body(family),
                       headers=regisseur(ctx, user="anna")).json()
    worker.drain()
    me = resident(ctx, family)
    actions = [e["action"] for e in client.get("/api/v1/me/audit", headers=me).json()["items"]]
    assert "message.sent" not in actions
    lead = teamlead(ctx)
    held = client.get("/api/v1/withholdings", headers=lead).json()["items"]
    assert [h["message_id"] for h in held] == [sent["id"]] and held[0]["item_id"] is None
    r = client.post(f"/api/v1/withholdings/{held[0]['id']}/review", json={"decision": "end"},
                    headers=lead)
    assert r.status_code == 200, r.text
    texts = {e["action"]: e["text"]
             for e in client.get("/api/v1/me/audit", headers=me).json()["items"]}
    assert "Veilig Thuis" in texts["message.sent"]


def test_a_housing_corporation_cannot_send_the_outbound_type_inbound(ctx, client, family):
    _, vt = veilig_thuis(ctx, endpoint=ENDPOINT)
    r = client.post("/api/v1/messages", headers=vt, json={
        "type": "safety.report.wijkteam", "source_ref": "X-1", "subject": {"bsn": family.bsn},
        "occurred_at": "2026-11-20T08:00:00+00:00", "data": {}})
    assert r.status_code in (403, 422) and r.json()["errors"][0]["field"] == "type"
    _, woonbron = partner(ctx)
    assert client.post("/api/v1/messages", headers=woonbron, json=safety_report(
        family, ref="R-2")).status_code == 403
