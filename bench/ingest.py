"""Ingest: requests/s and delivered/s of POST /api/v1/messages, hub against bare and peer.

    python -m bench ingest [--repeat 3] [--seconds 5] [--connections 16]
                           [--modes embedded embedded+worker postgres+rabbitmq]
                           [--workers 1] [--no-peer]
                           [--before REF]

Per mode, the servers run side by side as real processes on 127.0.0.1 and wrk
(same script, same connections, same duration) loads each in turn, the turns
interleaved per repetition so a change in the machine's load falls on all alike:

* ``bare`` — bench/bare.py, FastAPI that only parses the body;
* ``hub`` — ``hub serve`` (and in the embedded+worker and postgres+rabbitmq modes
  ``--workers`` ``hub worker`` processes), real partner-key auth, valid arrears
  signals about registered residents;
* ``before`` (with ``--before REF``) — the hub of another git ref (unpacked with
  ``git archive``, seeded and served by its own code), to give before/after ratios
  from the same machine in the same repetition;
* ``peer`` — bench/peer_service.py, the hand-rolled FastAPI + pika service (one API
  process, one consumer) on the same PostgreSQL server and broker. It runs in both
  modes: the peer is always PostgreSQL + RabbitMQ, and each mode's hub is compared
  with it in the same repetition.

After each hub or peer turn the benchmark waits until everything accepted has
reached the (regisseur's or peer's) inbox before the next turn starts, and
reports that as the delivered rate (accepted / seconds from the first request
until the last delivery). The headlines are the ratios hub/peer of delivered/s
(issue 14's target: at least 4) and hub/bare of requests/s, each per repetition.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

from bench import load
from bench.chain import baseline
from bench.common import (
    Server,
    analyze_like_autovacuum,
    clean_env,
    cpu_seconds,
    free_port,
    machine_busy_seconds,
    postgres_schema,
    process_tree,
    rabbit_vhost,
    scratch_dir,
    summary,
    unique_name,
    write_result,
)
from bench.hubs import MODES, hub

DRAIN_TIMEOUT = 600


@dataclass
class Target:
    """Something wrk loads: where, with which key, and how much is still undelivered."""

    name: str
    url: str
    key: str
    backlog: Callable[[], int] = lambda: 0
    #: The target's own processes, whose CPU per delivered message is noted (the hub's).
    pids: Callable[[], list[int]] | None = None
    #: Run after each drain, outside the timed window: what the database would do by
    #: itself between turns in production (bench.common.analyze_like_autovacuum).
    settle: Callable[[], object] = lambda: None

    def drained_after(self, started: float) -> float:
        """Wait until nothing accepted is undelivered; the seconds since ``started``."""
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while self.backlog() > 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: backlog not delivered in {DRAIN_TIMEOUT} s")
            time.sleep(0.05)
        seconds = time.monotonic() - started
        self.settle()
        return seconds


def _count(engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def hub_target(running_hub, stack: ExitStack) -> Target:
    """The hub's API; its backlog is the outbox rows not yet done."""
    engine = create_engine(running_hub.database_url)
    stack.callback(engine.dispose)
    return Target("hub", running_hub.url + "/api/v1/messages", running_hub.api_key,
                  lambda: _count(engine, "SELECT count(*) FROM outbox "
                                         "WHERE status IN ('pending', 'sent')"),
                  pids=lambda: process_tree([running_hub.serve.pid,
                                             *(w.pid for w in running_hub.workers)]),
                  settle=lambda: analyze_like_autovacuum(engine))


def bare_target(stack: ExitStack) -> Target:
    """bench/bare.py as a process of its own."""
    tmp = stack.enter_context(scratch_dir())
    port = free_port()
    server = Server(["-m", "bench.bare", "--port", str(port)], clean_env(), tmp / "bare.log",
                    port=port)
    server.start()
    stack.callback(server.stop)
    return Target("bare", server.url + "/api/v1/messages", "")


@dataclass
class Peer:
    """The running peer: its target and the database its inbox is in."""

    target: Target
    database_url: str


def start_peer(stack: ExitStack) -> Peer:
    """bench/peer_service.py (API and consumer) on a fresh schema and virtual host."""
    tmp = stack.enter_context(scratch_dir())
    database = stack.enter_context(postgres_schema("bench_peer"))
    amqp = stack.enter_context(rabbit_vhost())
    key = uuid.uuid4().hex
    env = clean_env(PEER_DATABASE=database, PEER_AMQP_URL=amqp, PEER_API_KEY=key,
                    PEER_QUEUE=unique_name("peer"))
    port = free_port()
    api = Server(["-m", "bench.peer_service", "serve", "--port", str(port)], env,
                 tmp / "peer.log", port=port)
    api.start()
    stack.callback(api.stop)
    consumer = Server(["-m", "bench.peer_service", "consume"], env, tmp / "consumer.log",
                      ready_text="peer consumer ready")
    consumer.start()
    stack.callback(consumer.stop)
    engine = create_engine(database)
    stack.callback(engine.dispose)
    target = Target("peer", api.url + "/api/v1/messages", key,
                    lambda: _count(engine, "SELECT (SELECT count(*) FROM peer_messages) - "
                                           "(SELECT count(*) FROM peer_inbox)"),
                    settle=lambda: analyze_like_autovacuum(engine))
    return Peer(target, database)


def peer_target(stack: ExitStack) -> Target:
    """The peer as a wrk target."""
    return start_peer(stack).target


