"""Encryption at rest with key ids, keyed pseudonyms, and where the keys come from."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat

import pytest

from hub.core.crypto import Cipher, DecryptionError, Pseudonymizer
from hub.core.keys import KeyError_, KeyRing, load_keyring, new_key_document, parse_key_document

DOC = {"name": "Anna de Vries", "amount_eur": "1250.00", "months": 3, "tags": ["a", "b"]}


def material(keys: KeyRing) -> str:
    """A fingerprint of what a ring holds: comparable, and a failing assert prints no key."""
    digest = hashlib.sha256(keys.active_data_key.encode())
    for kid in sorted(keys.data_keys):
        digest.update(kid.encode() + keys.data_keys[kid])
    digest.update(keys.pseudonym_key + keys.token_key + (keys.audit_key or b""))
    return digest.hexdigest()


def ring(*, active: str = "k1", **data_keys: bytes) -> KeyRing:
    keys = data_keys or {"k1": bytes(range(32))}
    return KeyRing(data_keys=keys, active_data_key=active, pseudonym_key=b"p" * 32,
                   token_key=b"t" * 32)


@pytest.fixture(autouse=True)
def _no_keys_from_env(monkeypatch):
    """Each test decides itself whether ``HUB_KEYS`` is set."""
    monkeypatch.delenv("HUB_KEYS", raising=False)


def test_seal_then_open_round_trip():
    cipher = Cipher(ring())
    token = cipher.seal(DOC, context="message:1")
    assert cipher.open(token, context="message:1") == DOC
    assert "Anna" not in token and "1250" not in token
    # A fresh nonce each time: the same document never gives the same ciphertext.
    assert cipher.seal(DOC, context="message:1") != token


def test_sealing_many_binds_each_document_to_its_own_context_and_nonce():
    cipher = Cipher(ring())
    tokens = cipher.seal_many([(DOC, "message:1"), (DOC, "message:2"), ("R-1", "source-ref:1")])
    assert [cipher.open(t, context=c) for t, c in zip(
        tokens, ("message:1", "message:2", "source-ref:1"), strict=True)] == [DOC, DOC, "R-1"]
    assert len({base64.b64decode(t.split(".", 2)[2])[:12] for t in tokens}) == 3  # nonces
    with pytest.raises(DecryptionError):  # a token of the list does not open as another's
        cipher.open(tokens[0], context="message:2")


def test_opening_in_another_context_fails():
    cipher = Cipher(ring())
    token = cipher.seal(DOC, context="message:1")
    with pytest.raises(DecryptionError):
        cipher.open(token, context="message:2")


def test_a_tampered_ciphertext_fails():
    cipher = Cipher(ring())
    token = cipher.seal(DOC, context="message:1")
    version, kid, body = token.split(".", 2)
    raw = bytearray(base64.b64decode(body))
    for position in (0, 12, len(raw) - 1):  # nonce, ciphertext, tag
        flipped = bytearray(raw)
        flipped[position] ^= 0x01
        forged = f"{version}.{kid}.{base64.b64encode(bytes(flipped)).decode()}"
        with pytest.raises(DecryptionError):
            cipher.open(forged, context="message:1")
    for broken in ("", "nonsense", f"v2.{kid}.{body}", f"{version}.{kid}.!!!", token[:-8]):
        with pytest.raises(DecryptionError):
            cipher.open(broken, context="message:1")


def test_a_ciphertext_names_its_key_and_old_keys_still_open_it():
    k1, k2 = b"1" * 32, b"2" * 32
    old = Cipher(ring(active="k1", k1=k1, k2=k2)).seal(DOC, context="row")
    assert old.split(".")[1] == "k1"
    rotated = Cipher(ring(active="k2", k1=k1, k2=k2))
    new = rotated.seal(DOC, context="row")
    assert new.split(".")[1] == "k2"
    assert rotated.open(old, context="row") == DOC
    assert rotated.open(new, context="row") == DOC
    # Without k1 the old data does not open: it really was k1 that sealed it.
    with pytest.raises(DecryptionError):
        Cipher(ring(active="k2", k2=k2)).open(old, context="row")
    # A ciphertext whose key id is swapped does not open under the other key.
    with pytest.raises(DecryptionError):
        rotated.open(old.replace(".k1.", ".k2.", 1), context="row")


def test_pseudonyms_are_stable_per_key_and_differ_across_keys_and_domains():
    one = Pseudonymizer(ring())
    again = Pseudonymizer(ring())
    other = Pseudonymizer(KeyRing(data_keys={"k1": b"x" * 32}, active_data_key="k1",
                                  pseudonym_key=b"q" * 32, token_key=b"t" * 32))
    bsn = "111222333"
    assert one.subject(bsn) == again.subject(bsn)
    assert one.subject(bsn) != other.subject(bsn)
    assert one.subject(bsn) != one.subject("123456782")
    assert bsn not in one.subject(bsn)
    assert one.address("3317AB", "12") == again.address("3317AB", "12")
    assert one.address("3317AB", "12") != other.address("3317AB", "12")
    assert one.address("3317AB", "12") != one.address("3317AB", "12A")
    # The same text as a BSN and as an address never gives the same key.
    assert one.subject("3317AB|12") != one.address("3317AB", "12")
    assert one.key_for("repeat") != one.key_for("other")
    assert one.key_for("repeat") == again.key_for("repeat") != other.key_for("repeat")


def test_load_keyring_creates_an_owner_only_file_and_reuses_it(tmp_path):
    keys_file = tmp_path / "data" / "keys.json"
    first = load_keyring(keys_file)
    assert keys_file.exists()
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    stored = json.loads(keys_file.read_text())
    assert set(stored) == {"active_data_key", "data_keys", "pseudonym_key", "token_key",
                           "audit_key"}
    second = load_keyring(keys_file)
    assert material(second) == material(first)
    assert Cipher(second).open(Cipher(first).seal(DOC, context="c"), context="c") == DOC
    # Another data directory gets other keys.
    assert material(load_keyring(tmp_path / "elsewhere" / "keys.json")) != material(first)


def test_hub_keys_env_overrides_the_file(tmp_path, monkeypatch):
    keys_file = tmp_path / "keys.json"
    on_disk = load_keyring(keys_file)
    doc = new_key_document()
    doc["data_keys"]["k9"] = doc["data_keys"].pop("k1")
    doc["active_data_key"] = "k9"
    monkeypatch.setenv("HUB_KEYS", json.dumps(doc))
    from_env = load_keyring(keys_file)
    assert from_env.active_data_key == "k9"
    assert material(from_env) == material(parse_key_document(doc))
    assert material(from_env) != material(on_disk)
    # The environment is not written anywhere: the file is what it was.
    monkeypatch.delenv("HUB_KEYS")
    assert material(load_keyring(keys_file)) == material(on_disk)


def test_hub_keys_env_does_not_create_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_KEYS", json.dumps(new_key_document()))
    load_keyring(tmp_path / "keys.json")
    assert not os.path.exists(tmp_path / "keys.json")


def _doc(**changes) -> dict:
    doc = new_key_document()
    for key, value in changes.items():
        if value is None:
            del doc[key]
        else:
            doc[key] = value
    return doc


@pytest.mark.parametrize(("doc", "message"), [
    (_doc(pseudonym_key=None), "key document is incomplete: missing 'pseudonym_key'"),
    (_doc(token_key=None), "key document is incomplete: missing 'token_key'"),
    (_doc(data_keys=None), "key document is incomplete: missing 'data_keys'"),
    (_doc(active_data_key=None), "key document is incomplete: missing 'active_data_key'"),
    (_doc(active_data_key="k7"), "unknown data key id 'k7'"),
    (_doc(pseudonym_key="not base64 at all!"), "pseudonym_key is not valid base64"),
    (_doc(token_key=base64.b64encode(b"short").decode()), "token_key must be 32 bytes, got 5"),
    (_doc(data_keys={"k1": base64.b64encode(b"x" * 16).decode()}),
     "data_keys.k1 must be 32 bytes, got 16"),
    (_doc(data_keys=["k1"]), "data_keys must be an object"),
    (_doc(pseudonym_key=12345), "pseudonym_key must be a base64 string"),
    (_doc(data_keys={"k1": None}), "data_keys.k1 must be a base64 string"),
    ([], "key document must be a JSON object"),
    ("keys", "key document must be a JSON object"),
])
def test_malformed_key_documents_are_refused_clearly(doc, message):
    with pytest.raises(KeyError_) as info:
        parse_key_document(doc)
    assert message in str(info.value)


def test_malformed_keys_file_and_env_are_refused_clearly(tmp_path, monkeypatch):
    keys_file = tmp_path / "keys.json"
    keys_file.write_text("{not json")
    with pytest.raises(KeyError_) as info:
        load_keyring(keys_file)
    assert str(info.value) == f"{keys_file}: key document is not valid JSON"
    monkeypatch.setenv("HUB_KEYS", "{not json")
    with pytest.raises(KeyError_) as info:
        load_keyring(tmp_path / "other.json")
    assert str(info.value) == "HUB_KEYS: key document is not valid JSON"
    # A refused HUB_KEYS does not fall back to (or create) a file.
    assert not (tmp_path / "other.json").exists()
