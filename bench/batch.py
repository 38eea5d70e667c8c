"""Batch: a 100,000-line arrears CSV through the hub, next to parsing it and bulk-inserting it.

    python -m bench batch [--repeat 3] [--lines 100000]

Each turn runs in a child process of its own on a fresh SQLite store (the
embedded default), so its peak memory is its own:

* ``hub`` — bench/batch_adapter.py (today ``hub.core.batch.ingest_batch``, the
  path of ``POST /api/v1/messages/batch``): validate every line as a message,
  seal, pseudonymise, store with its outbox row, in chunks of 500 lines;
* ``baseline`` — ``csv.reader`` over the same file and ``executemany`` of the
  raw cells into a table of ten text columns, also committed per 500 lines.

Reported: lines per second, the peak resident memory of the process (VmHWM), and its
growth during the import (peak minus the resident size just before it). The
worker is not running: routing is the end-to-end benchmark's.
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, scratch_dir, summary, write_result
from bench.hubs import RESIDENTS, resident_seed, seed

HEADER = ("source_ref,name,birthdate,postcode,huisnummer,bsn,amount_eur,months,since,"
          "tenancy_ref")
PARTNER = "Woonbron"
CHUNK = 500


def write_csv(path: Path, lines: int) -> None:
    """The monthly arrears export: one line per tenancy in arrears, no BSNs (as creditors)."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\n")
        for n in range(lines):
            s = resident_seed(n)
            out.write(f"M-{n},Bewoner {s},,3317AB,{s % 900 + 1},,{100 + n % 5000}.00,"
                      f"{1 + n % 6},2026-08-01,T-{n}\n")


def _status_kib(field: str) -> int:
    # /proc/self/status: VmRSS is the resident set now, VmHWM its peak. Not ru_maxrss:
    # Linux carries that over from the parent across fork and exec.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def child_hub(data_dir: Path, csv_path: Path) -> dict:
    """In the child: import through the adapter; seconds and memory."""
    from bench.batch_adapter import import_csv
    from hub.core.context import build_context
    from hub.settings import Settings

    ctx = build_context(Settings(data_dir=data_dir, worker_enabled=False))
    before = _status_kib("VmRSS")
    started = time.perf_counter()
    counts = import_csv(ctx, partner_name=PARTNER, path=csv_path)
    seconds = time.perf_counter() - started
    ctx.dispose()
    return {"seconds": seconds, "counts": counts, "rss_before_kib": before,
            "peak_kib": _status_kib("VmHWM")}


def child_baseline(data_dir: Path, csv_path: Path) -> dict:
    """In the child: parse with csv and executemany the raw cells, per 500 lines."""
    db = sqlite3.connect(data_dir / "baseline.sqlite3")
    db.execute("PRAGMA journal_mode=WAL")
    columns = HEADER.split(",")
    db.execute(f"CREATE TABLE rows ({', '.join(c + ' TEXT' for c in columns)})")
    insert = f"INSERT INTO rows VALUES ({', '.join('?' for _ in columns)})"  # noqa: S608
    before = _status_kib("VmRSS")
    started = time.perf_counter()
    total = 0
    with csv_path.open(encoding="utf-8", newline="") as lines:
        reader = csv.reader(lines)
        next(reader)
        chunk: list[list[str]] = []
        for row in reader:
            chunk.append(row)
            if len(chunk) >= CHUNK:
                with db:
                    db.executemany(insert, chunk)
                total += len(chunk)
                chunk = []
        if chunk:
            with db:
                db.executemany(insert, chunk)
            total += len(chunk)
    seconds = time.perf_counter() - started
    db.close()
    return {"seconds": seconds, "counts": {"total": total}, "rss_before_kib": before,
            "peak_kib": _status_kib("VmHWM")}


def _turn(kind: str, data_dir: Path, csv_path: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.batch", "--child", kind,
                          str(data_dir), str(csv_path)], cwd=ROOT, capture_output=True,
                         text=True, check=False, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"batch child {kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Run the batch benchmark and write bench/results/batch.json."""
    parser = argparse.ArgumentParser(prog="python -m bench batch",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "DATA_DIR", "CSV"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, data_dir, csv_path = args.child
        run = child_hub if kind == "hub" else child_baseline
        print(json.dumps(run(Path(data_dir), Path(csv_path))))
        return 0
    runs: dict[str, dict[str, list[float]]] = {
        k: {"lines_per_second": [], "peak_mib": [], "growth_mib": []}
        for k in ("hub", "baseline")}
    print(f"\n[batch] {args.lines:,} lines, {args.repeat} runs, SQLite", flush=True)
    with scratch_dir() as tmp:
        csv_path = tmp / "arrears.csv"
        write_csv(csv_path, args.lines)
        for rep in range(args.repeat):
            for kind in ("baseline", "hub"):
                data_dir = tmp / f"{kind}{rep}"
                data_dir.mkdir()
                if kind == "hub":
                    seed(data_dir, f"sqlite:///{(data_dir / 'hub.sqlite3').resolve()}",
                         RESIDENTS)
                got = _turn(kind, data_dir, csv_path)
                if got["counts"].get("accepted", got["counts"]["total"]) != args.lines:
                    raise RuntimeError(f"{kind}: not every line was stored: {got['counts']}")
                figures = runs[kind]
                figures["lines_per_second"].append(args.lines / got["seconds"])
                figures["peak_mib"].append(got["peak_kib"] / 1024)
                figures["growth_mib"].append((got["peak_kib"] - got["rss_before_kib"]) / 1024)
                print(f"  rep {rep + 1} {kind:<8} {args.lines / got['seconds']:9.0f} lines/s  "
                      f"peak {got['peak_kib'] / 1024:6.0f} MiB  growth "
                      f"{(got['peak_kib'] - got['rss_before_kib']) / 1024:6.0f} MiB", flush=True)
    figures = {k: {f: summary(v) for f, v in values.items()} for k, values in runs.items()}
    figures["ratio_hub_baseline"] = summary(
        [a / b for a, b in zip(runs["hub"]["lines_per_second"],
                               runs["baseline"]["lines_per_second"], strict=True)])
    write_result("batch", figures=figures,
                 extra={"runs": runs, "lines": args.lines, "store": "sqlite",
                        "adapter": "bench/batch_adapter.py:import_csv"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
