"""``hub policy check FILE``: the hub's own validation, before a policy is used."""

from __future__ import annotations

import json

import pytest

from consent.policy import load_policy
from hub.cli import main

GOOD = """
[statutes.wgs]
title = "Wet gemeentelijke schuldhulpverlening"
enabled = true
retention_days = 60

[types."signal.arrears.rent"]
category = "financieel"
statute = "wgs"
minimal_fields = ["name", "address"]
"""


def test_a_coherent_policy_passes(tmp_path, capsys):
    path = tmp_path / "gemeente.toml"
    path.write_text(GOOD, encoding="utf-8")
    assert main(["policy", "check", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is True and out["types"] == ["signal.arrears.rent"]


def test_the_shipped_policy_passes(capsys):
    from importlib import resources

    path = resources.files("consent").joinpath("default_policy.toml")
    assert main(["policy", "check", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["statutes"] == sorted(load_policy().statutes)


@pytest.mark.parametrize(("text", "message"), [
    (GOOD.replace('statute = "wgs"', 'statute = "wsg"'),
     'types."signal.arrears.rent".statute: unknown statute "wsg"'),
    (GOOD.replace("retention_days = 60", "retention_days = 0"),
     "statutes.wgs.retention_days: must be a positive whole number"),
    (GOOD + "[types\n", "not valid TOML"),
    # Coherent on its own, but the plugin serving the type says it is "financieel".
    (GOOD.replace('category = "financieel"', 'category = "wonen"'),
     "but the plugin serving it declares 'financieel'"),
])
def test_an_incoherent_policy_fails_with_the_reason(tmp_path, capsys, text, message):
    path = tmp_path / "gemeente.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["policy", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_a_missing_file_fails(tmp_path, capsys):
    assert main(["policy", "check", str(tmp_path / "nope.toml")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_the_example_for_a_municipality_passes_and_is_the_default(capsys):
    """examples/gemeente.toml is where a municipality starts: it must check, and say the same
    as the shipped default (so the example never drifts from what the hub does)."""
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "gemeente.toml"
    assert main(["policy", "check", str(example)]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    mine, default = load_policy(example), load_policy()
    assert (dict(mine.statutes), dict(mine.safety), dict(mine.types)) == (
        dict(default.statutes), dict(default.safety), dict(default.types))
    # Documented: every table says in a comment right above it what it is for.
    lines = example.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if line.startswith("["):
            assert lines[number - 1].startswith("#"), f"line {number + 1}: {line} undocumented"
