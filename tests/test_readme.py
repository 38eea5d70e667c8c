"""The README's first lines are a promise: keep them true."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("```sh", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.strip().splitlines()]


def test_readme_starts_with_a_run_and_a_test_command():
    run, test = _readme_commands()
    assert run.endswith("hub demo")
    # Two steps: the parallel part without the serial tests, then the serial tests alone.
    parallel, serial = test.split(" && .venv/bin/pytest ")[-2:]
    assert '-m "not serial"' in parallel and "-n " in parallel
    assert serial == "-m serial"


def test_ci_runs_the_readme_test_command_verbatim():
    _, test = _readme_commands()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in [line.strip() for line in ci]


def test_the_fault_tests_stop_only_servers_of_their_own_and_run_in_the_parallel_step():
    from tests.transport import test_faults

    assert "serial" not in {mark.name for mark in test_faults.pytestmark}
    source = Path(test_faults.__file__).read_text()
    # The broker is stopped on a private node (its ctl() always passes -n <node>), the
    # database restarted on a private cluster; never a bare rabbitmqctl on the shared node.
    assert "rabbitmqctl(" not in source
    assert "private_rabbit" in source and "private_postgres" in source


def test_a_serial_step_with_nothing_to_run_does_not_fail():
    # pytest exits 5 when it collects nothing; a branch without serial tests must still pass.
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly",
                             "-m", "serial", "tests/test_readme.py"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "deselected" in result.stdout


def test_the_serial_step_imports_only_modules_that_name_the_mark(tmp_path):
    from tests.conftest import pytest_ignore_collect

    marked, plain = tmp_path / "test_marked.py", tmp_path / "test_plain.py"
    marked.write_text("import pytest\npytestmark = pytest.mark.serial\n")
    plain.write_text("def test_x():\n    pass\n")
    serial = SimpleNamespace(option=SimpleNamespace(markexpr="serial"))
    parallel = SimpleNamespace(option=SimpleNamespace(markexpr="not serial"))
    assert pytest_ignore_collect(plain, serial) is True
    assert pytest_ignore_collect(marked, serial) is False
    assert pytest_ignore_collect(tmp_path, serial) is None  # directories are walked
    assert pytest_ignore_collect(plain, parallel) is None  # the parallel step takes all
