"""Who is calling: development tokens, partners' API keys, and the CLI that makes them."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import jwt
import pytest

from hub.core.context import HubContext, build_context
from hub.core.identity import (
    AUDIENCE,
    DEV_ISSUER,
    IdentityError,
    Principal,
    ProductionRefused,
    add_partner,
    issue_token,
    partner_for_key,
    verify_token,
)
from hub.core.migrate import upgrade
from hub.core.plugins import load_plugins
from hub.settings import Settings
from tests.utils.builders import make_bsn

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def hub(tmp_path, clock) -> Iterator[HubContext]:
    """A hub for token tests: no database is touched, so SQLite only."""
    settings = Settings(env="test", data_dir=tmp_path / "data", database_url="",
                        worker_enabled=False)
    context = build_context(settings, plugins=load_plugins(entry_points=False), clock=clock)
    try:
        yield context
    finally:
        context.dispose()


def _claims(hub: HubContext, **changes) -> dict:
    now = int(hub.clock().timestamp())
    claims = {"iss": DEV_ISSUER, "aud": AUDIENCE, "sub": "anna", "role": "regisseur",
              "wijk": "krispijn", "iat": now, "exp": now + 600}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


# --- tokens ------------------------------------------------------------------------------


def test_issued_tokens_verify(hub):
    token = issue_token(hub, role="regisseur", user="anna", wijk="krispijn")
    assert verify_token(hub, token) == Principal(role="regisseur", user="anna", wijk="krispijn")
    token = issue_token(hub, role="resident", user="bewoner", subject="pseudo-1")
    assert verify_token(hub, token) == Principal(role="resident", user="bewoner",
                                                 subject="pseudo-1")


def test_expired_token_is_refused(hub, clock):
    token = issue_token(hub, role="regisseur", user="anna", wijk="krispijn")
    clock.advance(seconds=hub.settings.token_ttl_seconds - 1)
    assert verify_token(hub, token).user == "anna"
    clock.advance(seconds=60)  # past the ttl and the 30 s leeway
    with pytest.raises(IdentityError, match="expired"):
        verify_token(hub, token)


def test_token_with_a_wrong_signature_is_refused(hub):
    forged = jwt.encode(_claims(hub), b"k" * 32, algorithm="HS256")
    with pytest.raises(IdentityError):
        verify_token(hub, forged)
    token = issue_token(hub, role="regisseur", user="anna", wijk="krispijn")
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    with pytest.raises(IdentityError):
        verify_token(hub, f"{header}.{payload}.{flipped}")
    unsigned = jwt.encode(_claims(hub), None, algorithm="none")
    with pytest.raises(IdentityError):
        verify_token(hub, unsigned)
    with pytest.raises(IdentityError):
        verify_token(hub, "not a token")


@pytest.mark.parametrize("changes", [
    {"aud": "someone-else"},
    {"aud": None},
    {"iss": "https://elsewhere.example"},
    {"exp": None},
    {"role": None},
    {"role": "superuser"},
    {"sub": None},
    {"role": "resident", "wijk": None},  # a resident token must name its subject
])
def test_token_with_wrong_claims_is_refused(hub, changes):
    token = jwt.encode(_claims(hub, **changes), hub.keys.token_key, algorithm="HS256")
    with pytest.raises(IdentityError):
        verify_token(hub, token)
    # The same claims with only the changes undone do pass: the key is the right one.
    assert verify_token(hub, jwt.encode(_claims(hub), hub.keys.token_key, algorithm="HS256"))


def test_regisseur_token_for_an_unknown_wijk_is_refused(hub):
    for wijk in ("rotterdam-zuid", "Krispijn", None):
        token = issue_token(hub, role="regisseur", user="anna", wijk=wijk)
        with pytest.raises(IdentityError, match="no known role"):
            verify_token(hub, token)


def test_development_issuer_refuses_to_work_in_production(hub):
    token = issue_token(hub, role="regisseur", user="anna", wijk="krispijn")
    hub.settings.env = "production"
    with pytest.raises(ProductionRefused):
        issue_token(hub, role="regisseur", user="anna", wijk="krispijn")
    with pytest.raises(ProductionRefused):
        verify_token(hub, token)
    assert issubclass(ProductionRefused, IdentityError)  # callers answering 401 catch it too


def test_production_setting_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_ENV", "production")
    context = build_context(Settings(data_dir=tmp_path), plugins=load_plugins(entry_points=False))
    try:
        with pytest.raises(ProductionRefused):
            issue_token(context, role="regisseur", user="anna", wijk="krispijn")
    finally:
        context.dispose()


# --- partners ----------------------------------------------------------------------------


def test_partner_api_key_is_stored_only_as_its_hash(ctx):
    from hub.core.models import PartnerKey
    from hub.core.partner_keys import key_hasher, key_id_of

    with ctx.sessions() as session, session.begin():
        partner, api_key = add_partner(session=session, name="Woonbron",
                                       kind="woningcorporatie", now=ctx.clock(),
                                       hasher=key_hasher(ctx.settings))
    with ctx.sessions() as session:
        stored = session.get(PartnerKey, key_id_of(api_key))
        assert stored.partner_id == partner.id
        assert stored.key_hash.startswith("$argon2id$") and api_key not in stored.key_hash
        found = partner_for_key(session=session, api_key=api_key)
        assert found is not None and found.id == partner.id
        assert partner_for_key(session=session, api_key=api_key[:-1] + "x") is None
        with pytest.raises(ValueError, match="already exists"):
            add_partner(session=session, name="Woonbron", kind="woningcorporatie",
                        now=ctx.clock())
    with ctx.sessions() as session, session.begin():
        session.get(type(partner), partner.id).active = False
    with ctx.sessions() as session:
        assert partner_for_key(session=session, api_key=api_key) is None


# --- the CLI -----------------------------------------------------------------------------


@pytest.fixture
def data_dir(migrated_data_dir: Path) -> Path:
    """Where the CLI tests' hub keeps its data (its database migrated already)."""
    return migrated_data_dir


