"""Profile: where a hub process spends its time on the ingest and the delivery paths.

    python -m bench profile [--seconds 10] [--modes embedded embedded+worker postgres+rabbitmq]

py-spy samples the real processes from outside (every thread, no code change,
100 samples/s, idle threads left out) while wrk loads ``hub serve`` and while
the backlog is delivered: in embedded mode ``hub serve`` and its routing
process (a child, sampled with it), with PostgreSQL and RabbitMQ ``hub serve``
(API and relay) and ``hub worker``. Each sampled stack is put on a path by the
hub frames it holds — ``delivery`` (router, worker, consumer, task), ``relay``
(the outbox relay) or ``ingest`` (everything else in the serving process:
uvicorn, middleware, the route) — and per path the report lists the share of
samples per library (self time of the innermost frame) and the functions with
the most samples (inclusive).

``--repeat`` is accepted for a uniform command line; a profile is taken once.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

from bench import load
from bench.common import ROOT, scratch_dir, write_result
from bench.hubs import MODES, hub

PATHS = {"delivery": ("hub/core/worker.py", "hub/core/router.py",
                      "hub/core/transport/consumer.py", "hub/core/transport/tasks.py"),
         "relay": ("hub/core/transport/relay.py",)}
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^:()]*)(?::\d+)?\)$")
TOP = 12


def py_spy() -> str:
    """The py-spy executable (PyPI, installed into the venv by the bench extra)."""
    found = shutil.which("py-spy") or str(Path(ROOT, ".venv", "bin", "py-spy"))
    if not Path(found).exists():
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install -e '.[bench]'")
    return found


def record(pid: int, seconds: float, out: Path) -> subprocess.Popen:
    """Start sampling ``pid`` and the processes it started (``hub serve``'s routing
    process) for ``seconds`` into ``out`` (py-spy's collapsed 'raw' format)."""
    return subprocess.Popen([py_spy(), "record", "--pid", str(pid), "--subprocesses",
                             "--duration", str(int(seconds)), "--rate", "100",
                             "--format", "raw", "--output", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _short(file: str) -> str:
    for marker in ("site-packages/", "/lib/python3"):
        if marker in file:
            tail = file.split(marker, 1)[1]
            return tail.split("/", 1)[1] if marker == "/lib/python3" and "/" in tail else tail
    return file.removeprefix(str(ROOT) + "/")


def _library(file: str) -> str:
    short = _short(file)
    if short.startswith(("hub/", "consent/", "plugins/")):
        return "hub: " + "/".join(short.split("/")[:-1] or [short])
    if "/" not in short:  # the standard library (json/__init__.py is json, threading.py …)
        return "stdlib: " + short.removesuffix(".py")
    return short.split("/", 1)[0]


def parse(raw: Path) -> list[tuple[list[tuple[str, str]], int]]:
    """py-spy raw lines → (frames outermost first as (function, short file), samples)."""
    stacks = []
    if not raw.exists():
        return stacks
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = []
        for part in stack.split(";"):
            match = FRAME.match(part)
            if match:
                frames.append((match["function"], _short(match["file"])))
        if frames and count.isdigit():
            stacks.append((frames, int(count)))
    return stacks


def path_of(frames: list[tuple[str, str]]) -> str:
    """Which path a sampled stack belongs to."""
    files = {f for _, f in frames}
    for name, markers in PATHS.items():
        if any(m in files for m in markers):
            return name
    return "ingest"


def summarise(stacks) -> dict:
    """Per path: samples, self time per library, top inclusive functions."""
    out: dict[str, dict] = {}
    for frames, count in stacks:
        entry = out.setdefault(path_of(frames), {"samples": 0, "libraries": Counter(),
                                                 "functions": Counter()})
        entry["samples"] += count
        entry["libraries"][_library(frames[-1][1])] += count
        for function, file in set(frames):
            # Only the hub's own functions: the frames above them (threads, the event
            # loop, uvicorn) are on every stack and say nothing.
            if file.startswith(("hub/", "consent/", "plugins/")):
                entry["functions"][f"{function} ({file})"] += count
    return {path: {"samples": e["samples"],
                   "libraries": [[k, v / e["samples"]] for k, v in e["libraries"].most_common(TOP)],
                   "functions": [[k, v / e["samples"]]
                                 for k, v in e["functions"].most_common(TOP * 2)]}
            for path, e in out.items()}


def profile_mode(mode: str, seconds: float) -> dict:
    """Load the hub with wrk while py-spy samples its processes; then the drain."""
    with scratch_dir() as tmp, hub(mode) as running:
        processes = {"serve": running.serve.pid}
        if running.worker is not None:
            processes["worker"] = running.worker.pid
        # Warm up first (the partner key's argon2 check, pools), as the ingest benchmark does.
        load.warm(running.url + "/api/v1/messages", key=running.api_key,
                  run=f"w{uuid.uuid4().hex[:6]}")
        load.wrk(running.url + "/api/v1/messages", run=f"w{uuid.uuid4().hex[:6]}",
                 key=running.api_key, seconds=2)
        drain = seconds * 2  # the backlog after the load is delivery only
        recorders = {name: record(pid, seconds + drain, tmp / f"{name}.raw")
                     for name, pid in processes.items()}
        time.sleep(1)  # let py-spy attach
        result = load.wrk(running.url + "/api/v1/messages", run=f"p{uuid.uuid4().hex[:6]}",
                          key=running.api_key, seconds=seconds)
        for recorder in recorders.values():
            recorder.wait(timeout=seconds + drain + 60)
        stacks = [s for name in processes for s in parse(tmp / f"{name}.raw")]
    print(f"\n[profile] {mode}: {result.rate:.1f} req/s under py-spy", flush=True)
    summary = summarise(stacks)
    for path, entry in summary.items():
        print(f"  {path}: {entry['samples']} samples")
        for name, share in entry["libraries"][:6]:
            print(f"    {share:6.1%}  {name}")
    return summary


def main(argv: list[str] | None = None) -> int:
    """Profile each mode and write bench/results/profile.json."""
    parser = argparse.ArgumentParser(prog="python -m bench profile",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="ignored: one profile per mode")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    args = parser.parse_args(argv)
    figures = {mode: profile_mode(mode, args.seconds) for mode in args.modes}
    write_result("profile", figures=figures, extra={"seconds": args.seconds})
    return 0
