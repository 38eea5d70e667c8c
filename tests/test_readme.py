"""The README's first lines are a promise: keep them true."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```sh", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.strip().splitlines()]


def test_readme_starts_with_a_run_and_a_test_command():
    run, test = _readme_commands()
    assert run.endswith("hub demo")
    assert test.endswith("pytest")


def test_ci_runs_the_readme_test_command_verbatim():
    _, test = _readme_commands()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in [line.strip() for line in ci]
