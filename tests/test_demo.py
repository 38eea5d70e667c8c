"""``hub demo``: the story runs end to end on a real server, and refuses a used directory."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from stdnum.nl import bsn as stdnum_bsn

from hub.core.context import build_context
from hub.core.identity import verify_token
from hub.core.residents import match_subject
from hub.demo import DEMO_RESIDENTS, FATIMA, explore_commands, run_demo
from hub.settings import Settings


def test_demo_residents_have_valid_bsns():
    assert all(stdnum_bsn.is_valid(r.bsn) for r in DEMO_RESIDENTS)
    assert len({r.bsn for r in DEMO_RESIDENTS}) == len(DEMO_RESIDENTS)


def test_demo_walks_the_story(tmp_path, capsys):
    assert run_demo(tmp_path / "demo") == 0
    out = capsys.readouterr().out
    assert "demo failed" not in out
    assert "sees 1 item: 'Huurachterstand" in out and "basis 'statute'" in out
    assert "schuldhulpverlening" in out
    assert "consent request: 'Woonbron wil" in out
    assert "basis 'consent'" in out
    assert "Step d: Fatima revokes her consent" in out
    assert "Consent is now 'revoked'" in out
    assert "The second nuisance signal is held" in out
    assert "Step g: one household, one plan" in out
    assert "Woonbron receives 'plan.agreement': 'Betalingsregeling" in out
    assert "basis 'own_request'" in out
    assert "the update is not sent to Woonbron (it received 1 message in all)" in out
    assert "Demo complete" in out
    assert "one outreach case, not two calls to make: 2 signals from woningcorporatie, " \
        "evides" in out
    assert "The SMS NotifyNL would send" in out and "wijkteam Krispijn" in out
    assert f"HUB_DATA_DIR={tmp_path / 'demo'} hub serve" in out
    assert f"rm -r {tmp_path / 'demo'}" in out
    for resident in DEMO_RESIDENTS:
        assert resident.bsn not in out


def test_demo_explore_commands_work(tmp_path, capsys):
    """Each "explore further" line, pasted into a shell, gives a token the hub accepts."""
    data = tmp_path / "demo"
    assert run_demo(data) == 0
    out = capsys.readouterr().out
    lines = explore_commands(data)
    assert all(f"  {line}" in out for line in lines)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    ctx = build_context(Settings(env="development", data_dir=data))
    try:
        roles = []
        for line in lines:
            if line.endswith("hub serve"):
                continue  # the server itself: tests/system/test_safe_default.py starts one
            ran = subprocess.run(["bash", "-c", line], capture_output=True, text=True,
                                 env=env, timeout=120, check=False)
            assert ran.returncode == 0, ran.stderr
            roles.append(verify_token(ctx, ran.stdout.strip()))
        with ctx.sessions() as session:
            fatima = match_subject(session=session, ctx=ctx, subject=None, name=FATIMA.name,
                                   birthdate=None, postcode=FATIMA.postcode,
                                   huisnummer=FATIMA.huisnummer)
    finally:
        ctx.dispose()
    assert [p.role for p in roles] == ["regisseur", "resident", "operator"]
    assert roles[1].subject == fatima.subject is not None


def test_demo_without_a_directory_leaves_nothing_behind(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert run_demo(None) == 0
    assert list(tmp_path.iterdir()) == []
    out = capsys.readouterr().out
    assert "has been removed" in out and "hub demo --data-dir" in out


def test_demo_refuses_a_directory_in_use(tmp_path, capsys):
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine")
    assert run_demo(used) == 2
    assert [p.name for p in used.iterdir()] == ["keep.txt"]
    assert (used / "keep.txt").read_text() == "mine"
    captured = capsys.readouterr()
    assert "not empty" in captured.err


def test_demo_console_command(tmp_path):
    # The installed console script next to this interpreter, as a user would run it.
    script = Path(sys.executable).parent / "hub"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "hub.cli"]
    result = subprocess.run([*command, "demo", "--data-dir", str(tmp_path / "cli")],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Demo complete" in result.stdout
    for resident in DEMO_RESIDENTS:
        assert resident.bsn not in result.stdout + result.stderr
