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
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bench.common import scratch_dir, summary, write_result

SLICE = 200


def insert_if_absent_before(session: Session, table: Table, values: dict[str, Any]) -> bool:
    """hub.core.store.insert_if_absent as it was before the win (commit 9701619)."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    key = next(iter(table.primary_key.columns))
    stmt = module.insert(table).values(**values).on_conflict_do_nothing().returning(key)
    return session.execute(stmt).first() is not None


def _row(ctx, n: int, partner_id: str) -> dict:
    message_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    return {"id": message_id, "type": "signal.arrears.rent", "source_partner": partner_id,
            "source_ref": f"W-{n}-{message_id[:8]}", "subject": None, "category": "financieel",
            "payload_sealed": ctx.cipher.seal({"data": {"n": n}}, context=f"message:{message_id}"),
            "occurred_at": now, "received_at": now, "schema_version": 1, "status": "accepted",
            "batch_id": None, "correlation_id": message_id}


def main(argv: list[str] | None = None) -> int:
    """Measure each win and write bench/results/wins.json."""
    from hub.core.context import build_context
    from hub.core.migrate import upgrade
    from hub.core.models import Message
    from hub.core.store import insert_if_absent
    from hub.settings import Settings
    from tests.utils.builders import partner

    parser = argparse.ArgumentParser(prog="python -m bench wins",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--messages", type=int, default=2000, help="inserts per variant and run")
    args = parser.parse_args(argv)
    variants = {"before": insert_if_absent_before, "after": insert_if_absent}
    runs: dict[str, list[float]] = {"cpu_ratio": [], "wall_ratio": [], "before_cpu_ms": [],
                                    "after_cpu_ms": []}
    print(f"\n[wins] insert_if_absent, {args.messages} inserts per variant, SQLite", flush=True)
    with scratch_dir() as tmp:
        ctx = build_context(Settings(data_dir=tmp, worker_enabled=False))
        try:
            upgrade(ctx.engine)
            partner_id, _ = partner(ctx)
            table = Message.__table__
            n = 0
            for rep in range(args.repeat):
                cpu = dict.fromkeys(variants, 0.0)
                wall = dict.fromkeys(variants, 0.0)
                for _ in range(0, args.messages, SLICE):
                    for name, insert in variants.items():
                        rows = [_row(ctx, n + i, partner_id) for i in range(SLICE)]
                        n += SLICE
                        with ctx.sessions() as session, session.begin():
                            c0, w0 = time.process_time(), time.perf_counter()
                            for row in rows:
                                insert(session, table, row)
                            cpu[name] += time.process_time() - c0
                            wall[name] += time.perf_counter() - w0
                per = args.messages // SLICE * SLICE
                runs["before_cpu_ms"].append(cpu["before"] / per * 1000)
                runs["after_cpu_ms"].append(cpu["after"] / per * 1000)
                runs["cpu_ratio"].append(cpu["before"] / cpu["after"])
                runs["wall_ratio"].append(wall["before"] / wall["after"])
                print(f"  rep {rep + 1}: before {cpu['before'] / per * 1000:.3f} ms CPU/insert, "
                      f"after {cpu['after'] / per * 1000:.3f}; before/after CPU "
                      f"{cpu['before'] / cpu['after']:.2f}, "
                      f"wall {wall['before'] / wall['after']:.2f}",
                      flush=True)
        finally:
            ctx.dispose()
    write_result("wins", figures={"insert_if_absent": {k: summary(v) for k, v in runs.items()}},
                 extra={"runs": runs})
    return 0
