"""``python -m bench chain``: routing with 1, 2 and 4 ``hub worker`` processes, before and after.

Issue 14 asks that two and four workers route faster than one (the audit
chain's head no longer serialises them), and that the per-message cost in
statements, COMMITs, pre-pings and signatures goes down. This benchmark runs
the baseline (``--before``, a git ref, default where this branch left ``main``; unpacked with
``git archive`` into a temporary directory) and the working tree side by side
in one run, interleaved, on PostgreSQL + RabbitMQ:

1. per code and worker count, a fresh schema and virtual host; ``--messages``
   arrears signals accepted (outbox rows pending, in the database);
2. the workers (real ``hub worker`` processes, each code from its own
   directory) are started and wait on an empty queue;
3. the bench publishes one task per outbox row, in one burst without waiting for
   a confirm per message (so the queue is full before the first batch ends), and
   times until every row is ``done``: routed messages per second.

The counts come from ``bench/chain_probe.py count`` (a listener on the engine,
a counter on ``sign_head``), run under each code. Every figure is printed with
the load average at the time; compare the ratios of the same repetition.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pika
from sqlalchemy import create_engine, func, select

from bench.common import (
    ROOT,
    clean_env,
    postgres_schema,
    rabbit_vhost,
    scratch_dir,
    unique_name,
    write_result,
)

READY = "worker consuming from"


@contextmanager
def baseline(ref: str):
    """The tree of ``ref`` in a temporary directory, with this run's probe copied in."""
    tmp = Path(tempfile.mkdtemp(prefix="wijkhub-before-"))
    try:
        archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        with tarfile.open(fileobj=__import__("io").BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        shutil.copy(ROOT / "bench" / "chain_probe.py", tmp / "bench" / "chain_probe.py")
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def probe(code: Path, what: str, url: str, data_dir: Path, n: int) -> object:
    """Run ``bench/chain_probe.py`` under the code in ``code``; its JSON answer."""
    env = clean_env(PYTHONPATH=str(code))
    out = subprocess.run([sys.executable, "-m", "bench.chain_probe", what, url, str(data_dir),
                          str(n)], cwd=code, env=env, capture_output=True, text=True,
                         timeout=1800)
    if out.returncode:
        raise RuntimeError(f"chain_probe {what} failed under {code}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _publish(broker_url: str, prefix: str, ids: list[int], code_ids: dict[int, str]) -> None:
    from hub.core.transport.messages import TaskRef, encode
    from hub.core.transport.relay import task_properties

    conn = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        # No confirm per message: a blocking confirm each made the bench's own publishing
        # the pace (about 20 messages a batch), so the workers measured their per-batch
        # overhead, not their routing. In one burst the queue is full before the first
        # batch ends.
        channel = conn.channel()
        for entry_id in ids:
            channel.basic_publish(f"{prefix}.tasks", "task.route",
                                  encode(TaskRef(outbox_id=entry_id, message_id=code_ids[entry_id],
                                                 task="route")),
                                  task_properties(entry_id, "route"))
        # A synchronous call on the same channel answers only after the broker handled
        # every publish before it: closing earlier could drop the last ones unrouted (seen:
        # a 6-message run waited for rows that never came).
        channel.exchange_declare(f"{prefix}.tasks", passive=True)
    finally:
        conn.close()


def drain(code: Path, workers: int, messages: int) -> dict:
    """Routed messages per second with ``workers`` processes of ``code``."""
    from hub.core.models import OutboxEntry

    with ExitStack() as stack:
        tmp = stack.enter_context(scratch_dir())
        url = stack.enter_context(postgres_schema("bench_chain"))
        vhost_url = stack.enter_context(rabbit_vhost())
        prefix = unique_name("chain")
        broker_url = f"{vhost_url}?prefix={prefix}"
        ids = probe(code, "prefill", url, tmp / "data", messages)
        engine = create_engine(url)
        stack.callback(engine.dispose)
        with engine.connect() as conn:
            message_ids = dict(conn.execute(select(OutboxEntry.id, OutboxEntry.message_id)).all())
        env = clean_env(HUB_DATA_DIR=str(tmp / "data"), HUB_DATABASE_URL=url,
                        HUB_BROKER_URL=broker_url, PYTHONPATH=str(code))
        procs = []
        for i in range(workers):
            log = tmp / f"worker-{i}.log"
            with log.open("w") as out:
                procs.append((subprocess.Popen([sys.executable, "-m", "hub.cli", "worker"],
                                               cwd=code, env=env, stdout=out,
                                               stderr=subprocess.STDOUT), log))

        def stop_all() -> None:
            for proc, _ in procs:
                proc.terminate()
            for proc, _ in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()

        stack.callback(stop_all)
        deadline = time.monotonic() + 120
        while not all(READY in log.read_text() for _, log in procs):
            if time.monotonic() > deadline or any(p.poll() is not None for p, _ in procs):
                raise RuntimeError("workers did not start:\n" + "\n".join(
                    log.read_text()[-2000:] for _, log in procs))
            time.sleep(0.1)
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        _publish(vhost_url, prefix, ids, message_ids)
        done, progressed = 0, time.monotonic()
        while done < len(ids):
            time.sleep(0.05)
            with engine.connect() as conn:
                now_done = conn.execute(select(func.count()).select_from(OutboxEntry)
                                        .where(OutboxEntry.status == "done")).scalar_one()
            if now_done > done:
                done, progressed = now_done, time.monotonic()
            elif time.monotonic() - progressed > 60:
                # Routing never pauses for a minute with work queued: say so, do not hang.
                raise RuntimeError(f"only {done} of {len(ids)} routed, none for 60 s")
        seconds = time.monotonic() - started
        with engine.connect() as conn:
            # Routing alone, from the first claim to the last (updated_at is set when a
            # worker runs the row): publishing and the bench's own polling left out.
            first, last = conn.execute(select(func.min(OutboxEntry.updated_at),
                                              func.max(OutboxEntry.updated_at))).one()
        routing = (last - first).total_seconds()
        # A run small enough to be routed in one batch has one updated_at for every row:
        # then the wall time (publishing and polling included) is the only measure.
        per_second = (len(ids) - 1) / routing if routing > 0 else len(ids) / seconds
        return {"per_second": per_second,
                "wall_per_second": len(ids) / seconds, "seconds": seconds,
                "load": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run both codes interleaved, print and store the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench chain")
    parser.add_argument("--before", default=None,
                        help="git ref of the baseline (default: where this branch left main)")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--count-messages", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    if args.before is None:
        base = subprocess.run(["git", "merge-base", "HEAD", "main"], cwd=ROOT,
                              capture_output=True, text=True)
        # Without a main branch (a CI checkout) the baseline is HEAD: it still runs.
        args.before = base.stdout.strip() if base.returncode == 0 else "HEAD"
    results: dict = {"messages": args.messages, "before": args.before, "runs": [],
                     "counts": {}}
    with baseline(args.before) as before_dir:
        codes = {"before": before_dir, "after": ROOT}
        for name, code in codes.items():
            with scratch_dir() as tmp, postgres_schema("bench_count") as url:
                counts = probe(code, "count", url, tmp / "data", args.count_messages)
            results["counts"][name] = counts
            print(f"{name}: per message {json.dumps(counts)}", flush=True)
        for repeat in range(args.repeat):
            for workers in args.workers:
                turn = {"repeat": repeat, "workers": workers}
                for name, code in codes.items():
                    turn[name] = drain(code, workers, args.messages)
                    print(f"repeat {repeat}, {workers} worker(s), {name}: "
                          f"{turn[name]['per_second']:.1f} routed/s "
                          f"(load {turn[name]['load']})", flush=True)
                turn["ratio"] = turn["after"]["per_second"] / turn["before"]["per_second"]
                print(f"  after/before = {turn['ratio']:.2f}", flush=True)
                results["runs"].append(turn)
    for name in ("before", "after"):
        # The median over the repetitions, per worker count.
        rates = {w: statistics.median(r[name]["per_second"] for r in results["runs"]
                                      if r["workers"] == w) for w in args.workers}
        if 1 in rates:
            print(f"{name}: scaling vs 1 worker: " + ", ".join(
                f"{w}: {rate / rates[1]:.2f}x" for w, rate in sorted(rates.items())))
    write_result("chain", figures=results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
