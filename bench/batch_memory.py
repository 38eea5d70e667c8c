"""Benchmark: memory of a CSV batch import at 10 thousand and at 100 thousand lines.

Each size runs in a fresh Python process (so one size's high-water mark never
hides in another's): a temporary hub on SQLite (or, with ``--store postgres``,
in a fresh PostgreSQL schema) with the partner Evides, a CSV
of N water-arrears lines written on the fly into a temporary directory, and the
import through the core path that ``hub batch import`` and
``POST /api/v1/messages/batch`` share (``hub.core.batch``: streamed, committed
per chunk). Measured during the import only:

- ``tracemalloc`` peak: the most Python memory held at any moment;
- peak RSS (``ru_maxrss``) and its growth over the RSS before the import,
  which also sees memory outside Python (SQLite's page cache, the driver);
- lines per second (tracemalloc slows Python down: use ``--no-tracemalloc``
  for a speed figure).

The ratios 100k / 10k are printed: near 1.0 means memory does not grow with
the file. Results are also written as JSON to ``bench/results/`` (gitignored).

    python bench/batch_memory.py                         # 10,000 and 100,000 lines
    python bench/batch_memory.py --sizes 1000 5000       # quick
    python bench/batch_memory.py --no-tracemalloc        # speed without the tracer
    python bench/batch_memory.py --store postgres        # the hub on PostgreSQL (COPY)

This is not a test: it asserts nothing and is not run by pytest (a smoke test
runs it with tiny sizes).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
HEADER = "source_ref,name,birthdate,postcode,huisnummer,bsn,amount_eur,months,since,customer_ref"


def write_csv(path: Path, lines: int) -> None:
    """An Evides arrears file of ``lines`` valid lines (Dordrecht addresses), written as it goes."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(HEADER + "\n")
        for n in range(lines):
            fh.write(f"B-{n},Klant {n},,33{17 + n % 3}AB,{n % 900 + 1},,{n % 900 + 10}.50,"
                     f"{n % 12 + 1},2026-08-01,EV-{n}\n")


def _rss_now_kib() -> int:
    # The resident set right now (Linux /proc), to subtract what setting up the hub took.
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() // 1024


def child(lines: int, use_tracemalloc: bool, store: str = "sqlite") -> dict:
    """Import one file of ``lines`` lines in this process and measure it."""
    if store == "postgres":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from bench.common import postgres_schema

        with postgres_schema("bench_mem") as url:
            return _child(lines, use_tracemalloc, url)
    return _child(lines, use_tracemalloc, None)


def _child(lines: int, use_tracemalloc: bool, database_url: str | None) -> dict:
    from hub.core.batch import ingest_batch
    from hub.core.context import build_context
    from hub.core.identity import add_partner
    from hub.core.migrate import upgrade
    from hub.core.partner_keys import key_hasher
    from hub.core.plugins import load_plugins
    from hub.settings import Settings

    with tempfile.TemporaryDirectory(prefix="wijkhub-bench-") as tmp:
        store = {"database_url": database_url} if database_url else {}
        settings = Settings(env="test", data_dir=Path(tmp) / "data", worker_enabled=False,
                            partner_key_time_cost=1, partner_key_memory_kib=8,
                            partner_key_parallelism=1, **store)
        ctx = build_context(settings, plugins=load_plugins())
        upgrade(ctx.engine)
        with ctx.sessions() as session, session.begin():
            partner, _ = add_partner(session=session, name="Evides", kind="evides",
                                     now=ctx.clock(), hasher=key_hasher(settings))
        path = Path(tmp) / "evides.csv"
        write_csv(path, lines)
        size = path.stat().st_size
        rss_before = _rss_now_kib()
        if use_tracemalloc:
            tracemalloc.start()
        started = time.perf_counter()
        with open(path, encoding="utf-8-sig", newline="") as fh:
            batch = ingest_batch(ctx=ctx, partner=partner, lines=fh, now=ctx.clock(),
                                 lines_total=lines + 1)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if use_tracemalloc else None
        tracemalloc.stop()
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        ctx.dispose()
    return {"lines": lines, "file_bytes": size, "accepted": batch.accepted,
            "rejected": batch.rejected, "seconds": round(seconds, 2),
            "lines_per_second": round(lines / seconds, 1),
            "tracemalloc_peak_bytes": peak, "rss_before_kib": rss_before,
            "rss_peak_kib": rss_peak, "rss_growth_kib": max(rss_peak - rss_before, 0)}


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value / (1024 * 1024):.1f} MiB"


def run(args: argparse.Namespace) -> list[dict]:
    """Measure every size in a fresh process, print the figures and the ratios, save JSON."""
    results = []
    for lines in args.sizes:
        command = [sys.executable, __file__, "--child", str(lines), "--store", args.store]
        if not args.tracemalloc:
            command.append("--no-tracemalloc")
        # Our own script, with integer arguments only.
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            raise SystemExit(f"the import of {lines} lines failed")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if result["accepted"] != lines:
            raise SystemExit(f"{lines} lines: only {result['accepted']} accepted")
        results.append(result)
        print(f"{lines:>9,} lines ({result['file_bytes'] / 1e6:.1f} MB): "
              f"tracemalloc peak {_mib(result['tracemalloc_peak_bytes'])}, "
              f"peak RSS {_mib(result['rss_peak_kib'] * 1024)} "
              f"(+{_mib(result['rss_growth_kib'] * 1024)} during the import), "
              f"{result['lines_per_second']:,.0f} lines/s", flush=True)
    small, large = results[0], results[-1]
    ratios = {"lines": large["lines"] / small["lines"],
              "rss_peak": large["rss_peak_kib"] / small["rss_peak_kib"]}
    if args.tracemalloc:
        ratios["tracemalloc_peak"] = (large["tracemalloc_peak_bytes"]
                                      / small["tracemalloc_peak_bytes"])
    print(f"\nratio {large['lines']:,} / {small['lines']:,} lines "
          f"(the file is {ratios['lines']:.0f}x larger; 1.0 = flat):")
    if args.tracemalloc:
        print(f"  tracemalloc peak  {ratios['tracemalloc_peak']:.2f}")
    print(f"  peak RSS          {ratios['rss_peak']:.2f}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"batch_memory-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps({"sizes": results, "ratios": ratios, "store": args.store,
                               "tracemalloc": args.tracemalloc}, indent=2))
    print(f"\nwritten to {out}")
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: sizes, and whether tracemalloc traces the import."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000],
                        help="lines per file; the ratio compares the last to the first")
    parser.add_argument("--no-tracemalloc", dest="tracemalloc", action="store_false",
                        help="measure RSS and speed only (tracemalloc slows Python down)")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite",
                        help="the hub's store (PostgreSQL: a fresh schema per size)")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is None and (len(args.sizes) < 2 or min(args.sizes) < 1):
        parser.error("give two or more positive sizes")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with --child, one measurement); returns the exit status."""
    args = parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.tracemalloc, args.store)))
        return 0
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
