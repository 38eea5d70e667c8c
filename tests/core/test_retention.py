"""Retention: statute-based data goes after the policy's limit unless help started."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from hub.cli import main
from hub.core.models import InboxItem, Message, WebLogin
from hub.core.retention import run_retention
from tests.utils.builders import arrears, nuisance, partner, person, regisseur, register, resident


def _send(client, body, headers) -> str:
    r = client.post("/api/v1/messages", json=body, headers=headers)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def _run(ctx, **kw):
    with ctx.sessions() as session, session.begin():
        return run_retention(session=session, ctx=ctx, now=ctx.clock(), **kw).as_json()


def test_statute_items_go_after_the_limit_unless_taken_up(ctx, client, worker, clock):
    anna, bram = person(401), person(402)
    register(ctx, anna, bram)
    _, woonbron = partner(ctx)
    staff = regisseur(ctx)
    old = _send(client, arrears(anna, ref="A-1"), woonbron)
    helped = _send(client, arrears(bram, ref="B-1"), woonbron)
    worker.drain()
    repeat = _send(client, arrears(anna, ref="A-2"), woonbron)  # same tenancy, same amount
    worker.drain()
    items = {i["data"]["name"]: i["id"] for i in
             client.get("/api/v1/inbox", headers=staff).json()["items"]}
    assert client.post(f"/api/v1/inbox/{items[bram.name]}/take-up",
                       headers=staff).status_code == 200

    clock.advance(days=89)
    assert _run(ctx)["removed"] == {}
    clock.advance(days=1)
    dry = _run(ctx, dry_run=True)
    assert dry["removed"] == {"signal.arrears.rent": {"items": 1, "messages": 2}}
    assert dry["dry_run"] is True
    staff = regisseur(ctx)
    assert client.get("/api/v1/inbox", headers=staff).json()["total"] == 2  # nothing changed

    assert _run(ctx)["removed"] == {"signal.arrears.rent": {"items": 1, "messages": 2}}
    with ctx.sessions() as session:
        purged = {m.id: m for m in session.scalars(select(Message))}
        assert purged[old].payload_sealed == "" and purged[old].purged_at == clock.now
        assert purged[repeat].payload_sealed == ""
        assert purged[helped].purged_at is None and purged[helped].payload_sealed
        item = session.get(InboxItem, items[anna.name])
        assert (item.hidden, item.fields, item.measure, item.status) == (
            True, [], None, "closed")
    page = client.get("/api/v1/inbox", headers=staff).json()
    assert [i["id"] for i in page["items"]] == [items[bram.name]]
    # The sender learns only that help was not started.
    assert client.get(f"/api/v1/messages/{old}", headers=woonbron).json()["status"] == \
        "not_taken_up"
    # The resident sees that it existed and that its data is gone.
    me = resident(ctx, anna)
    known = {k["id"]: k for k in client.get("/api/v1/me/data", headers=me).json()}
    assert known[old]["status"] == "purged" and known[old]["fields"] == []
    assert "De gegevens zijn verwijderd op 21 februari 2027" in known[old]["explanation"]
    [d] = client.get("/api/v1/me/disclosures", headers=me).json()
    assert d["still_shown"] is False and "verwijderd" in d["explanation"]
    # A second run finds nothing more; a resent source_ref is still a duplicate.
    assert _run(ctx)["removed"] == {}
    r = client.post("/api/v1/messages", json=arrears(anna, ref="A-1"), headers=woonbron)
    assert r.json()["id"] == old


def test_retention_follows_the_policy_limit(ctx, client, worker, clock):
    anna = person(403)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    _send(client, arrears(anna, ref="A-1"), woonbron)
    worker.drain()
    clock.advance(days=30)
    ctx.policy = ctx.policy.__class__(
        statutes={"wgs": ctx.policy.statutes["wgs"].__class__(
            key="wgs", title="Wet gemeentelijke schuldhulpverlening", enabled=True,
            retention_days=30)},
        types=ctx.policy.types, safety=ctx.policy.safety)
    assert _run(ctx)["removed"] == {"signal.arrears.rent": {"items": 1, "messages": 1}}


def test_retention_writes_the_expired_versions_of_consents(ctx, client, clock):
    anna = person(404)
    register(ctx, anna)
    me = resident(ctx, anna)
    body = {"source_kinds": ["woningcorporatie"], "categories": ["wonen"], "purpose": "hulp",
            "valid_until": (clock.now + timedelta(hours=1)).isoformat()}
    assert client.post("/api/v1/me/consents", json=body, headers=me).status_code == 201
    clock.advance(hours=2)
    assert _run(ctx, dry_run=True)["consents_expired"] == 1
    assert _run(ctx)["consents_expired"] == 1
    assert _run(ctx)["consents_expired"] == 0


def test_hub_retention_run_prints_a_json_report(ctx, monkeypatch, capsys):
    monkeypatch.setenv("HUB_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.setenv("HUB_DATABASE_URL", ctx.settings.effective_database_url)
    assert main(["retention", "run", "--dry-run"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dry_run"] is True and report["removed"] == {}
    assert main(["retention", "run"]) == 0
    assert json.loads(capsys.readouterr().out)["dry_run"] is False


def test_messages_never_shared_are_not_kept(ctx, client, worker, clock):
    anna, bram = person(405), person(406)
    register(ctx, anna, bram)
    _, woonbron = partner(ctx)
    refused = _send(client, nuisance(anna, ref="N-1"), woonbron)
    waiting = _send(client, nuisance(bram, ref="N-2"), woonbron)
    worker.drain()
    me = resident(ctx, anna)
    [req] = client.get("/api/v1/me/requests", headers=me).json()
    assert client.post(f"/api/v1/me/requests/{req['id']}/deny", headers=me).status_code == 200

    report = _run(ctx)
    assert report["unshared"] == {"signal.nuisance": 1}  # the refusal goes at once
    clock.advance(days=29)
    assert _run(ctx)["unshared"] == {}  # Bram's question is still open
    clock.advance(days=1)
    assert _run(ctx, dry_run=True)["unshared"] == {"signal.nuisance": 1}
    assert _run(ctx)["unshared"] == {"signal.nuisance": 1}
    with ctx.sessions() as session:
        for mid in (refused, waiting):
            message = session.get(Message, mid)
            assert (message.payload_sealed, message.status) == ("", "closed")
    assert client.get(f"/api/v1/messages/{waiting}", headers=woonbron).json()["status"] == \
        "not_taken_up"
    [known] = client.get("/api/v1/me/data", headers=resident(ctx, anna)).json()
    assert known["status"] == "purged"
    assert known["explanation"].endswith(
        "Die is niet gedeeld. De gegevens zijn verwijderd op 23 november 2026.")


def test_retention_deletes_screen_sessions_that_can_open_nothing(ctx, clock):
    now = clock.now
    with ctx.sessions() as session, session.begin():
        session.add_all([
            WebLogin(id="live", started_at=now, expires_at=now + timedelta(hours=8)),
            WebLogin(id="expired", started_at=now - timedelta(hours=9),
                     expires_at=now - timedelta(hours=1)),
            WebLogin(id="logged-out", started_at=now, expires_at=now + timedelta(hours=8),
                     ended_at=now)])
    assert _run(ctx, dry_run=True)["web_sessions"] == 2
    with ctx.sessions() as session:
        assert len(session.scalars(select(WebLogin.id)).all()) == 3  # a dry run deletes nothing
    assert _run(ctx)["web_sessions"] == 2
    with ctx.sessions() as session:
        assert session.scalars(select(WebLogin.id)).all() == ["live"]
