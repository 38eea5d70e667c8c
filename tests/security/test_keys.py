"""Data keys rotate without downtime: rotate, re-encrypt in batches, retire the old key."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from hub.cli import main
from hub.core.context import build_context
from hub.core.crypto import Cipher
from hub.core.key_provider import FileKeyProvider
from hub.core.keys import (
    KeyError_,
    load_keyring,
    new_key_document,
    parse_key_document,
    retire_data_key,
    rotate_data_key,
)
from hub.core.models import AuditEvent, Message, Resident
from hub.core.plugins import load_plugins
from hub.core.reencrypt import SEALED_COLUMNS, Progress, key_usage, reencrypt_all, reencrypt_batch
from tests.utils.builders import arrears, partner, person, regisseur, register


@pytest.fixture(autouse=True)
def _keys_from_the_file(monkeypatch):
    monkeypatch.delenv("HUB_KEYS", raising=False)


def sealed_values(ctx) -> list[str]:
    with ctx.sessions() as session:
        # A nullable sealed column (an outreach case without contact details) holds NULL
        # where there is nothing to seal.
        return [token for sealed in SEALED_COLUMNS
                for token in session.scalars(select(sealed.column)) if token is not None]


def send(ctx, client, woonbron, *people, prefix="R"):
    for n, who in enumerate(people):
        r = client.post("/api/v1/messages", json=arrears(who, ref=f"{prefix}-{n}"),
                        headers=woonbron)
        assert r.status_code == 202, r.text


def usage(ctx) -> dict[str, int]:
    with ctx.sessions() as session:
        return key_usage(session=session, ctx=ctx)


def test_rotate_then_reencrypt_leaves_nothing_under_the_old_key(ctx, client, worker):
    people = [person(100 + n) for n in range(5)]
    register(ctx, *people)
    _, woonbron = partner(ctx)
    send(ctx, client, woonbron, *people)
    worker.drain()
    # 5 residents, 5 messages (payload and source_ref), 5 amounts of inbox items
    assert usage(ctx) == {"k1": 20}
    previous, active = rotate_data_key(ctx.keys.provider)
    assert (previous, active) == ("k1", "k2")
    # The running hub learns the new key from the file; new data is sealed with it.
    send(ctx, client, woonbron, person(105), prefix="S")
    assert usage(ctx) == {"k1": 20, "k2": 2}

    # Interrupted after one batch of two rows, then resumed: nothing is lost or doubled.
    with ctx.sessions() as session, session.begin():
        reencrypt_batch(session=session, ctx=ctx, sealed=SEALED_COLUMNS[0], after=None,
                        limit=2, progress=Progress())
    assert usage(ctx) == {"k1": 18, "k2": 4}
    progress = reencrypt_all(ctx=ctx, batch_size=3)
    assert (progress.resealed, progress.failed) == (18, 0)
    assert usage(ctx) == {"k1": 0, "k2": 22}
    assert all(Cipher.key_id(t) == "k2" for t in sealed_values(ctx))
    assert reencrypt_all(ctx=ctx).resealed == 0  # a second run finds nothing to do

    # Everything still opens: routing matches residents, the inbox opens messages.
    worker.drain()
    page = client.get("/api/v1/inbox", headers=regisseur(ctx)).json()
    assert page["total"] == 6  # the five residents, and the unregistered one in triage
    assert {i["data"]["name"] for i in page["items"]} == {p.name for p in [*people, person(105)]}
    # The old key can go now; the data still opens without it.
    retire_data_key(ctx.keys.provider, "k1", in_use=usage(ctx)["k1"])
    fresh = load_keyring(ctx.settings.keys_file)
    assert sorted(fresh.data_keys) == ["k2"]
    with ctx.sessions() as session:
        for resident in session.scalars(select(Resident)):
            Cipher(fresh).open(resident.identity_sealed, context=f"resident:{resident.subject}")


def test_a_hub_started_before_the_rotation_reads_and_writes_with_the_new_key(ctx, client):
    """Two processes on one data directory: the other one rotates."""
    early = build_context(ctx.settings, plugins=load_plugins(), clock=ctx.clock)
    try:
        rotate_data_key(FileKeyProvider(ctx.settings.keys_file))
        late = build_context(ctx.settings, plugins=load_plugins(), clock=ctx.clock)
        try:
            token = late.cipher.seal({"x": 1}, context="c")
            assert Cipher.key_id(token) == "k2"
            assert "k2" not in early.keys.data_keys
            assert early.cipher.open(token, context="c") == {"x": 1}  # re-reads the ring
            assert Cipher.key_id(early.cipher.seal({"y": 2}, context="c")) == "k2"
        finally:
            late.dispose()
    finally:
        early.dispose()


def test_a_hub_notices_a_rotation_before_its_next_seal(ctx):
    rotate_data_key(FileKeyProvider(ctx.settings.keys_file))
    # No unknown key id was met yet: the changed file alone makes it seal with k2.
    assert Cipher.key_id(ctx.cipher.seal({"a": 1}, context="c")) == "k2"


def test_a_row_that_does_not_open_is_counted_not_retried_forever(ctx):
    register(ctx, person(130), person(131))
    with ctx.engine.begin() as conn:
        conn.execute(Resident.__table__.update().where(
            Resident.subject == ctx.pseudonyms.subject(person(130).bsn))
            .values(identity_sealed="v1.k1.AAAA"))
    rotate_data_key(ctx.keys.provider)
    progress = reencrypt_all(ctx=ctx, batch_size=1)
    assert (progress.resealed, progress.failed) == (1, 1)


def test_retiring_a_key_in_use_or_active_is_refused(ctx):
    register(ctx, person(140))
    provider = ctx.keys.provider
    with pytest.raises(KeyError_, match="'k1' is the active data key"):
        retire_data_key(provider, "k1", in_use=0)
    rotate_data_key(provider)
    with pytest.raises(KeyError_, match="1 ciphertexts still use 'k1'"):
        retire_data_key(provider, "k1", in_use=usage(ctx)["k1"])
    with pytest.raises(KeyError_, match="unknown data key id 'k7'"):
        retire_data_key(provider, "k7", in_use=0)
    assert sorted(json.loads(ctx.settings.keys_file.read_text())["data_keys"]) == ["k1", "k2"]


def test_rotation_keeps_the_pseudonym_and_other_keys(ctx):
    before = json.loads(ctx.settings.keys_file.read_text())
    rotate_data_key(ctx.keys.provider)
    after = json.loads(ctx.settings.keys_file.read_text())
    for name in ("pseudonym_key", "token_key", "audit_key"):
        assert after[name] == before[name]
    assert after["data_keys"]["k1"] == before["data_keys"]["k1"]
    assert after["data_keys"]["k2"] not in before["data_keys"].values()


def test_the_pseudonym_key_is_never_a_data_key():
    doc = new_key_document()
    doc["pseudonym_key"] = doc["data_keys"]["k1"]
    with pytest.raises(KeyError_, match="every key must be different"):
        parse_key_document(doc)
    doc = new_key_document()
    doc["audit_key"] = doc["token_key"]
    with pytest.raises(KeyError_, match="every key must be different"):
        parse_key_document(doc)


def test_a_ring_refuses_a_changed_pseudonym_key(ctx):
    doc = json.loads(ctx.settings.keys_file.read_text())
    doc["pseudonym_key"] = new_key_document()["pseudonym_key"]
    ctx.keys.provider.write(doc)
    with pytest.raises(KeyError_, match="pseudonym_key differs"):
        ctx.keys.refresh()


def test_an_older_keys_file_gets_an_audit_key(tmp_path):
    doc = new_key_document()
    del doc["audit_key"]
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps(doc))
    ring = load_keyring(keys_file)
    assert ring.audit_key is not None
    stored = json.loads(keys_file.read_text())
    assert stored["data_keys"] == doc["data_keys"]
    assert stored["pseudonym_key"] == doc["pseudonym_key"]


def test_key_ids_are_plain(tmp_path):
    doc = new_key_document()
    doc["data_keys"]["k%"] = doc["data_keys"]["k1"]
    with pytest.raises(KeyError_, match="data key id 'k%'"):
        parse_key_document(doc)


def _cli_env(ctx, monkeypatch):
    monkeypatch.setenv("HUB_ENV", "test")
    monkeypatch.setenv("HUB_DATA_DIR", str(ctx.settings.data_dir))
    monkeypatch.setenv("HUB_DATABASE_URL", ctx.settings.database_url)


def test_hub_keys_commands(ctx, monkeypatch, capsys):
    _cli_env(ctx, monkeypatch)
    register(ctx, person(150), person(151))

    def run(*args):
        code = main(["keys", *args])
        out = capsys.readouterr()
        return code, (json.loads(out.out) if out.out.strip() else None), out.err

    assert run("status")[1]["ciphertexts"] == {"k1": 2}
    code, rotated, _ = run("rotate")
    assert (code, rotated["previous"], rotated["active"]) == (0, "k1", "k2")
    assert run("status")[1]["ciphertexts"] == {"k1": 2, "k2": 0}
    code, _, err = run("retire", "k1")
    assert code == 2 and "2 ciphertexts still use 'k1'" in err
    assert run("reencrypt", "--batch-size", "1")[:2] == (0, {"active": "k2", "resealed": 2,
                                                             "failed": 0})
    assert run("retire", "k1")[:2] == (0, {"retired": "k1"})
    assert run("status")[1] == {"active": "k2", "ciphertexts": {"k2": 2},
                                "source": str(ctx.settings.keys_file)}
    with ctx.sessions() as session:
        actions = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
    assert actions == ["admin.keys.rotate", "admin.keys.reencrypt", "admin.keys.retire"]


def test_hub_keys_rotate_refuses_keys_from_the_environment(ctx, monkeypatch, capsys):
    _cli_env(ctx, monkeypatch)
    monkeypatch.setenv("HUB_KEYS", ctx.settings.keys_file.read_text())
    assert main(["keys", "rotate"]) == 2
    assert "keys come from HUB_KEYS" in capsys.readouterr().err


def test_messages_sealed_before_and_after_open_in_the_same_hub(ctx, client, worker):
    anna = person(160)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    send(ctx, client, woonbron, anna, prefix="B")
    rotate_data_key(ctx.keys.provider)
    send(ctx, client, woonbron, person(160), prefix="A")
    with ctx.sessions() as session:
        kids = sorted(Cipher.key_id(m.payload_sealed) for m in session.scalars(select(Message)))
    assert kids == ["k1", "k2"]
    assert worker.drain() == 2


def test_an_amount_stored_in_clear_before_sealing_is_read_and_then_sealed(ctx, client, worker):
    """Inbox items written before the measure was sealed keep working, and get sealed."""
    from hub.core.models import InboxItem

    anna = person(170)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    client.post("/api/v1/messages", json=arrears(anna, ref="M-1", tenancy="T-1"),
                headers=woonbron)
    worker.drain()
    with ctx.engine.begin() as conn:
        conn.execute(InboxItem.__table__.update().values(measure="1250.00"))
    assert usage(ctx)["unknown"] == 1
    # The same arrears again, not grown: still recognised as a repeat.
    client.post("/api/v1/messages", json=arrears(anna, ref="M-2", tenancy="T-1"),
                headers=woonbron)
    worker.drain()
    with ctx.sessions() as session:
        item = session.scalars(select(InboxItem)).one()
    assert item.repeats == 1
    assert reencrypt_all(ctx=ctx).failed == 0
    assert "unknown" not in usage(ctx)
    with ctx.sessions() as session:
        item = session.scalars(select(InboxItem)).one()
    assert Cipher.key_id(item.measure) == "k1"
    assert ctx.cipher.open(item.measure, context=f"measure:{item.message_id}") == "1250.00"


def test_reencryption_is_safe_while_the_hub_writes(ctx):
    """Re-encryption in one thread while residents are re-imported (re-sealed) in another."""
    import threading

    from hub.core.residents import resident_identity

    people = [person(200 + n) for n in range(12)]
    register(ctx, *people)
    rotate_data_key(ctx.keys.provider)
    errors: list[BaseException] = []

    def reencrypt() -> None:
        try:
            reencrypt_all(ctx=ctx, batch_size=1)
        except BaseException as exc:  # collected: an exception in a thread is otherwise lost
            errors.append(exc)

    thread = threading.Thread(target=reencrypt)
    thread.start()
    renamed = [person(200 + n, name=f"Nieuwe Naam {n}") for n in range(12)]
    for _ in range(3):
        register(ctx, *renamed)
    thread.join()
    assert errors == []
    reencrypt_all(ctx=ctx)  # whatever the importer sealed under k1 before it saw k2
    assert usage(ctx) == {"k1": 0, "k2": 12}
    with ctx.sessions() as session:
        names = {resident_identity(ctx, r)["name"] for r in session.scalars(select(Resident))}
    assert names == {p.name for p in renamed}  # the latest write won, nothing reverted


def test_the_plan_is_resealed_and_counted_like_every_sealed_column(ctx, client):
    """Issue 17: a plan's body, the resident's answer and a partner's note rotate too."""
    from tests.api.test_plan import household_of, plan_body
    from tests.utils.builders import resident

    anna = person(1)
    register(ctx, anna)
    hid = household_of(ctx, anna)
    assert client.put(f"/api/v1/households/{hid}/plan", json=plan_body(),
                      headers=regisseur(ctx)).status_code == 200
    assert client.post("/api/v1/me/plan/comment", json={"text": "Goed zo"},
                       headers=resident(ctx, anna)).status_code == 201
    assert usage(ctx) == {"k1": 3}  # the resident, the plan version, the comment
    rotate_data_key(ctx.keys.provider)
    assert reencrypt_all(ctx=ctx).resealed == 3
    assert usage(ctx) == {"k1": 0, "k2": 3}
    plan = client.get(f"/api/v1/households/{hid}/plan", headers=regisseur(ctx)).json()
    assert plan["responses"][0]["text"] == "Goed zo" and plan["goals"]