def measure(targets: list[Target], *, repeat: int, seconds: float,
            connections: int = load.CONNECTIONS, warmup: float = 2) -> dict:
    """Interleaved wrk turns; per target lists of rate, p50, p99, delivered rate."""
    runs: dict[str, dict[str, list[float]]] = {
        t.name: {"rate": [], "p50": [], "p99": [], "errors": [], "delivered_rate": [],
                 "cpu_ms_per_message": [], "machine_cpu_ms_per_message": []}
        for t in targets}
    for target in targets:  # warm up: the key's argon2 check, imports, connection pools
        load.warm(target.url, key=target.key, run=f"warm{uuid.uuid4().hex[:6]}")
        if warmup > 0:  # 0: no warm-up turn (the smoke tests, which judge no figure)
            load.wrk(target.url, run=f"warm{uuid.uuid4().hex[:6]}", key=target.key,
                     seconds=warmup, connections=connections)
        target.drained_after(time.monotonic())
    for rep in range(repeat):
        for target in targets:
            run = f"r{rep}{uuid.uuid4().hex[:6]}"
            pids = target.pids() if target.pids else []
            cpu, machine = cpu_seconds(pids), machine_busy_seconds()
            started = time.monotonic()
            result = load.wrk(target.url, run=run, key=target.key, seconds=seconds,
                              connections=connections)
            drained = target.drained_after(started)
            figures = runs[target.name]
            if pids and result.requests > result.errors:
                # CPU per delivered message, from the first request to the last delivery:
                # the target's own processes, and the whole machine (databases, broker and
                # wrk included). Issue 14's worker curve: what each added worker costs.
                delivered = result.requests - result.errors
                figures["cpu_ms_per_message"].append(
                    (cpu_seconds(pids) - cpu) / delivered * 1000)
                figures["machine_cpu_ms_per_message"].append(
                    (machine_busy_seconds() - machine) / delivered * 1000)
            figures["rate"].append(result.rate)
            figures["p50"].append(result.p50)
            figures["p99"].append(result.p99)
            figures["errors"].append(result.errors)
            if target.name != "bare":
                figures["delivered_rate"].append((result.requests - result.errors) / drained)
            print(f"  rep {rep + 1} {target.name:<9} {result.rate:8.1f} req/s  "
                  f"p50 {result.p50 * 1000:7.1f} ms  p99 {result.p99 * 1000:7.1f} ms  "
                  f"errors {result.errors}"
                  + (f"  delivered {figures['delivered_rate'][-1]:7.1f}/s"
                     if target.name != "bare" else ""), flush=True)
    return runs


def ratios(runs: dict, over: str, under: str) -> list[float]:
    """Per repetition: rate of ``over`` / rate of ``under`` (the same turn of the same run)."""
    return [a / b for a, b in zip(runs[over]["rate"], runs[under]["rate"], strict=True)]


def run_mode(mode: str, *, repeat: int, seconds: float, with_peer: bool,
             connections: int = load.CONNECTIONS, workers: int = 1,
             before: Path | None = None, warmup: float = 2) -> dict:
    """Measure one deployment mode: bare, hub (and the peer) side by side."""
    print(f"\n[ingest] mode {mode}: {repeat} x {seconds:.0f} s per server, "
          f"{connections} connections", flush=True)
    with ExitStack() as stack:
        running = stack.enter_context(hub(mode, workers=workers))
        targets = [bare_target(stack), hub_target(running, stack)]
        if before is not None:
            baseline = hub_target(stack.enter_context(hub(mode, workers=workers, code=before)),
                                  stack)
            baseline.name = "before"
            targets.append(baseline)
        if with_peer:
            targets.append(peer_target(stack))
        runs = measure(targets, repeat=repeat, seconds=seconds, connections=connections,
                       warmup=warmup)
    figures = {name: {k: summary(v) for k, v in values.items() if v}
               for name, values in runs.items()}
    figures["ratio_hub_bare"] = summary(ratios(runs, "hub", "bare"))
    if before is not None:
        figures["ratio_hub_before"] = summary(ratios(runs, "hub", "before"))
        figures["ratio_hub_before_delivered"] = summary(
            [a / b for a, b in zip(runs["hub"]["delivered_rate"], runs["before"]["delivered_rate"],
                                   strict=True)])
    if with_peer:
        figures["ratio_hub_peer"] = summary(ratios(runs, "hub", "peer"))
        hub_d, peer_d = runs["hub"]["delivered_rate"], runs["peer"]["delivered_rate"]
        figures["ratio_hub_peer_delivered"] = summary(
            [a / b for a, b in zip(hub_d, peer_d, strict=True)])
    return {"figures": figures, "runs": runs}


def main(argv: list[str] | None = None) -> int:
    """Run the ingest benchmark and write bench/results/ingest.json."""
    parser = argparse.ArgumentParser(prog="python -m bench ingest",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--connections", type=int, default=load.CONNECTIONS,
                        help="wrk connections, the same for every server")
    parser.add_argument("--workers", type=int, default=1,
                        help="hub worker processes in postgres+rabbitmq mode")
    parser.add_argument("--no-peer", action="store_true",
                        help="leave out the hand-rolled peer (needs PostgreSQL and RabbitMQ)")
    parser.add_argument("--before", metavar="REF", default=None,
                        help="also measure the hub of this git ref (before/after ratios)")
    parser.add_argument("--warmup", type=float, default=2,
                        help="seconds of wrk load per server before the measured turns (0: none)")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        code = stack.enter_context(baseline(args.before)) if args.before else None
        result = {mode: run_mode(mode, repeat=args.repeat, seconds=args.seconds,
                                 with_peer=not args.no_peer, connections=args.connections,
                                 workers=args.workers, before=code,
                                 warmup=args.warmup)
                  for mode in args.modes}
    write_result("ingest", figures={m: r["figures"] for m, r in result.items()},
                 extra={"runs": {m: r["runs"] for m, r in result.items()},
                        "seconds": args.seconds, "connections": args.connections,
                        "workers": args.workers, "before": args.before})
    return 0
