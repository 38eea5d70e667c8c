"""What the resident sees of a safety report: withheld while the policy says so, reviewed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from consent.policy import PolicyError, load_policy, parse_policy
from tests.plugins.veiligthuis.helpers import household_of, safety_report, send, veilig_thuis
from tests.utils.builders import (
    arrears,
    operator,
    partner,
    person,
    regisseur,
    register,
    resident,
    teamlead,
)


def _mine(client, me) -> dict[str, list]:
    """The resident's three overviews, reduced to what identifies a report."""
    data = client.get("/api/v1/me/data", headers=me)
    disclosures = client.get("/api/v1/me/disclosures", headers=me)
    audit = client.get("/api/v1/me/audit", headers=me, params={"limit": 200})
    for r in (data, disclosures, audit):
        assert r.status_code == 200, r.text
    return {"data": sorted(k["type"] for k in data.json()),
            "disclosures": sorted(d["message_type"] for d in disclosures.json()),
            "audit": audit.json()}


def _withholdings(client, headers, **params) -> dict:
    r = client.get("/api/v1/withholdings", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def world(ctx, client):
    who = person(11)
    register(ctx, who)
    r = client.post(f"/api/v1/households/{household_of(ctx, who)}/regisseur",
                    json={"user": "anna"}, headers=teamlead(ctx))
    assert r.status_code == 200
    _, vt = veilig_thuis(ctx)
    _, woonbron = partner(ctx)
    return who, vt, woonbron


def test_withheld_while_reviewed_then_shown_when_ended(ctx, client, worker, clock, world):
    who, vt, woonbron = world
    me = resident(ctx, who)
    send(client, arrears(who, ref="A-1", by_bsn=True), woonbron)
    send(client, safety_report(who, ref="R-1"), vt)
    # Not yet routed: not shown either, so nothing slips through before delivery.
    assert _mine(client, me)["data"] == ["signal.arrears.rent"]
    worker.drain()
    anna = regisseur(ctx, user="anna")
    item_id = client.get("/api/v1/inbox", headers=anna, params={"type": "safety.report"}
                         ).json()["items"][0]["id"]
    assert client.post(f"/api/v1/inbox/{item_id}/open", json={"reason": "Plan maken"},
                       headers=anna).status_code == 200

    seen = _mine(client, me)
    assert seen["data"] == ["signal.arrears.rent"]
    assert seen["disclosures"] == ["signal.arrears.rent"]
    texts = [e["text"] for e in seen["audit"]["items"]]
    assert seen["audit"]["total"] == len(texts)  # the total counts what is shown
    assert not any("veiligheid" in t for t in texts)
    assert not any(e["action"].startswith(("withholding", "read.confidential"))
                   for e in seen["audit"]["items"])
    assert any("huurachterstand" in t for t in texts)

    lead = teamlead(ctx)
    page = _withholdings(client, lead)
    assert page["total"] == 1
    held = page["items"][0]
    assert held["item_id"] == item_id and held["status"] == "active"
    assert held["reason_code"] == "protect-child-or-victim"
    assert held["withheld_by"] == "policy:meldrecht"
    assert held["review_at"].startswith((clock.now + timedelta(days=28)).date().isoformat())
    assert who.bsn not in str(page) and who.name not in str(page)
    assert _withholdings(client, operator(ctx))["total"] == 1  # the operator oversees too
    assert _withholdings(client, teamlead(ctx, "crabbehof"))["total"] == 0

    clock.advance(days=29)
    lead, me = teamlead(ctx), resident(ctx, who)  # fresh tokens at the new time
    assert _withholdings(client, lead)["items"][0]["status"] == "review_due"
    assert _withholdings(client, lead, status="review_due")["total"] == 1
    url = f"/api/v1/withholdings/{held['id']}/review"
    r = client.post(url, json={"decision": "extend"}, headers=lead)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active" and r.json()["reviewed_by"] == "bram"
    assert _mine(client, me)["data"] == ["signal.arrears.rent"]  # still withheld

    r = client.post(url, json={"decision": "end"}, headers=lead)
    assert r.status_code == 200 and r.json()["status"] == "ended"
    seen = _mine(client, me)
    assert seen["data"] == ["safety.report", "signal.arrears.rent"]
    assert seen["disclosures"] == ["safety.report", "signal.arrears.rent"]
    actions = [e["action"] for e in seen["audit"]["items"]]
    assert {"read.confidential", "withholding.start", "withholding.end"} <= set(actions)
    assert client.post(url, json={"decision": "end"}, headers=lead).status_code == 409
    assert _withholdings(client, lead)["total"] == 0
    assert _withholdings(client, lead, status="ended")["total"] == 1


def test_only_the_wijks_team_lead_reviews(ctx, client, worker, world):
    who, vt, _ = world
    send(client, safety_report(who, ref="R-1"), vt)
    worker.drain()
    held = _withholdings(client, teamlead(ctx))["items"][0]
    url = f"/api/v1/withholdings/{held['id']}/review"
    for headers, status in ((operator(ctx), 403), (regisseur(ctx, user="anna"), 403),
                            (resident(ctx, who), 403), (teamlead(ctx, "crabbehof"), 404)):
        assert client.post(url, json={"decision": "end"}, headers=headers).status_code == status
    assert client.get("/api/v1/withholdings", headers=regisseur(ctx)).status_code == 403
    assert _withholdings(client, teamlead(ctx))["items"][0]["status"] == "active"


@pytest.mark.parametrize(("body", "field"), [
    ({}, "decision"), ({"decision": "forget"}, "decision"),
    ({"decision": "extend", "review_at": "2020-01-01T00:00:00+00:00"}, "review_at"),
    ({"decision": "extend", "review_at": "2026-12-01T00:00:00"}, "review_at"),
    ({"decision": "extend", "review_at": "2030-01-01T00:00:00+00:00"}, "review_at"),
])
def test_a_bad_review_is_422_naming_the_field_and_changes_nothing(ctx, client, worker, world,
                                                                  body, field):
    who, vt, _ = world
    send(client, safety_report(who, ref="R-1"), vt)
    worker.drain()
    lead = teamlead(ctx)
    before = _withholdings(client, lead)["items"][0]
    r = client.post(f"/api/v1/withholdings/{before['id']}/review", json=body, headers=lead)
    assert r.status_code == 422, r.text
    assert field in r.json()["errors"][0]["field"]
    assert _withholdings(client, lead)["items"][0] == before


def test_the_default_policy_withholds_safety_reports_with_a_review_period():
    basis = load_policy().safety["meldrecht"]
    assert basis.withhold_from_resident is True
    assert (basis.review_days, basis.withhold_reason) == (28, "protect-child-or-victim")


SAFETY = """
[safety.meldrecht]
title = "meldrecht van Veilig Thuis"
enabled = true
{extra}
[types."safety.report"]
category = "veiligheid"
safety = "meldrecht"
"""


def test_a_policy_may_show_safety_reports_to_the_resident():
    basis = parse_policy(SAFETY.format(extra=""), source="p.toml").safety["meldrecht"]
    assert basis.withhold_from_resident is False and basis.review_days is None


@pytest.mark.parametrize(("extra", "where", "problem"), [
    ("withhold_from_resident = true\nwithhold_reason = \"x\"", "review_days", "missing"),
    ("withhold_from_resident = true\nreview_days = 0\nwithhold_reason = \"x\"",
     "review_days", "from 1 to 366"),
    ("withhold_from_resident = true\nreview_days = 28", "withhold_reason", "missing"),
    ("withhold_from_resident = true\nreview_days = 28\nwithhold_reason = \"Kind!\"",
     "withhold_reason", "lowercase"),
    ("withhold_from_resident = \"ja\"", "withhold_from_resident", "true or false"),
    ("review_days = 28", "review_days", "only allowed with withhold_from_resident"),
])
def test_an_incoherent_withholding_is_refused(extra, where, problem):
    with pytest.raises(PolicyError) as info:
        parse_policy(SAFETY.format(extra=extra), source="p.toml")
    assert info.value.where == f"safety.meldrecht.{where}"
    assert problem in info.value.problem
