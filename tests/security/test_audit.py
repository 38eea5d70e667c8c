"""The audit log: every disclosure, read, consent change and admin action, hash-chained.

Tampering is done the way an intruder with database access would: plain SQL,
with the append-only triggers dropped first. ``hub audit verify`` must name
the first bad row for an edited, a deleted, a swapped and a cut-off row.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.cli import main
from hub.core.audit import record_event, verify
from hub.core.models import AuditEvent
from tests.utils.builders import (
    arrears,
    nuisance,
    partner,
    person,
    regisseur,
    register,
    resident,
)

REPO = Path(__file__).resolve().parents[2]


def fill(ctx, n: int, subject: str | None = None) -> None:
    """Append ``n`` events, one transaction each."""
    for i in range(n):
        with ctx.sessions() as session, session.begin():
            record_event(session, ctx=ctx, action="read", actor=f"user-{i}", role="regisseur",
                         subject=subject, data={"item_id": f"item-{i}", "fields": ["name"]},
                         basis="statute:wgs", system="api", client="127.0.0.1")


def run_sql(ctx, *statements: str) -> None:
    """Change the log behind the hub's back, as someone with database access could."""
    with ctx.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_delete"))
        for statement in statements:
            conn.execute(text(statement))


def verdict(ctx):
    with ctx.sessions() as session:
        return verify(session, ctx.keys)


