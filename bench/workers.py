"""Worker curve: delivered/s of the PostgreSQL + RabbitMQ hub with 1, 2 and 4 ``hub worker``s.

    python -m bench workers [--repeat 3] [--seconds 5] [--workers 1 2 4] [--connections 16]

Issue 14 asks that delivered/s rises with each worker added. One hub per step
runs side by side (each its own schema, virtual host, ``hub serve`` and N
``hub worker`` processes); wrk loads each in turn with the same script and
connections, the turns interleaved per repetition, and after each turn the
benchmark waits until everything accepted is in the inbox: delivered/s =
accepted / seconds from the first request to the last delivery (as
bench/ingest.py). The ratios against one worker are taken per repetition.

This is the curve under ingest, where ``hub serve`` competes with the workers for
the cores; bench/chain.py gives the curve of workers draining a pre-filled queue.
Each turn also notes the CPU per delivered message of the hub's processes
(``hub serve`` and its workers, from /proc) and of the whole machine: what each
added worker costs, which is why the curve falls on two cores.
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack

from bench import load
from bench.common import summary, write_result
from bench.hubs import hub
from bench.ingest import hub_target, measure

MODE = "postgres+rabbitmq"


def name_of(workers: int) -> str:
    """The target's name for a step."""
    return f"{workers} worker" + ("s" if workers > 1 else "")


def main(argv: list[str] | None = None) -> int:
    """Run the worker curve and write bench/results/workers.json."""
    parser = argparse.ArgumentParser(prog="python -m bench workers",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--connections", type=int, default=load.CONNECTIONS)
    args = parser.parse_args(argv)
    steps = sorted(set(args.workers))
    print(f"\n[workers] {MODE}: {steps} worker processes, {args.repeat} x {args.seconds:.0f} s",
          flush=True)
    with ExitStack() as stack:
        targets = []
        for workers in steps:
            target = hub_target(stack.enter_context(hub(MODE, workers=workers)), stack)
            target.name = name_of(workers)
            targets.append(target)
        runs = measure(targets, repeat=args.repeat, seconds=args.seconds,
                       connections=args.connections)
    figures: dict = {"steps": steps,
                     "delivered_rate": {str(w): summary(runs[name_of(w)]["delivered_rate"])
                                        for w in steps},
                     "rate": {str(w): summary(runs[name_of(w)]["rate"]) for w in steps},
                     # CPU per delivered message: the hub's processes, and the whole machine
                     # (none for a step whose every request failed: nothing was delivered).
                     **{cpu: {str(w): summary(runs[name_of(w)][cpu]) for w in steps
                              if runs[name_of(w)][cpu]}
                        for cpu in ("cpu_ms_per_message", "machine_cpu_ms_per_message")}}
    first = runs[name_of(steps[0])]["delivered_rate"]
    figures["ratio_to_first"] = {
        str(w): summary([a / b for a, b in zip(runs[name_of(w)]["delivered_rate"], first,
                                                strict=True)]) for w in steps[1:]}
    write_result("workers", figures=figures,
                 extra={"runs": runs, "mode": MODE, "seconds": args.seconds,
                        "connections": args.connections})
    return 0
