"""The Wmo's legal terms: flagged to the regisseur before they run out, on the fake clock."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from hub.core.models import AuditEvent
from plugins.sdd.service import check_terms, working_days_between
from tests.plugins.sdd.helpers import desk, desk_server, status, wmo_request
from tests.utils.builders import person, regisseur, register

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture(autouse=True)
def desk_api():
    """The desk's server: every request it is sent is answered 201 (respx)."""
    mock, route = desk_server()
    with mock:
        yield route


@pytest.mark.parametrize(("start", "end", "days"), [
    (date(2026, 11, 23), date(2026, 11, 23), 0),   # Monday, same day
    (date(2026, 11, 23), date(2026, 11, 27), 4),   # to Friday
    (date(2026, 11, 27), date(2026, 11, 30), 1),   # Friday to Monday: the weekend is free
    (date(2026, 11, 28), date(2026, 11, 29), 0),   # Saturday to Sunday
    (date(2026, 12, 1), date(2026, 11, 27), -2),   # past: negative
])
def test_working_days(start, end, days):
    assert working_days_between(start, end) == days


def _file(client, ctx, who, **fields) -> str:
    r = client.post("/api/v1/wmo/requests", json=wmo_request(who, **fields),
                    headers=regisseur(ctx))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _due_soon(client, ctx) -> list[dict]:
    r = client.get("/api/v1/wmo/requests", params={"due": "soon"}, headers=regisseur(ctx))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _check(ctx, warn_days: int = 3):
    with ctx.sessions() as session:
        report = check_terms(session=session, ctx=ctx, now=ctx.clock(), warn_days=warn_days)
        session.commit()
    return report


def _flags(ctx) -> list[dict]:
    with ctx.sessions() as session:
        return [e.data for e in session.scalars(select(AuditEvent).where(
            AuditEvent.action == "wmo.term.flagged").order_by(AuditEvent.seq))]


def test_investigation_term_is_flagged_before_it_runs_out(ctx, client, clock):
    anna = person(1)
    register(ctx, anna)
    desk(ctx)
    # Melding on Monday 23 November: the investigation must end by Monday 4 January.
    rid = _file(client, ctx, anna)
    assert _due_soon(client, ctx) == []
    assert _check(ctx).flagged == 0

    clock.advance(days=36)  # Tuesday 29 December: 4 working days left
    assert _due_soon(client, ctx) == []
    assert _check(ctx).flagged == 0

    clock.advance(days=1)  # Wednesday 30 December: 3 working days left
    [item] = _due_soon(client, ctx)
    assert item["id"] == rid
    [term] = item["terms"]
    assert term == {"kind": "onderzoek", "due": "2027-01-04", "working_days_left": 3,
                    "near": True, "overdue": False, "text": term["text"]}
    assert "4 januari 2027" in term["text"] and "nog 3 werkdagen" in term["text"]
    assert "onderzoek" in term["text"]

    report = _check(ctx)
    assert (report.checked, report.flagged, report.overdue) == (1, 1, 0)
    assert _check(ctx).flagged == 0  # once per term
    followed = client.get(f"/api/v1/wmo/requests/{rid}", headers=regisseur(ctx)).json()
    assert followed["flagged_term"] == "onderzoek" and followed["flagged_at"] is not None
    assert _flags(ctx) == [{"request_id": rid, "term": "onderzoek", "due": "2027-01-04",
                            "wijk": "krispijn"}]

    clock.advance(days=6)  # Tuesday 5 January: past
    [term] = _due_soon(client, ctx)[0]["terms"]
    assert term["overdue"] is True and "verlopen" in term["text"]
    assert _check(ctx).overdue == 1


def test_decision_term_follows_the_aanvraag_and_ends_with_the_decision(ctx, client, clock):
    anna = person(1)
    register(ctx, anna)
    _, desk_key = desk(ctx)
    rid = _file(client, ctx, anna)
    # The desk receives the aanvraag on Tuesday 24 November: decision by Tuesday 8 December.
    clock.advance(days=1)
    assert client.post("/api/v1/messages", json=status(anna, rid, aanvraag_date="2026-11-24"),
                       headers=desk_key).status_code == 202
    clock.advance(days=10)  # Friday 4 December: 2 working days left
    [item] = _due_soon(client, ctx)
    assert [t["kind"] for t in item["terms"]] == ["besluit"]
    assert "2 weken na de aanvraag" in item["terms"][0]["text"]
    assert _check(ctx).flagged == 1

    from tests.plugins.sdd.helpers import decision

    assert client.post("/api/v1/messages", json=decision(anna, rid),
                       headers=desk_key).status_code == 202
    assert _due_soon(client, ctx) == []
    clock.advance(days=30)
    report = _check(ctx)
    assert (report.checked, report.flagged, report.overdue) == (0, 0, 0)


def test_a_configurable_window(ctx, client, clock, monkeypatch):
    anna = person(1)
    register(ctx, anna)
    desk(ctx)
    _file(client, ctx, anna, melding_date="2026-11-01")  # due Sunday 13 December
    clock.advance(days=11)  # Friday 4 December: 5 working days left
    assert _due_soon(client, ctx) == []
    monkeypatch.setenv("HUB_WMO_WARN_DAYS", "5")
    assert len(_due_soon(client, ctx)) == 1
    assert _check(ctx, warn_days=4).flagged == 0
    assert _check(ctx, warn_days=5).flagged == 1


@sqlite_only
def test_hub_wmo_check_terms_command(ctx, client, clock, monkeypatch, capsys):
    anna = person(1)
    register(ctx, anna)
    desk(ctx)
    _file(client, ctx, anna, melding_date="2026-10-01")  # due 12 November: overdue now
    monkeypatch.setenv("HUB_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.setenv("HUB_DATABASE_URL", ctx.settings.database_url)
    from hub.cli import main

    assert main(["wmo", "check-terms"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {k: report[k] for k in ("checked", "flagged", "overdue")} == {
        "checked": 1, "flagged": 1, "overdue": 1}
    assert main(["wmo", "check-terms", "--warn-days", "10"]) == 0
    assert json.loads(capsys.readouterr().out)["flagged"] == 0
