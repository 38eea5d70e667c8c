"""What a test does when a service or tool it needs is missing: skip, except in CI."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(why: str) -> NoReturn:
    """Skip the test for ``why``; under ``CI=true`` fail it instead.

    CI starts every service and installs every tool (``.ci/run``, the test extra), so
    there a missing one is a broken run, never a silently skipped test.
    """
    if IN_CI:
        pytest.fail(why)
    pytest.skip(why)
