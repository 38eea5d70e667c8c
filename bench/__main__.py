"""``python -m bench all|NAME … [--repeat N] [--quick]``: run benchmarks, write the report.

Each benchmark writes bench/results/NAME.json; ``report`` (also run at the end
of ``all``) turns the JSON into docs/performance.md.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import time

from bench.common import mark_start, write_result

# name -> (module, extra arguments for --quick: tiny sizes that only show it runs)
BENCHMARKS = {
    "broker": ("bench.broker", ["--messages", "300"]),
    "ingest": ("bench.ingest", ["--seconds", "1"]),
    "e2e": ("bench.e2e", ["--messages", "10"]),
    "batch": ("bench.batch", ["--lines", "300"]),
    "decisions": ("bench.decisions", ["--sizes", "200", "2000", "--decisions", "100"]),
    "wins": ("bench.wins", ["--messages", "200"]),
    "costs": ("bench.costs", ["--messages", "50"]),
    "profile": ("bench.profile", ["--seconds", "2", "--modes", "embedded"]),
    "workers": ("bench.workers", ["--seconds", "1", "--workers", "1", "2"]),
    "chain": ("bench.chain", ["--messages", "60", "--workers", "1", "2",
                              "--count-messages", "10"]),
}

# Arguments a benchmark always gets from ``all``: the batch goes on to the inbox, so the
# report has the routed rate and the 1,000,000-line figure (issue 14).
ALWAYS = {"batch": ["--route"]}


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run what it names."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["all", "report", *BENCHMARKS])
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per figure (>= 1)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes: only shows that each benchmark runs")
    parser.add_argument("--batch-lines", type=int, default=None,
                        help="lines of the batch benchmark's CSV (default 100,000)")
    args, rest = parser.parse_known_args(argv)
    # SIGTERM ends the run like Ctrl-C, so every server is stopped and every schema,
    # virtual host and temporary directory is removed on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    names = list(BENCHMARKS) if args.what == "all" else [] if args.what == "report" else [args.what]
    run_started = time.monotonic()
    for name in names:
        module, quick = BENCHMARKS[name]
        started = time.monotonic()
        print(f"\n=== {name} ===", flush=True)
        print("load average at start: " + " ".join(f"{x:.2f}" for x in mark_start()),
              flush=True)
        always = ALWAYS.get(name, []) if args.what == "all" else []
        extra = [*always, *(quick if args.quick else []), *rest]
        if name == "batch" and args.batch_lines is not None:
            extra += ["--lines", str(args.batch_lines)]
        code = importlib.import_module(module).main(["--repeat", str(args.repeat), *extra])
        print(f"=== {name} done in {time.monotonic() - started:.0f} s ===", flush=True)
        if code:
            return code
    if args.what == "all":
        write_result("run", figures={"seconds": time.monotonic() - run_started,
                                     "benchmarks": names})
    if args.what in ("all", "report"):
        from bench import report

        report.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
