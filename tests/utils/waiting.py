"""Waiting for something another thread or process does, without betting on its speed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# A bound on waiting, never an assertion on speed: long enough for a loaded shared machine.
PATIENCE_SECONDS = 300.0


def wait_until(probe: Callable[[], T], what: str, *, timeout: float = PATIENCE_SECONDS,
               stop: Callable[[], bool] | None = None) -> T:
    """Return ``probe()``'s first truthy answer; raise AssertionError naming ``what`` otherwise.

    Polls quickly at first and then less often (20 ms up to 0.5 s), so a fast answer is
    seen at once and a slow one costs little CPU. ``stop`` ends the wait early when it
    answers true (e.g. the process we wait for has exited).
    """
    deadline = time.monotonic() + timeout
    pause = 0.02
    idle = threading.Event()  # never set: an interruptible pause
    while True:
        answer = probe()
        if answer:
            return answer
        if stop is not None and stop():
            raise AssertionError(f"{what} (gave up: the other side stopped)")
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} (waited {timeout:.0f} s)")
        idle.wait(pause)
        pause = min(pause * 1.5, 0.5)
