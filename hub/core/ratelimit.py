"""A token bucket per partner: a sustained rate with a burst, in this process.

Hand-written rather than the ``limits`` library: it runs on the hub's clock (so
tests move time instead of sleeping) and needs no new dependency. Each API
process keeps its own buckets, so with N processes a partner may send N times
the rate; a limit shared between processes belongs in the reverse proxy or in a
shared store (``limits`` with Redis) — see the README's "Rate limits".
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import datetime


class RateLimiter:
    """Allows ``burst`` requests at once and ``rate`` per second after that, per key."""

    MAX_KEYS = 10_000

    def __init__(self, *, rate: float, burst: int, clock: Callable[[], datetime]) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        # key -> (tokens, at). Keys by client address (failed key checks) can grow: the
        # bucket of a key that is full again is dropped (see _prune).
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take one token for ``key``: 0 if allowed, else the seconds until one is free."""
        now = self._clock().timestamp()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            # A clock that went back (NTP) must not mint tokens nor lock anyone out.
            tokens = min(float(self.burst), tokens + max(0.0, now - at) * self.rate)
            if len(self._buckets) > self.MAX_KEYS:
                self._prune(now)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket: forget it.
        for key in [k for k, (tokens, at) in self._buckets.items()
                    if tokens + max(0.0, now - at) * self.rate >= self.burst]:
            del self._buckets[key]

    def refund(self, key: str) -> None:
        """Give back a token taken with :meth:`take` (the attempt it reserved succeeded)."""
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self.burst), self._clock().timestamp()))
            self._buckets[key] = (min(float(self.burst), tokens + 1.0), at)

    def wait(self, key: str) -> float:
        """Without taking anything: 0 if ``key`` has a token now, else the seconds until one."""
        now = self._clock().timestamp()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + max(0.0, now - at) * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate


def retry_after(seconds: float) -> str:
    """A Retry-After value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))
