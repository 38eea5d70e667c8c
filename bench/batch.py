"""Batch: a 100,000-line arrears CSV through the hub, next to parsing it and bulk-inserting it.

    python -m bench batch [--repeat 3] [--lines 100000] [--store sqlite|postgres]
                          [--route [--alongside]]

Each turn runs in a child process of its own on a fresh store (SQLite, the
embedded default; or a fresh PostgreSQL schema with ``--store postgres``), so
its peak memory is its own:

* ``hub`` — bench/batch_adapter.py (today ``hub.core.batch.ingest_batch``, the
  path of ``POST /api/v1/messages/batch``): validate every line as a message,
  seal, pseudonymise, store with its outbox row, in chunks of 500 lines;
* ``baseline`` — ``csv.reader`` over the same file and ``executemany`` of the
  raw cells into a table of ten text columns, also committed per 500 lines.

Reported: lines per second, the peak resident memory of the process (VmHWM), and its
growth during the import (peak minus the resident size just before it).

With ``--route`` the hub's turn goes on to the inbox (issue 14: "a batch of
1,000,000 lines reaches the inbox in <= 3 minutes"): after the import the same
process runs the hub's own worker path, :class:`hub.core.worker.OutboxWorker`
(batched ``run_tasks``: routed, decided, audited, ``HUB_ROUTE_BATCH`` messages
a transaction) until the outbox holds nothing pending, on either store. It
reports stored lines/s, routed lines/s, their end-to-end figure, and the
seconds a 1,000,000-line batch would take at these rates (an extrapolation
unless ``--lines 1000000``). On PostgreSQL this is the embedded worker's path
against PostgreSQL, not the relay + RabbitMQ consumer. With ``--alongside`` a
worker process routes while the import runs (the embedded worker's own loop,
``run_forever``, as ``hub serve`` runs it beside ``hub batch import``), and the
routed rate is the lines over the time from the import's start to an empty
outbox: what a partner's batch takes to reach the inbox in production, where
both processes share the machine's cores. ``--profile`` adds the
top functions of each phase (cProfile, in the child's stderr; slows it down).
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.common import ROOT, postgres_schema, scratch_dir, summary, write_result
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


def _profiled(profile: bool, work):
    """Run ``work()``; with ``profile``, print its top functions to stderr."""
    if not profile:
        return work()
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    result = profiler.runcall(work)
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    return result


def child_hub(data_dir: Path, csv_path: Path, database_url: str | None = None,
              route: bool | str = False, profile: bool = False) -> dict:
    """In the child: import through the adapter (then route, with ``route``); seconds, memory.

    ``route="alongside"``: a worker process routes while this one imports
    (:func:`_import_alongside`), instead of routing after it.
    """
    from bench.batch_adapter import import_csv, route_all
    from hub.core.context import build_context
    from hub.settings import Settings

    options = {"database_url": database_url} if database_url else {}
    ctx = build_context(Settings(data_dir=data_dir, worker_enabled=False, **options))
    before = _status_kib("VmRSS")
    result: dict = {"rss_before_kib": before}
    if route == "alongside":
        return _import_alongside(ctx, data_dir, csv_path, database_url, result)
    started = time.perf_counter()
    counts = _profiled(profile, lambda: import_csv(ctx, partner_name=PARTNER, path=csv_path))
    seconds = time.perf_counter() - started
    result.update(seconds=seconds, counts=counts, peak_kib=_status_kib("VmHWM"))
    if route:
        started, cpu = time.perf_counter(), time.process_time()
        result["routed"] = _profiled(profile, lambda: route_all(ctx))
        result["route_seconds"] = time.perf_counter() - started
        # This process's CPU alone (not PostgreSQL's): steadier than wall time on a
        # shared machine, and what a worker's Python costs per message (issue 14).
        result["route_cpu_seconds"] = time.process_time() - cpu
        result["route_peak_kib"] = _status_kib("VmHWM")
    ctx.dispose()
    return result


def _import_alongside(ctx, data_dir: Path, csv_path: Path, database_url: str | None,
                      result: dict) -> dict:
    """Import while a worker process routes, as ``hub batch import`` beside ``hub serve``.

    The worker (:func:`child_router`) is started and ready before the clock starts;
    when the import has committed its last chunk, a marker file tells the worker that
    an empty outbox now means the end. ``route_seconds`` is the wall time from the
    start of the import to that empty outbox: the time the whole batch took to reach
    the inbox.
    """
    from bench.batch_adapter import import_csv

    ready, finished = data_dir / "router.ready", data_dir / "import.finished"
    command = [sys.executable, "-m", "bench.batch", "--child", "router", str(data_dir),
               str(csv_path)] + (["--database-url", database_url] if database_url else [])
    router = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            if router.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the router process did not start")
            time.sleep(0.05)
        started_at, started = time.time(), time.perf_counter()
        counts = import_csv(ctx, partner_name=PARTNER, path=csv_path)
        result.update(seconds=time.perf_counter() - started, counts=counts,
                      peak_kib=_status_kib("VmHWM"))
        finished.touch()
        out, _ = router.communicate(timeout=4 * 3600)
    finally:
        if router.poll() is None:
            router.kill()
            router.wait()
    if router.returncode != 0:
        raise RuntimeError("the router process failed")
    routed = json.loads(out.strip().splitlines()[-1])
    result.update(routed={k: routed[k] for k in ("routed", "pending", "statuses",
                                                 "inbox_items")},
                  route_seconds=routed["finished"] - started_at,
                  route_cpu_seconds=routed["cpu_seconds"], route_peak_kib=routed["peak_kib"],
                  alongside=True)
    ctx.dispose()
    return result


def child_router(data_dir: Path, database_url: str | None) -> dict:
    """In the router child: the worker's loop until the import is finished and routed."""
    from bench.batch_adapter import route_alongside
    from hub.core.context import build_context
    from hub.settings import Settings

    options = {"database_url": database_url} if database_url else {}
    ctx = build_context(Settings(data_dir=data_dir, worker_enabled=False, **options))
    cpu = time.process_time()
    # The import's clock starts at this file: only once the worker thread runs.
    routed = route_alongside(ctx, (data_dir / "import.finished").exists,
                             ready=(data_dir / "router.ready").touch)
    ctx.dispose()
    return {**routed, "cpu_seconds": time.process_time() - cpu,
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


def _turn(kind: str, data_dir: Path, csv_path: Path, extra: list[str] | None = None,
          profile: bool = False) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.batch", "--child", kind,
                          str(data_dir), str(csv_path), *(extra or [])], cwd=ROOT,
                         capture_output=True, text=True, check=False, timeout=4 * 3600)
    if out.returncode != 0:
        raise RuntimeError(f"batch child {kind} failed:\n{out.stderr[-3000:]}")
    if profile:
        sys.stderr.write(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


@contextmanager
def _store(store: str, data_dir: Path) -> Iterator[str]:
    """The hub's database URL for a turn: a SQLite file, or a fresh PostgreSQL schema."""
    if store == "postgres":
        with postgres_schema("bench_batch") as url:
            yield url
    else:
        yield f"sqlite:///{(data_dir / 'hub.sqlite3').resolve()}"


def main(argv: list[str] | None = None) -> int:
    """Run the batch benchmark and write bench/results/batch.json."""
    parser = argparse.ArgumentParser(prog="python -m bench batch",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite",
                        help="the hub's store (the baseline is always csv + SQLite)")
    parser.add_argument("--route", action="store_true",
                        help="go on to the inbox: route every line with the hub's worker path")
    parser.add_argument("--alongside", action="store_true",
                        help="with --route: a worker process routes while the import runs "
                             "(the embedded worker, as hub serve runs it beside hub batch import), "
                             "instead of after it")
    parser.add_argument("--profile", action="store_true",
                        help="print each phase's top functions (cProfile; slower)")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "DATA_DIR", "CSV"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.alongside and (not args.route or args.profile):
        parser.error("--alongside needs --route, and profiles one process only: not --profile")
    if args.child:
        kind, data_dir, csv_path = args.child
        if kind == "hub":
            route = "alongside" if args.route and args.alongside else args.route
            got = child_hub(Path(data_dir), Path(csv_path), args.database_url, route,
                            args.profile)
        elif kind == "router":
            got = child_router(Path(data_dir), args.database_url)
        else:
            got = child_baseline(Path(data_dir), Path(csv_path))
        print(json.dumps(got))
        return 0
    runs: dict[str, dict[str, list[float]]] = {
        k: {"lines_per_second": [], "peak_mib": [], "growth_mib": []}
        for k in ("hub", "baseline")}
    if args.route:
        runs["hub"].update({"routed_per_second": [], "end_to_end_per_second": [],
                            "million_seconds": [], "route_cpu_ms_per_message": []})
    routed = (", routed to the inbox by a worker process alongside the import"
              if args.alongside else ", routed to the inbox" if args.route else "")
    print(f"\n[batch] {args.lines:,} lines, {args.repeat} runs, hub on {args.store}{routed}",
          flush=True)
    with scratch_dir() as tmp:
        csv_path = tmp / "arrears.csv"
        write_csv(csv_path, args.lines)
        for rep in range(args.repeat):
            for kind in ("baseline", "hub"):
                data_dir = tmp / f"{kind}{rep}"
                data_dir.mkdir()
                with ExitStack() as stack:
                    extra: list[str] = []
                    if kind == "hub":
                        url = stack.enter_context(_store(args.store, data_dir))
                        seed(data_dir, url, RESIDENTS)
                        extra = ["--database-url", url]
                        extra += ["--route"] if args.route else []
                        extra += ["--alongside"] if args.alongside else []
                        extra += ["--profile"] if args.profile else []
                    got = _turn(kind, data_dir, csv_path, extra, args.profile)
                _record(runs[kind], kind, rep, got, args.lines)
    figures = {k: {f: summary(v) for f, v in values.items()} for k, values in runs.items()}
    figures["ratio_hub_baseline"] = summary(
        [a / b for a, b in zip(runs["hub"]["lines_per_second"],
                               runs["baseline"]["lines_per_second"], strict=True)])
    notes = []
    extrapolated = "" if args.lines >= 1_000_000 else " (extrapolated)"
    if args.alongside:
        notes.append(f"routed with hub.core.worker.OutboxWorker.run_forever in a process of "
                     f"its own while the import ran, on {args.store}; routed_per_second = "
                     f"lines / seconds from the import's start to an empty outbox; "
                     f"million_seconds = 1,000,000 lines at that rate{extrapolated}")
    elif args.route:
        notes.append(f"routed with hub.core.worker.OutboxWorker (batched run_tasks) on "
                     f"{args.store}; million_seconds = 1,000,000 lines at the stored and "
                     f"routed rates of this run{extrapolated}")
    # Its own result: the report shows both ways side by side (section 9).
    write_result("batch_alongside" if args.alongside else "batch", figures=figures, notes=notes,
                 extra={"runs": runs, "lines": args.lines, "store": args.store,
                        "routed": args.route, "alongside": args.alongside,
                        "adapter": "bench/batch_adapter.py:import_csv"})
    return 0


def _record(figures: dict[str, list[float]], kind: str, rep: int, got: dict,
            lines: int) -> None:
    """Check a turn stored (and routed) every line; add its figures and print them."""
    if got["counts"].get("accepted", got["counts"]["total"]) != lines:
        raise RuntimeError(f"{kind}: not every line was stored: {got['counts']}")
    stored = lines / got["seconds"]
    figures["lines_per_second"].append(stored)
    figures["peak_mib"].append(got["peak_kib"] / 1024)
    figures["growth_mib"].append((got["peak_kib"] - got["rss_before_kib"]) / 1024)
    line = (f"  rep {rep + 1} {kind:<8} {stored:9.0f} lines/s stored  "
            f"peak {got['peak_kib'] / 1024:6.0f} MiB  growth "
            f"{(got['peak_kib'] - got['rss_before_kib']) / 1024:6.0f} MiB")
    if "routed" in got:
        if got["routed"]["pending"] or got["routed"]["routed"] < lines:
            raise RuntimeError(f"not every line was routed: {got['routed']}")
        routed = lines / got["route_seconds"]
        if got.get("alongside"):
            # Both at once: route_seconds runs from the import's start to an empty outbox.
            million, whole = 1_000_000 / routed, got["route_seconds"]
        else:
            million = 1_000_000 / stored + 1_000_000 / routed
            whole = got["seconds"] + got["route_seconds"]
        figures["routed_per_second"].append(routed)
        figures["end_to_end_per_second"].append(lines / whole)
        figures["million_seconds"].append(million)
        cpu_ms = 1000 * got["route_cpu_seconds"] / lines
        figures["route_cpu_ms_per_message"].append(cpu_ms)
        line += (f"  {routed:7.0f} routed/s  {cpu_ms:5.2f} ms CPU/routed"
                 f"  {lines / whole:7.0f}"
                 f" end to end/s  1M lines: {million / 60:5.1f} min  ({got['routed']})")
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
