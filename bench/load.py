"""Load generators: wrk for the maximum rate, a paced Python sender for the end-to-end test.

wrk (C, one thread) drives every server of the ingest and peer benchmarks the
same way: the same script, the same connections, the same duration. It costs
far less CPU than a Python client would, which matters on two shared cores
where the load generator competes with the server it measures.

The end-to-end benchmark needs each message's send time, so it uses an
open-loop asyncio sender (httpx): message i leaves at start + i/rate whether or
not earlier answers are back. It runs at 25-90 % of the measured maximum, where
its own CPU use is a fraction of the server's.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.hubs import RESIDENTS, arrears_body

SCRIPT = Path(__file__).with_name("wrk_post.lua")
# As the issue 14 measurement made outside the project: 16 connections, hub and peer alike.
CONNECTIONS = 16


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: rate of successful answers and latency percentiles (seconds)."""

    requests: int
    seconds: float
    errors: int
    p50: float
    p99: float

    @property
    def rate(self) -> float:
        return (self.requests - self.errors) / self.seconds


def wrk(url: str, *, run: str, key: str, seconds: float,
        connections: int = CONNECTIONS) -> WrkResult:
    """POST arrears signals to ``url`` for ``seconds`` with wrk; non-2xx answers are errors."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk (see bench/README.md)")
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s",
         "-s", str(SCRIPT), url, "--", run, key or "none", str(RESIDENTS)],
        capture_output=True, text=True, check=True, timeout=seconds + 120).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    data = json.loads(line.removeprefix("WRK_JSON "))
    errors = sum(v for k, v in data.items() if k.startswith("errors_"))
    return WrkResult(requests=data["requests"], seconds=data["duration_us"] / 1e6,
                     errors=errors, p50=data["p50_us"] / 1e6, p99=data["p99_us"] / 1e6)


def warm(url: str, *, key: str, run: str) -> None:
    """One request before any load: the partner key's argon2 check is done once and cached.

    Without it, every connection of the first wrk second verifies the key at
    once (argon2id, 64 MiB each, serialised by the hub's slots): seconds of
    nothing but hashing before the first answer.
    """
    r = httpx.post(url, json=arrears_body(run, 0), timeout=120,
                   headers={"Authorization": f"Bearer {key}"} if key else {})
    r.raise_for_status()


async def _paced(url: str, key: str, run: str, rate: float, count: int) -> dict[str, float]:
    sent: dict[str, float] = {}
    failures = 0
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60,
                                 headers={"Authorization": f"Bearer {key}"}) as client:

        async def one(n: int) -> None:
            nonlocal failures
            body = arrears_body(run, n)
            at = time.time()
            r = await client.post("/api/v1/messages", json=body)
            if r.status_code == 202:
                # Keyed by the hub's id: the stored source_ref is a keyed hash (issue 13).
                sent[r.json()["id"]] = at
            else:
                failures += 1

        start = time.monotonic()
        tasks = []
        for n in range(count):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks)
    if failures:
        raise RuntimeError(f"{failures} of {count} paced messages were refused")
    return sent


def paced(url: str, *, key: str, run: str, rate: float, seconds: float) -> dict[str, float]:
    """Send ``rate`` messages per second for ``seconds``; their hub id → wall-clock send."""
    return asyncio.run(_paced(url, key, run, rate, max(1, round(rate * seconds))))
