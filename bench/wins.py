"""Cheap wins, before and after, measured side by side in one run.

    python -m bench wins [--repeat 3] [--messages 2000]

Each win taken in hub/core keeps its former code here as ``before``; both run
on the same fresh hub store in alternating slices, and the figure is the ratio
of the CPU time per call (``time.process_time``: on a shared machine the
process's own CPU time is far steadier than the wall clock) and of wall time.

1. ``insert_if_absent`` (hub/core/store.py), the idempotent INSERT of every
   message: built one statement per call with the values as literals, so
   SQLAlchemy compiled an INSERT per message; now one cached statement per
   table with the values bound at execution.
2. ``insert_many`` (consent/bulk.py), the bulk INSERTs of a routed batch (its
   decisions, items, disclosures, signals, audit events): ``session.execute``
   built every row's parameters twice over in Python; now one pass per row into
   the driver's executemany. Measured on a batch's decision rows, 100 a call.
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bench.common import scratch_dir, summary, write_result

SLICE = 200
BATCH = 100  # rows per bulk INSERT: HUB_ROUTE_BATCH's default


def insert_if_absent_before(session: Session, table: Table, values: dict[str, Any]) -> bool:
    """hub.core.store.insert_if_absent as it was before the win (commit 9701619)."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    key = next(iter(table.primary_key.columns))
    stmt = module.insert(table).values(**values).on_conflict_do_nothing().returning(key)
    return session.execute(stmt).first() is not None


def insert_rows_before(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """A routed batch's bulk INSERT as it was before consent.bulk (commit 554b7c0)."""
    session.execute(insert(table), rows)


def _decision(n: int) -> dict:
    # A consent_decisions row as the router writes one (consent.registry.decision_row).
    return {"id": str(uuid.uuid4()), "message_id": str(uuid.uuid4()), "subject": f"ps-{n}",
            "outcome": "deliver", "basis": "consent", "basis_ref": f"grant-{n}",
            "fields": ["amount_eur", "months", "since"], "reason": "toestemming van de bewoner",
            "retention_days": 365, "decided_at": datetime.now(UTC)}


def _row(ctx, n: int, partner_id: str) -> dict:
    message_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    return {"id": message_id, "type": "signal.arrears.rent", "source_partner": partner_id,
            "source_ref": f"W-{n}-{message_id[:8]}", "subject": None, "category": "financieel",
            "payload_sealed": ctx.cipher.seal({"data": {"n": n}}, context=f"message:{message_id}"),
            "occurred_at": now, "received_at": now, "schema_version": 1, "status": "accepted",
            "batch_id": None, "correlation_id": message_id}


def _side_by_side(ctx, variants: dict[str, Any], make_rows, *, rows_per_run: int,
                  slice_rows: int, repeat: int) -> dict[str, list[float]]:
    """Run ``variants`` (``write(session, rows)``) on fresh rows in alternating slices of
    ``slice_rows``, each slice in its own transaction; per repetition the CPU per row of
    each and the before/after ratios of CPU and wall time."""
    runs: dict[str, list[float]] = {"cpu_ratio": [], "wall_ratio": [], "before_cpu_ms": [],
                                    "after_cpu_ms": []}
    n = 0
    for rep in range(repeat):
        cpu = dict.fromkeys(variants, 0.0)
        wall = dict.fromkeys(variants, 0.0)
        for _ in range(0, rows_per_run, slice_rows):
            for name, write in variants.items():
                rows = [make_rows(n + i) for i in range(slice_rows)]
                n += slice_rows
                with ctx.sessions() as session, session.begin():
                    c0, w0 = time.process_time(), time.perf_counter()
                    write(session, rows)
                    cpu[name] += time.process_time() - c0
                    wall[name] += time.perf_counter() - w0
        per = rows_per_run // slice_rows * slice_rows
        runs["before_cpu_ms"].append(cpu["before"] / per * 1000)
        runs["after_cpu_ms"].append(cpu["after"] / per * 1000)
        runs["cpu_ratio"].append(cpu["before"] / cpu["after"])
        runs["wall_ratio"].append(wall["before"] / wall["after"])
        print(f"  rep {rep + 1}: before {cpu['before'] / per * 1000:.4f} ms CPU/row, "
              f"after {cpu['after'] / per * 1000:.4f}; before/after CPU "
              f"{cpu['before'] / cpu['after']:.2f}, wall {wall['before'] / wall['after']:.2f}",
              flush=True)
    return runs


def main(argv: list[str] | None = None) -> int:
    """Measure each win and write bench/results/wins.json."""
    from consent.bulk import insert_many
    from consent.tables import consent_decisions
    from hub.core.context import build_context
    from hub.core.migrate import upgrade
    from hub.core.models import Message
    from hub.core.store import insert_if_absent
    from hub.settings import Settings
    from tests.utils.builders import partner

    parser = argparse.ArgumentParser(prog="python -m bench wins",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--messages", type=int, default=2000,
                        help="rows per variant and run (x10 for the bulk INSERT)")
    args = parser.parse_args(argv)
    figures = {}
    with scratch_dir() as tmp:
        ctx = build_context(Settings(data_dir=tmp, worker_enabled=False))
        try:
            upgrade(ctx.engine)
            partner_id, _ = partner(ctx)
            messages = Message.__table__
            print(f"\n[wins] insert_if_absent, {args.messages} inserts per variant, SQLite",
                  flush=True)
            figures["insert_if_absent"] = _side_by_side(ctx, {
                "before": lambda s, rows: [insert_if_absent_before(s, messages, r) for r in rows],
                "after": lambda s, rows: [insert_if_absent(s, messages, r) for r in rows],
            }, lambda n: _row(ctx, n, partner_id), rows_per_run=args.messages,
                slice_rows=SLICE, repeat=args.repeat)
            rows = args.messages * 10
            print(f"\n[wins] insert_many, {rows} decision rows per variant, {BATCH} an INSERT, "
                  "SQLite", flush=True)
            figures["insert_many"] = _side_by_side(ctx, {
                "before": lambda s, rows: insert_rows_before(s, consent_decisions, rows),
                "after": lambda s, rows: insert_many(s, consent_decisions, rows),
            }, _decision, rows_per_run=rows, slice_rows=BATCH, repeat=args.repeat)
        finally:
            ctx.dispose()
    write_result("wins", figures={name: {k: summary(v) for k, v in runs.items()}
                                  for name, runs in figures.items()},
                 extra={"runs": figures})
    return 0
