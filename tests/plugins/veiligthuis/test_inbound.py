"""Veilig Thuis' safety reports: to the designated regisseur only, confidential, audited."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

import pytest
from sqlalchemy import func, select

from hub.core.models import AuditEvent, ConfidentialRead, InboxItem, Message
from tests.plugins.veiligthuis.helpers import household_of, safety_report, send, veilig_thuis
from tests.utils.builders import arrears, partner, person, regisseur, register, teamlead

REASON = "Huisbezoek voorbereiden met de moeder"


def _inbox(client, headers) -> dict:
    r = client.get("/api/v1/inbox", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def _designate(client, headers, household_id: str, user: str):
    return client.post(f"/api/v1/households/{household_id}/regisseur", json={"user": user},
                       headers=headers)


@pytest.fixture
def family(ctx):
    """A resident of Krispijn whose household has anna as its designated regisseur."""
    who = person(7)
    register(ctx, who)
    return who


def test_the_plugin_registers_through_the_entry_point_like_a_third_party(ctx):
    found = {ep.name: ep.value for ep in entry_points(group="wijkhub.plugins")}
    assert found["veiligthuis"] == "plugins.veiligthuis"
    mt = ctx.plugins.catalog.type("safety.report")
    assert mt is not None and mt.partner_kinds == ("veiligthuis",)
    assert mt.category == "veiligheid"
    assert {"name": "veiligthuis", "module": "plugins.veiligthuis",
            "message_types": ["safety.report", "safety.report.wijkteam"]
            } in ctx.plugins.describe()
    outgoing = ctx.plugins.catalog.type("safety.report.wijkteam")
    assert (outgoing.inbound, outgoing.outbound) == (False, True)


def test_only_the_designated_regisseur_sees_and_opens_the_report(ctx, client, worker, family,
                                                                 caplog):
    caplog.set_level(logging.DEBUG)
    assert _designate(client, teamlead(ctx), household_of(ctx, family), "anna").status_code == 200
    _, vt = veilig_thuis(ctx)
    send(client, safety_report(family, ref="R-1"), vt)
    worker.drain()

    anna, bram = regisseur(ctx, user="anna"), regisseur(ctx, user="bram")
    listed = _inbox(client, anna)["items"]
    assert len(listed) == 1
    item = listed[0]
    # A list shows who sent it and nothing of what it says.
    assert item["summary"] == "Vertrouwelijk bericht van Veilig Thuis"
    assert item["data"] == {} and item["confidential"] is True
    assert item["addressed_to"] == "anna" and item["basis"] == "safety"
    assert _inbox(client, bram)["total"] == 0
    assert _inbox(client, teamlead(ctx))["total"] == 0  # addressed: not the team lead's
    for method, path, kwargs in (("get", "", {"params": {"reason": REASON}}),
                                 ("post", "/open", {"json": {"reason": REASON}}),
                                 ("post", "/take-up", {}), ("post", "/close", {})):
        r = client.request(method.upper(), f"/api/v1/inbox/{item['id']}{path}", headers=bram,
                           **kwargs)
        assert r.status_code == 404, (path, r.text)

    opened = client.post(f"/api/v1/inbox/{item['id']}/open", json={"reason": REASON},
                         headers=anna)
    assert opened.status_code == 200, opened.text
    body = opened.json()
    assert body["data"]["description"] == "Zorgen over de veiligheid van de kinderen"
    assert body["data"]["case_ref"] == "VT-R-1"
    assert body["summary"] == "Overdracht van Veilig Thuis over kindermishandeling"
    again = client.get(f"/api/v1/inbox/{item['id']}", params={"reason": "Tweede keer"},
                       headers=anna)
    assert again.status_code == 200 and again.json()["data"] == body["data"]

    with ctx.sessions() as session:
        reads = session.scalars(select(ConfidentialRead).order_by(ConfidentialRead.at)).all()
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "read.confidential").order_by(AuditEvent.seq)).all()
        assert len(reads) == 2 == len(events)
        assert {r.actor for r in reads} == {"anna"}
        assert REASON not in reads[0].reason_sealed  # sealed at rest
        from hub.core.confidential import read_reason
        assert {read_reason(ctx, r) for r in reads} == {REASON, "Tweede keer"}
        assert [e.data["read_id"] for e in events] == [r.id for r in reads]
        assert all(REASON not in str(e.data) for e in events)
        assert events[0].actor == "anna" and events[0].basis == "safety:meldrecht"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert REASON not in logged and "kinderen" not in logged and family.bsn not in logged


@pytest.mark.parametrize("how", ["get", "get-blank", "post-blank", "post-missing"])
def test_opening_without_a_reason_is_422_naming_reason(ctx, client, worker, family, how):
    assert _designate(client, teamlead(ctx), household_of(ctx, family), "anna").status_code == 200
    _, vt = veilig_thuis(ctx)
    send(client, safety_report(family, ref="R-1"), vt)
    worker.drain()
    anna = regisseur(ctx, user="anna")
    item_id = _inbox(client, anna)["items"][0]["id"]
    url = f"/api/v1/inbox/{item_id}"
    r = {"get": lambda: client.get(url, headers=anna),
         "get-blank": lambda: client.get(url, params={"reason": "  "}, headers=anna),
         "post-blank": lambda: client.post(f"{url}/open", json={"reason": " \n"}, headers=anna),
         "post-missing": lambda: client.post(f"{url}/open", json={}, headers=anna)}[how]()
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"].split(".")[-1] for e in r.json()["errors"]] == ["reason"]
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ConfidentialRead)) == 0


def test_without_a_designated_regisseur_it_waits_for_the_team_lead(ctx, client, worker, family):
    _, vt = veilig_thuis(ctx)
    send(client, safety_report(family, ref="R-1"), vt)
    worker.drain()
    anna, bram, lead = regisseur(ctx, user="anna"), regisseur(ctx, user="bram"), teamlead(ctx)
    # Not the whole wijkteam: no regisseur of the wijk sees it.
    assert _inbox(client, anna)["total"] == 0 and _inbox(client, bram)["total"] == 0
    waiting = _inbox(client, lead)["items"]
    assert len(waiting) == 1 and waiting[0]["addressed_to"] is None
    assert waiting[0]["data"] == {}
    household_id = waiting[0]["household_id"]
    assert client.get(f"/api/v1/households/{household_id}",
                      headers=lead).json()["waiting_for_assignment"] == 1
    # A regisseur cannot claim the household (and its report) while it waits.
    r = _designate(client, bram, household_id, "bram")
    assert r.status_code == 403, r.text
    r = _designate(client, lead, household_id, "anna")
    assert r.status_code == 200, r.text
    assert r.json()["moved_items"] == 1 and r.json()["regisseur"] == "anna"
    assert _inbox(client, lead)["total"] == 0
    assert [i["id"] for i in _inbox(client, anna)["items"]] == [waiting[0]["id"]]
    assert _inbox(client, bram)["total"] == 0


def test_a_hand_over_takes_the_confidential_items_along(ctx, client, worker, family):
    household_id = household_of(ctx, family)
    anna, bram = regisseur(ctx, user="anna"), regisseur(ctx, user="bram")
    assert _designate(client, anna, household_id, "anna").status_code == 200  # claims it
    _, vt = veilig_thuis(ctx)
    send(client, safety_report(family, ref="R-1"), vt)
    worker.drain()
    assert _inbox(client, anna)["total"] == 1
    assert _designate(client, bram, household_id, "bram").status_code == 403  # not bram's
    r = _designate(client, anna, household_id, "bram")  # anna hands over
    assert r.status_code == 200 and r.json()["previous"] == "anna"
    assert _inbox(client, anna)["total"] == 0 and _inbox(client, bram)["total"] == 1
    with ctx.sessions() as session:
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "household.designate").order_by(AuditEvent.seq)).all()
    assert [(e.actor, e.data["previous"], e.data["regisseur"]) for e in events] == [
        ("anna", None, "anna"), ("anna", "anna", "bram")]


def test_ordinary_items_stay_with_the_whole_wijk(ctx, client, worker, family):
    assert _designate(client, teamlead(ctx), household_of(ctx, family), "anna").status_code == 200
    _, woonbron = partner(ctx)
    send(client, arrears(family, ref="A-1"), woonbron)
    worker.drain()
    item = _inbox(client, regisseur(ctx, user="bram"))["items"][0]
    assert item["confidential"] is False and item["data"]["amount_eur"] == "1250.00"
    assert client.get(f"/api/v1/inbox/{item['id']}",
                      headers=regisseur(ctx, user="bram")).status_code == 200


@pytest.mark.parametrize(("change", "field"), [
    ({"kind": "complaint"}, "data.kind"),
    ({"concern": None}, "data.concern"),
    ({"case_ref": ""}, "data.case_ref"),
    ({"case_ref": "VT 1"}, "data.case_ref"),
    ({"description": "x" * 8001}, "data.description"),
    ({"secret": "extra"}, "data.secret"),
])
def test_bad_reports_are_422_naming_the_field_and_store_nothing(ctx, client, family, change,
                                                                field):
    _, vt = veilig_thuis(ctx)
    body = safety_report(family, ref="R-1")
    body["data"].update(change)
    r = client.post("/api/v1/messages", json=body, headers=vt)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]]
    assert "kinderen" not in r.text
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_a_housing_corporation_cannot_send_a_safety_report(ctx, client, family):
    _, woonbron = partner(ctx)
    r = client.post("/api/v1/messages", json=safety_report(family, ref="R-1"), headers=woonbron)
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "type"
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0


@pytest.mark.parametrize(("body", "field"), [
    ({}, "user"), ({"user": ""}, "user"), ({"user": "an na"}, "user"),
    ({"user": "anna", "extra": 1}, "extra"),
])
def test_bad_designations_are_422_and_change_nothing(ctx, client, family, body, field):
    household_id = household_of(ctx, family)
    r = client.post(f"/api/v1/households/{household_id}/regisseur", json=body,
                    headers=teamlead(ctx))
    assert r.status_code == 422, r.text
    assert field in r.json()["errors"][0]["field"]
    assert client.get(f"/api/v1/households/{household_id}",
                      headers=teamlead(ctx)).json()["regisseur"] is None


def test_another_wijks_staff_cannot_see_or_designate(ctx, client, family):
    household_id = household_of(ctx, family)
    for headers in (regisseur(ctx, "crabbehof", user="chris"), teamlead(ctx, "crabbehof")):
        assert client.get(f"/api/v1/households/{household_id}",
                          headers=headers).status_code == 404
        assert _designate(client, headers, household_id, "chris").status_code == 404
    assert _designate(client, teamlead(ctx), "no-such-household", "anna").status_code == 404


def test_an_unmatched_report_goes_to_the_team_lead_for_triage(ctx, client, worker):
    stranger = person(99, postcode="3317AB")  # not in the registry
    _, vt = veilig_thuis(ctx)
    body = safety_report(stranger, ref="R-9")
    body["subject"] = {"name": stranger.name, "postcode": "3317AB", "huisnummer": "5"}
    send(client, body, vt)
    worker.drain()
    assert _inbox(client, regisseur(ctx, user="anna"))["total"] == 0
    items = _inbox(client, teamlead(ctx))["items"]
    assert len(items) == 1 and items[0]["triage"] is True and items[0]["data"] == {}
    opened = client.post(f"/api/v1/inbox/{items[0]['id']}/open",
                         json={"reason": "Uitzoeken om wie het gaat"}, headers=teamlead(ctx))
    assert opened.status_code == 200 and opened.json()["data"]["case_ref"] == "VT-R-9"
    with ctx.sessions() as session:
        item = session.get(InboxItem, items[0]["id"])
        assert item.confidential and item.addressed_to is None


def test_read_reasons_are_resealed_when_the_data_key_rotates(ctx, client, worker, family,
                                                             monkeypatch):
    from hub.core.confidential import read_reason
    from hub.core.crypto import Cipher
    from hub.core.keys import rotate_data_key
    from hub.core.reencrypt import reencrypt_all

    monkeypatch.delenv("HUB_KEYS", raising=False)
    assert _designate(client, teamlead(ctx), household_of(ctx, family), "anna").status_code == 200
    _, vt = veilig_thuis(ctx)
    send(client, safety_report(family, ref="R-1"), vt)
    worker.drain()
    anna = regisseur(ctx, user="anna")
    item_id = _inbox(client, anna)["items"][0]["id"]
    assert client.post(f"/api/v1/inbox/{item_id}/open", json={"reason": REASON},
                       headers=anna).status_code == 200
    rotate_data_key(ctx.keys.provider)
    reencrypt_all(ctx=ctx)
    with ctx.sessions() as session:
        read = session.scalars(select(ConfidentialRead)).one()
        assert Cipher.key_id(read.reason_sealed) == "k2"
        assert read_reason(ctx, read) == REASON