def cli_verify(ctx, monkeypatch, capsys) -> tuple[int, str]:
    """``hub audit verify`` in-process, on the same data directory and database."""
    monkeypatch.setenv("HUB_ENV", "test")
    monkeypatch.setenv("HUB_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.setenv("HUB_DATABASE_URL", ctx.settings.database_url)
    code = main(["audit", "verify"])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_an_intact_log_verifies(ctx, monkeypatch, capsys):
    assert verdict(ctx).intact and verdict(ctx).count == 0  # an empty log is intact
    fill(ctx, 5)
    result = verdict(ctx)
    assert result.intact, result.reason
    assert (result.count, result.head_seq) == (5, 5)
    code, out = cli_verify(ctx, monkeypatch, capsys)
    assert code == 0
    assert "audit log intact: 5 events" in out


@pytest.mark.parametrize(("tamper", "first_bad", "says"), [
    ("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3", 3, "does not match its hash"),
    ("UPDATE audit_events SET data = NULL WHERE seq = 2", 2, "does not match its hash"),
    ("DELETE FROM audit_events WHERE seq = 3", 3, "row 3 is missing"),
    ("DELETE FROM audit_events WHERE seq = 1", 1, "row 1 is missing"),
    # A swapped pair: rows 3 and 4 trade places.
    ("UPDATE audit_events SET seq = -3 WHERE seq = 3;"
     "UPDATE audit_events SET seq = 3 WHERE seq = 4;"
     "UPDATE audit_events SET seq = 4 WHERE seq = -3", 3, "row 3"),
    ("DELETE FROM audit_events WHERE seq >= 5", 5, "rows 5 to 6 are missing"),
])
def test_verify_names_the_first_bad_row(ctx, monkeypatch, capsys, tamper, first_bad, says):
    fill(ctx, 6)
    run_sql(ctx, *tamper.split(";"))
    result = verdict(ctx)
    assert not result.intact
    assert result.first_bad == first_bad
    assert says in result.reason
    code, out = cli_verify(ctx, monkeypatch, capsys)
    assert code == 1
    assert f"audit log broken at row {first_bad}" in out


def test_swapping_whole_rows_but_keeping_numbers_is_caught(ctx):
    fill(ctx, 4)
    columns = ("at", "actor", "role", "action", "subject", "data", "basis", "system", "client",
               "prev_hash", "hash")
    with ctx.engine.connect() as conn:
        rows = {r.seq: r for r in conn.execute(text("SELECT * FROM audit_events"))}
    sets = [", ".join(f"{c} = :{c}" for c in columns)]
    with ctx.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER audit_events_no_update"))
        for target, source in ((2, 3), (3, 2)):
            values = {c: getattr(rows[source], c) for c in columns}
            if isinstance(values["data"], dict):
                values["data"] = json.dumps(values["data"])
            conn.execute(text(f"UPDATE audit_events SET {sets[0]} WHERE seq = {target}"),
                         values)
    result = verdict(ctx)
    assert result.first_bad == 2
    assert "does not link to the row before it" in result.reason


def test_a_rewritten_chain_without_the_audit_key_fails_at_the_signed_head(ctx):
    """An intruder who recomputes every hash after an edit still cannot sign the head."""
    fill(ctx, 4)
    from hub.core.audit import row_hash

    with ctx.sessions() as session, session.begin():
        rows = session.query(AuditEvent).order_by(AuditEvent.seq).all()
    prev = rows[1].hash
    updates = []
    for row in rows[2:]:
        row.prev_hash = prev
        if row.seq == 3:
            row.actor = "mallory"
        row.hash = row_hash(row)
        prev = row.hash
        updates.append(f"UPDATE audit_events SET actor = '{row.actor}', "
                       f"prev_hash = '{row.prev_hash}', hash = '{row.hash}' WHERE seq = {row.seq}")
    updates.append(f"UPDATE audit_head SET hash = '{prev}'")
    run_sql(ctx, *updates)
    result = verdict(ctx)
    assert not result.intact
    assert result.reason == "the chain head's signature is not valid"


def test_a_cut_off_tail_with_a_forged_head_is_caught(ctx):
    fill(ctx, 5)
    with ctx.engine.connect() as conn:
        third = conn.execute(text("SELECT hash FROM audit_events WHERE seq = 3")).scalar_one()
    run_sql(ctx, "DELETE FROM audit_events WHERE seq > 3",
            f"UPDATE audit_head SET seq = 3, hash = '{third}'")
    assert verdict(ctx).reason == "the chain head's signature is not valid"
    # Removing the signed head itself is no way out either.
    run_sql(ctx, "DELETE FROM audit_head")
    assert verdict(ctx).reason == "the signed chain head is missing"


def test_the_database_refuses_updates_and_deletes(ctx):
    fill(ctx, 2)
    for statement in ("UPDATE audit_events SET actor = 'x' WHERE seq = 1",
                      "DELETE FROM audit_events WHERE seq = 2"):
        with pytest.raises(Exception, match="append-only"), ctx.engine.begin() as conn:
            conn.execute(text(statement))
    assert verdict(ctx).intact


def test_concurrent_appends_never_fork_the_chain(ctx):
    threads, per_thread = 4, 15
    errors: list[BaseException] = []

    def append(n: int) -> None:
        try:
            for i in range(per_thread):
                with ctx.sessions() as session, session.begin():
                    record_event(session, ctx=ctx, action="read", actor=f"t{n}-{i}",
                                 role="regisseur", system="worker")
        except BaseException as exc:  # collected: an exception in a thread is otherwise lost
            errors.append(exc)

    workers = [threading.Thread(target=append, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    result = verdict(ctx)
    assert result.intact, result.reason
    assert result.count == threads * per_thread
    with ctx.sessions() as session:
        actors = {e.actor for e in session.query(AuditEvent)}
    assert len(actors) == threads * per_thread


def test_hub_audit_verify_as_a_command(migrated_data_dir, monkeypatch, capsys):
    """The acceptance contract, through the real entry point on the embedded default."""
    import os
    import sqlite3

    data = migrated_data_dir
    monkeypatch.setenv("HUB_DATA_DIR", str(data))
    monkeypatch.setenv("HUB_ENV", "test")
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    assert main(["partner", "add", "--name", "Woonbron", "--kind", "woningcorporatie"]) == 0
    assert main(["partner", "add", "--name", "Evides", "--kind", "woningcorporatie"]) == 0
    capsys.readouterr()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({"HUB_DATA_DIR": str(data), "HUB_ENV": "test"})

    def verify_command():
        return subprocess.run([sys.executable, "-m", "hub.cli", "audit", "verify"],
                              capture_output=True, text=True, env=env, cwd=REPO, timeout=120)

    ok = verify_command()
    assert ok.returncode == 0, ok.stderr
    assert "audit log intact: 2 events" in ok.stdout
    db = sqlite3.connect(data / "hub.sqlite3")
    db.execute("DROP TRIGGER audit_events_no_update")
    db.execute("UPDATE audit_events SET role = 'regisseur' WHERE seq = 1")
    db.commit()
    db.close()
    broken = verify_command()
    assert broken.returncode == 1
    assert "audit log broken at row 1" in broken.stderr


# --- what gets recorded -----------------------------------------------------------


def events(ctx) -> list[AuditEvent]:
    with ctx.sessions() as session:
        return session.query(AuditEvent).order_by(AuditEvent.seq).all()


def test_disclosures_reads_and_consent_changes_are_recorded(ctx, client, worker):
    anna = person(11)
    register(ctx, anna)
    woonbron_id, woonbron = partner(ctx)
    me, staff = resident(ctx, anna), regisseur(ctx, user="anna.r")
    subject = ctx.pseudonyms.subject(anna.bsn)
    client.post("/api/v1/messages", json=arrears(anna, ref="A-1"), headers=woonbron)
    client.post("/api/v1/messages", json=nuisance(anna, ref="N-1"), headers=woonbron)
    worker.drain()
    disclosure = [e for e in events(ctx) if e.action == "disclosure"]
    assert len(disclosure) == 1  # the arrears, by statute; the nuisance is held
    assert (disclosure[0].actor, disclosure[0].role, disclosure[0].system) == (
        woonbron_id, "partner", "worker")
    assert disclosure[0].subject == subject
    assert disclosure[0].basis == "statute:wgs"
    assert set(disclosure[0].data["fields"]) == {"name", "address", "creditor", "amount_eur",
                                                  "since"}

    request = client.get("/api/v1/me/requests", headers=me).json()[0]
    approved = client.post(f"/api/v1/me/requests/{request['id']}/approve", headers=me).json()
    worker.drain()
    page = client.get("/api/v1/inbox", headers=staff).json()
    item_id = page["items"][0]["id"]
    client.get(f"/api/v1/inbox/{item_id}", headers=staff)
    client.post(f"/api/v1/me/consents/{approved['id']}/revoke", headers=me)

    log = events(ctx)
    actions = [e.action for e in log]
    assert actions.count("disclosure") == 2
    assert "consent.approve" in actions and "consent.revoke" in actions
    reads = [e for e in log if e.action == "read.list"]
    assert {e.data["item_id"] for e in reads} == {i["id"] for i in page["items"]}
    for e in reads:
        assert (e.actor, e.role, e.system, e.subject) == ("anna.r", "regisseur", "api", subject)
        assert e.client == "testclient"  # the caller's address, from the request
    one = next(e for e in log if e.action == "read")
    assert one.data["item_id"] == item_id
    assert one.data["fields"] == sorted(page["items"][0]["data"])
    approve = next(e for e in log if e.action == "consent.approve")
    assert (approve.actor, approve.role, approve.subject) == (subject, "resident", subject)
    assert approve.data == {"request_id": request["id"], "consent_id": approved["id"]}
    # Never a BSN, a name or a value in the log.
    dump = json.dumps([[e.actor, e.subject, e.data, e.basis, e.client] for e in log])
    for secret in (anna.bsn, anna.name, "1250.00", anna.postcode):
        assert secret not in dump
    assert verdict(ctx).intact


def test_an_event_and_its_action_commit_together(ctx, client, monkeypatch):
    anna = person(12)
    register(ctx, anna)

    def broken(*_args, **_kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr("hub.api.me.record_event", broken)
    response = client.post("/api/v1/me/consents", headers=resident(ctx, anna), json={
        "source_kinds": ["woningcorporatie"], "categories": ["wonen"], "purpose": "hulp"})
    assert response.status_code == 500
    monkeypatch.undo()
    # Without its audit event the consent was not stored either.
    assert client.get("/api/v1/me/consents", headers=resident(ctx, anna)).json() == []


def test_admin_commands_are_recorded(ctx, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("HUB_ENV", "test")
    monkeypatch.setenv("HUB_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.setenv("HUB_DATABASE_URL", ctx.settings.database_url)
    csv = tmp_path / "r.csv"
    csv.write_text("bsn,name,birthdate,postcode,huisnummer\n111222333,Jan Smit,,3317AB,4\n")
    assert main(["partner", "add", "--name", "Dordtse Wonen", "--kind",
                 "woningcorporatie"]) == 0
    partner_id = json.loads(capsys.readouterr().out)["id"]
    assert main(["residents", "import", str(csv)]) == 0
    log = events(ctx)
    assert [e.action for e in log] == ["admin.partner.add", "admin.residents.import"]
    assert log[0].data == {"partner_id": partner_id, "kind": "woningcorporatie"}
    assert log[1].data == {"imported": 1, "updated": 0, "rejected": 0}
    assert {(e.role, e.system) for e in log} == {("admin", "cli")}
    assert all(e.subject is None for e in log)


# --- the resident's view ------------------------------------------------------------


def test_a_resident_reads_only_their_own_trail_in_dutch(ctx, client, worker):
    anna, bert = person(21), person(22)
    register(ctx, anna, bert)
    _, woonbron = partner(ctx)
    for who, ref in ((anna, "A"), (bert, "B")):
        client.post("/api/v1/messages", json=arrears(who, ref=ref), headers=woonbron)
    worker.drain()
    staff = regisseur(ctx, user="Anna")
    page = client.get("/api/v1/inbox", headers=staff).json()
    mine = next(i for i in page["items"] if i["data"]["name"] == anna.name)
    client.get(f"/api/v1/inbox/{mine['id']}", headers=staff)

    trail = client.get("/api/v1/me/audit", headers=resident(ctx, anna))
    assert trail.status_code == 200, trail.text
    body = trail.json()
    assert body["total"] == 3  # disclosure, seen in the list, opened
    texts = [i["text"] for i in body["items"]]
    # Staff by role and wijkteam, never by login id (issue 15, item 12).
    assert texts[0] == ("Een regisseur van het wijkteam Krispijn heeft de melding over "
                        "huurachterstand bekeken op 23 november 2026.")
    assert texts[1] == ("Een regisseur van het wijkteam Krispijn heeft de melding over "
                        "huurachterstand gezien in het overzicht op 23 november 2026.")
    assert texts[2] == ("Woonbron heeft de melding over huurachterstand gedeeld met het "
                        "wijkteam Krispijn, omdat de wet dat toestaat, op 23 november 2026.")
    assert bert.name not in trail.text and anna.name not in trail.text
    # Bert's trail has his own disclosure and list read, not Anna's opened item.
    theirs = client.get("/api/v1/me/audit", headers=resident(ctx, bert)).json()
    assert [i["action"] for i in theirs["items"]] == ["read.list", "disclosure"]
    # Paginated, newest first.
    second = client.get("/api/v1/me/audit?limit=1&offset=1",
                        headers=resident(ctx, anna)).json()
    assert (second["total"], [i["action"] for i in second["items"]]) == (3, ["read.list"])


def test_only_a_resident_may_read_the_trail(ctx, client):
    assert client.get("/api/v1/me/audit").status_code == 401
    assert client.get("/api/v1/me/audit", headers=regisseur(ctx)).status_code == 403
    bad = client.get("/api/v1/me/audit?limit=0", headers=resident(ctx, person(23)))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "limit"


def test_canonical_hash_is_sha256_of_the_row(ctx):
    """The chain's hash is reproducible by anyone with the rows (documented format)."""
    fill(ctx, 1, subject="s" * 64)
    row = events(ctx)[0]
    doc = {"seq": 1, "at": row.at.isoformat(timespec="microseconds"), "actor": row.actor,
           "role": row.role, "action": row.action, "subject": row.subject, "data": row.data,
           "basis": row.basis, "system": row.system, "client": row.client,
           "prev_hash": "0" * 64}
    expected = hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":"))
                              .encode()).hexdigest()
    assert row.hash == expected


def test_dutch_sentences_for_each_kind_of_event():
    from datetime import UTC, datetime

    from hub.core.audit_text import describe, dutch_date

    # 23:30 UTC on 2 March is already 3 March in the Netherlands.
    late = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    assert dutch_date(late) == "3 maart 2026"

    def say(action, role="resident", basis=None):
        return describe(action=action, actor="Anna", role=role, basis=basis, data={}, at=late,
                        topic="woonoverlast", partner_name="Woonbron",
                        team_name="Krispijn")

    assert say("consent.grant") == "U heeft toestemming gegeven op 3 maart 2026."
    assert say("consent.revoke") == "U heeft uw toestemming ingetrokken op 3 maart 2026."
    assert say("consent.deny") == ("U heeft nee gezegd op een vraag om gegevens te delen "
                                   "op 3 maart 2026.")
    assert say("inbox.take_up", role="regisseur") == (
        "Een regisseur van uw wijkteam is met de melding over woonoverlast aan de slag gegaan "
        "op 3 maart 2026.")
    # The household's designated regisseur is "uw regisseur"; the login id never shows.
    assert describe(action="read", actor="Anna", role="regisseur", basis=None, data={},
                    at=late, topic="woonoverlast", partner_name=None, team_name=None,
                    home_team="Krispijn", own_regisseur="Anna") == (
        "Uw regisseur van het wijkteam Krispijn heeft de melding over woonoverlast bekeken "
        "op 3 maart 2026.")
    assert say("disclosure", role="partner", basis="consent:c-1") == (
        "Woonbron heeft de melding over woonoverlast gedeeld met het wijkteam Krispijn, "
        "met uw toestemming, op 3 maart 2026.")
    assert say("dead_letter.replay", role="operator") == (
        "Een beheerder heeft de melding over woonoverlast opnieuw laten verwerken "
        "op 3 maart 2026.")
    assert say("something.new", role="operator") == (
        "Er is iets gedaan met uw gegevens op 3 maart 2026.")


def test_a_saved_head_catches_a_log_emptied_with_its_head(ctx, monkeypatch, capsys, tmp_path):
    fill(ctx, 4)
    monkeypatch.setenv("HUB_ENV", "test")
    monkeypatch.setenv("HUB_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.setenv("HUB_DATABASE_URL", ctx.settings.database_url)
    assert main(["audit", "head"]) == 0
    saved = json.loads(capsys.readouterr().out)
    assert saved["seq"] == 4 and len(saved["public_key"]) == 64
    # The saved head's signature checks out with the published public key alone.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    Ed25519PublicKey.from_public_bytes(bytes.fromhex(saved["public_key"])).verify(
        bytes.fromhex(saved["signature"]), f"wijkhub-audit-head:4:{saved['hash']}".encode())
    head_file = tmp_path / "head.json"
    head_file.write_text(json.dumps(saved))
    fill(ctx, 2)
    assert main(["audit", "verify", "--saved-head", str(head_file)]) == 0
    capsys.readouterr()
    run_sql(ctx, "DELETE FROM audit_events", "DELETE FROM audit_head")
    assert verdict(ctx).intact  # alone, an empty log looks fine ...
    assert main(["audit", "verify", "--saved-head", str(head_file)]) == 1
    assert "audit log broken at row 1: rows 1 to 4 are missing" in capsys.readouterr().err
    head_file.write_text("{}")
    assert main(["audit", "verify", "--saved-head", str(head_file)]) == 2
