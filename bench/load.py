"""Load generators: wrk for the maximum rate, a paced Python sender for the end-to-end test.

wrk (C, one thread) drives every server of the ingest and peer benchmarks the
same way: the same script, the same connections, the same duration. It costs
far less CPU than a Python client would, which matters on two shared cores
where the load generator competes with the server it measures.

The end-to-end benchmark needs each message's send time, so it uses an
open-loop asyncio sender: message i leaves at start + i/rate whether or not
earlier answers are back. It speaks HTTP/1.1 with h11 (the protocol library
under httpx) over asyncio streams and keep-alive connections, nothing more:
httpx's own layers cost 4-10 ms of CPU a request on a two-core machine, and at
358 requests/s it fell seconds behind even the bare endpoint (measured: p50
3.5 s), so the latencies measured the sender, not the server.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import h11
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


class _Connection:
    """One keep-alive HTTP/1.1 connection: asyncio streams, framing by h11."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, host: str, port: int) -> _Connection:
        return cls(*await asyncio.open_connection(host, port))

    async def post(self, target: bytes, headers: list[tuple[bytes, bytes]],
                   body: bytes) -> tuple[int, bytes]:
        """Send one POST and read its whole answer: (status, body)."""
        conn = self.h11
        self.writer.write(conn.send(h11.Request(method=b"POST", target=target, headers=[
            *headers, (b"Content-Length", str(len(body)).encode())])))
        self.writer.write(conn.send(h11.Data(data=body)))
        self.writer.write(conn.send(h11.EndOfMessage()))
        status, chunks = 0, []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await self.reader.read(65536)
                conn.receive_data(data)
                if not data and conn.their_state is not h11.DONE:
                    raise ConnectionError("the server closed the connection mid-answer")
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
        conn.start_next_cycle()  # raises when the server did not keep the connection
        return status, b"".join(chunks)

    def close(self) -> None:
        self.writer.close()


async def _paced(url: str, key: str, run: str, rate: float, count: int,
                 sent: dict[str, float]) -> dict[str, float]:
    failures: list[str] = []
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    headers = [(b"Host", f"{host}:{port}".encode()), (b"Content-Type", b"application/json")]
    if key:
        headers.append((b"Authorization", f"Bearer {key}".encode()))
    target = b"/api/v1/messages"
    # Idle connections, reused; a new one only when every open one is busy (open loop).
    idle: list[_Connection] = []
    opened: list[_Connection] = []

    async def one(n: int) -> None:
        body = json.dumps(arrears_body(run, n)).encode()
        conn = idle.pop() if idle else None
        if conn is None:
            conn = await _Connection.open(host, port)
            opened.append(conn)
        at = time.time()
        status, answer = await conn.post(target, headers, body)
        idle.append(conn)
        if status == 202:
            # Keyed by the hub's id: the stored source_ref is a keyed hash (issue 13).
            sent[json.loads(answer)["id"]] = at
        else:
            failures.append(f"{status} {answer[:200]!r}")

    try:
        start = time.monotonic()
        tasks = []
        for n in range(count):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=60 + count / rate)
    finally:
        for conn in opened:
            conn.close()
    if failures:
        raise RuntimeError(f"{len(failures)} of {count} paced messages were refused, "
                           f"the first: {failures[0]}")
    return sent


def paced(url: str, *, key: str, run: str, rate: float, seconds: float,
          sent: dict[str, float] | None = None) -> dict[str, float]:
    """Send ``rate`` messages per second for ``seconds``; their hub id → wall-clock send.

    ``sent``: a dict to fill as the answers come in (another thread may read it
    meanwhile, as bench/e2e.py's watcher does); the one returned.
    """
    sent = {} if sent is None else sent
    return asyncio.run(_paced(url, key, run, rate, max(1, round(rate * seconds)), sent))
