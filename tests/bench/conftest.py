"""Fixtures for the benchmark smoke tests: services, tools, and a results directory of their own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.transport.conftest import rabbitmq_server  # noqa: F401 - a fixture, used by name
from tests.utils.services import unavailable

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def wrk() -> str:
    """The wrk load tool; a benchmark tool, not a service: without it the test skips."""
    found = shutil.which("wrk")
    if found is None:
        unavailable("wrk is not installed (apt-get install -y wrk, see bench/README.md)")
    return found


@pytest.fixture
def py_spy() -> str:
    """The py-spy profiler (the bench extra)."""
    found = shutil.which("py-spy") or (ROOT / ".venv" / "bin" / "py-spy")
    if not Path(found).exists():
        unavailable("py-spy is not installed (pip install -e '.[test]')")
    return str(found)
