"""``hub partner …``: keys shown once, rotated with overlap, revoked; pins registered."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.cli import main
from hub.core.context import build_context
from hub.core.partner_keys import KeyRefused, KeyVerifier, key_hasher
from hub.core.plugins import load_plugins
from hub.settings import Settings
from tests.conftest import CHEAP_KEY_HASHING
from tests.security.certs import issue, make_ca

CHEAP_ENV = {f"HUB_{k.upper()}": str(v) for k, v in CHEAP_KEY_HASHING.items()}


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def hub_cli(monkeypatch, capsys):
    """Run ``hub`` in this process (a subprocess per command would take seconds each)."""
    for name in [k for k in os.environ if k.startswith("HUB_")]:
        monkeypatch.delenv(name)
    for name, value in CHEAP_ENV.items():
        monkeypatch.setenv(name, value)

    def run(data_dir: Path, *args: str) -> Ran:
        monkeypatch.setenv("HUB_DATA_DIR", str(data_dir))
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run


def ok(result: Ran) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def refused(result: Ran, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and "Traceback" not in result.stderr
    for word in words:
        assert word in last


def accepts(data_dir: Path, api_key: str) -> bool:
    settings = Settings(env="test", data_dir=data_dir, **CHEAP_KEY_HASHING)
    ctx = build_context(settings, plugins=load_plugins(entry_points=False))
    verifier = KeyVerifier(hasher=key_hasher(settings), cache_seconds=0, cache_size=1)
    try:
        with ctx.sessions() as session:
            verifier.partner_for(session=session, api_key=api_key, now=ctx.clock())
        return True
    except KeyRefused:
        return False
    finally:
        ctx.dispose()


def test_rotate_keys_and_revoke(tmp_path, hub_cli):
    data = tmp_path / "hub"
    first = ok(hub_cli(data, "partner", "add", "--name", "Woonbron", "--kind",
                       "woningcorporatie"))["api_key"]
    rotated = ok(hub_cli(data, "partner", "rotate-key", "--name", "Woonbron",
                         "--grace-hours", "24"))
    second = rotated["api_key"]
    assert second != first and second.startswith(f"whk_{rotated['key_id']}_")
    assert accepts(data, first) and accepts(data, second)  # overlap during the grace period

    third = ok(hub_cli(data, "partner", "rotate-key", "--name", "Woonbron",
                       "--grace-hours", "0"))["api_key"]
    assert not accepts(data, first) and not accepts(data, second) and accepts(data, third)

    listing = hub_cli(data, "partner", "keys", "--name", "Woonbron")
    assert listing.returncode == 0, listing.stderr
    states = sorted(json.loads(line)["state"] for line in listing.stdout.splitlines())
    assert states == ["active", "expired", "expired"]
    for key in (first, second, third):
        assert key.split("_", 2)[2] not in listing.stdout

    key_id = third.split("_")[1]
    assert ok(hub_cli(data, "partner", "revoke-key", "--name", "Woonbron",
                      "--key-id", key_id))["revoked"] == 1
    assert not accepts(data, third)
    refused(hub_cli(data, "partner", "revoke-key", "--name", "Woonbron", "--all"),
            "no active keys")
    refused(hub_cli(data, "partner", "rotate-key", "--name", "Nobody"), "Nobody")
    refused(hub_cli(data, "partner", "rotate-key", "--name", "Woonbron",
                    "--grace-hours", "-1"), "grace")
    with sqlite3.connect(data / "hub.sqlite3") as db:
        hashes = [row[0] for row in db.execute("SELECT key_hash FROM partner_keys")]
    assert len(hashes) == 3 and all(h.startswith("$argon2id$") for h in hashes)


def test_pin_a_signing_key_and_a_client_certificate(tmp_path, hub_cli):
    data = tmp_path / "hub"
    public = tmp_path / "woonbron.pub"
    public.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    cert = issue(make_ca(tmp_path), tmp_path, "woonbron", server=False)
    added = ok(hub_cli(data, "partner", "add", "--name", "Woonbron", "--kind",
                       "woningcorporatie", "--public-key", str(public)))
    assert added["signed_requests"] is True and added["client_certificate"] is False
    pinned = ok(hub_cli(data, "partner", "pin", "--name", "Woonbron", "--client-cert",
                        str(cert.cert_file)))
    assert pinned == {"id": added["id"], "name": "Woonbron", "signed_requests": True,
                      "client_certificate": True}
    cleared = ok(hub_cli(data, "partner", "pin", "--name", "Woonbron", "--clear-public-key"))
    assert cleared["signed_requests"] is False and cleared["client_certificate"] is True

    refused(hub_cli(data, "partner", "pin", "--name", "Woonbron", "--public-key",
                    str(cert.cert_file)), "--public-key")
    refused(hub_cli(data, "partner", "pin", "--name", "Woonbron", "--cert-sha256", "abc"),
            "fingerprint")
    refused(hub_cli(data, "partner", "pin", "--name", "Woonbron", "--public-key",
                    str(tmp_path / "missing.pub")), "missing.pub")
    refused(hub_cli(data, "partner", "pin", "--name", "Woonbron"), "nothing to pin")


@pytest.mark.parametrize("args", [("rotate-key",), ("revoke-key", "--name", "X")])
def test_missing_arguments_are_usage_errors(tmp_path, hub_cli, args):
    result = hub_cli(tmp_path / "hub", "partner", *args)
    assert result.returncode == 2 and "usage:" in result.stderr


def test_dev_tokens_for_a_team_lead_and_a_representative(tmp_path, hub_cli, monkeypatch):
    from hub.core.identity import Principal, verify_token
    from tests.utils.builders import make_bsn

    monkeypatch.setenv("HUB_ENV", "development")  # development tokens need the explicit switch
    data = tmp_path / "hub"
    lead = hub_cli(data, "token", "teamlead", "--team", "krispijn", "--user", "bram")
    parent, child = make_bsn(21), make_bsn(22)
    rep = hub_cli(data, "token", "resident", "--bsn", parent, "--represents", child)
    bad = hub_cli(data, "token", "resident", "--bsn", parent, "--represents", "123456789")
    refused(bad, "--represents")
    assert "123456789" not in bad.stderr
    ctx = build_context(Settings(env="test", data_dir=data),
                        plugins=load_plugins(entry_points=False))
    try:
        assert verify_token(ctx, lead.stdout.strip()) == Principal(
            role="teamlead", user="bram", wijk="krispijn")
        principal = verify_token(ctx, rep.stdout.strip())
        assert principal.represents == frozenset({ctx.pseudonyms.subject(child)})
    finally:
        ctx.dispose()
    assert child not in rep.stdout