def hub_cli(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``hub`` as a user would, on an embedded (SQLite) hub in ``data_dir``."""
    environ = {k: v for k, v in os.environ.items()
               if k not in {"HUB_DATABASE_URL", "HUB_KEYS", "HUB_ENV", "HUB_DISABLED_PLUGINS"}}
    environ.update({"HUB_DATA_DIR": str(data_dir), **env})
    return subprocess.run([sys.executable, "-m", "hub.cli", *args], capture_output=True,
                          text=True, env=environ, cwd=REPO, timeout=120)


def _context_for(data_dir: Path) -> HubContext:
    return build_context(Settings(env="test", data_dir=data_dir),
                         plugins=load_plugins(entry_points=False))


def test_cli_token_for_a_regisseur(data_dir):
    result = hub_cli(data_dir, "token", "regisseur", "--team", "krispijn", "--user", "x",
                     HUB_ENV="development")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.count(".") == 2 and "\n" not in token
    context = _context_for(data_dir)
    try:
        assert verify_token(context, token) == Principal(role="regisseur", user="x",
                                                         wijk="krispijn")
    finally:
        context.dispose()


def test_cli_token_for_a_resident(data_dir):
    bsn = make_bsn(5)
    result = hub_cli(data_dir, "token", "resident", "--bsn", bsn, HUB_ENV="development")
    assert result.returncode == 0, result.stderr
    context = _context_for(data_dir)
    try:
        principal = verify_token(context, result.stdout.strip())
    finally:
        context.dispose()
    assert principal.role == "resident"
    assert principal.subject == context.pseudonyms.subject(bsn)
    assert bsn not in result.stdout


@pytest.mark.parametrize("env", [{"HUB_ENV": "production"}, {}])
def test_cli_token_refused_in_production(data_dir, env):
    # Production is the default (issue 15): only an explicit HUB_ENV=development issues.
    result = hub_cli(data_dir, "token", "regisseur", "--team", "krispijn", "--user", "x", **env)
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and "production" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [
    ("token", "resident", "--bsn", "123456789"),
    ("token", "regisseur", "--team", "rotterdam-zuid", "--user", "x"),
])
def test_cli_token_refuses_bad_input(data_dir, args):
    result = hub_cli(data_dir, *args, HUB_ENV="development")
    assert result.returncode != 0
    assert result.stdout == ""
    assert "error:" in result.stderr and "Traceback" not in result.stderr
    assert "123456789" not in result.stderr  # the refused BSN is not echoed


def test_cli_partner_add(data_dir):
    result = hub_cli(data_dir, "partner", "add", "--name", "X", "--kind", "woningcorporatie")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert {"id", "api_key"} <= set(out)
    api_key = out["api_key"]
    with sqlite3.connect(data_dir / "hub.sqlite3") as db:
        db.row_factory = sqlite3.Row
        rows = [dict(row) for row in db.execute("SELECT * FROM partners")]
    assert len(rows) == 1
    assert rows[0]["id"] == out["id"] and rows[0]["kind"] == "woningcorporatie"
    with sqlite3.connect(data_dir / "hub.sqlite3") as db:
        db.row_factory = sqlite3.Row
        keys = [dict(row) for row in db.execute("SELECT * FROM partner_keys")]
    assert [k["partner_id"] for k in keys] == [out["id"]]
    assert keys[0]["key_hash"].startswith("$argon2id$")
    assert api_key.startswith(f"whk_{keys[0]['id']}_")
    assert all(api_key not in str(value) for row in (*rows, *keys) for value in row.values())

    again = hub_cli(data_dir, "partner", "add", "--name", "X", "--kind", "woningcorporatie")
    assert again.returncode != 0
    assert "already exists" in again.stderr and "Traceback" not in again.stderr
    assert again.stdout == ""

    unknown = hub_cli(data_dir, "partner", "add", "--name", "Y", "--kind", "bakkerij")
    assert unknown.returncode != 0
    assert "bakkerij" in unknown.stderr and "Traceback" not in unknown.stderr
    with sqlite3.connect(data_dir / "hub.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM partners").fetchone()[0] == 1


def test_cli_partner_key_authenticates(data_dir):
    result = hub_cli(data_dir, "partner", "add", "--name", "Woonbron", "--kind",
                     "woningcorporatie")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    context = _context_for(data_dir)
    try:
        upgrade(context.engine)
        with context.sessions() as session:
            found = partner_for_key(session=session, api_key=out["api_key"])
            assert found is not None and found.id == out["id"]
    finally:
        context.dispose()


def test_token_ttl_is_the_setting(hub):
    token = issue_token(hub, role="regisseur", user="anna", wijk="krispijn")
    claims = jwt.decode(token, hub.keys.token_key, algorithms=["HS256"], audience=AUDIENCE,
                        options={"verify_exp": False})
    assert claims["exp"] - claims["iat"] == hub.settings.token_ttl_seconds
    assert claims["iat"] == int(hub.clock().timestamp())
    assert timedelta(seconds=hub.settings.token_ttl_seconds) == timedelta(hours=8)


def test_operator_token_carries_no_wijk_and_no_subject(hub):
    token = issue_token(hub, role="operator", user="beheer")
    assert verify_token(hub, token) == Principal(role="operator", user="beheer")


def test_cli_token_for_an_operator(data_dir):
    result = hub_cli(data_dir, "token", "operator", "--user", "beheer", HUB_ENV="development")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(".") == 2  # a JWT: header.claims.signature
