"""The in-process half of ``bench/chain.py``, run by it under the code being measured.

``bench/chain.py`` copies this file into a ``git archive`` of the baseline and
runs it there too, so "before" and "after" use each their own hub code. It only
uses what both have: ``build_context``, ``upgrade``, ``accept_message``,
``run_task``, the test builders and ``bench.hubs.arrears_body``.

* ``prefill URL DATA_DIR N``: migrate, seed, accept N arrears signals (outbox rows
  pending), print their outbox ids as JSON;
* ``count URL DATA_DIR N``: accept N signals through the HTTP API and route each
  with ``run_task`` (what ``hub worker`` does per delivery), counting per message
  the SQL statements (``before_cursor_execute``), COMMITs, pool pre-pings and
  audit-head signatures; print them as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from sqlalchemy import event, select

RESIDENTS = int(os.environ.get("WIJKHUB_BENCH_RESIDENTS", "500"))  # as bench.hubs


def _hub(url: str, data_dir: Path):
    from hub.core.context import build_context
    from hub.core.migrate import upgrade
    from hub.settings import Settings
    from tests.utils.builders import person, register

    settings = Settings(data_dir=data_dir, database_url=url, worker_enabled=False,
                        partner_rate_per_second=1_000_000, partner_rate_burst=1_000_000,
                        partner_key_time_cost=1, partner_key_memory_kib=8,
                        partner_key_parallelism=1)
    ctx = build_context(settings)
    upgrade(ctx.engine)
    register(ctx, *(person(n) for n in range(1, RESIDENTS + 1)))
    return ctx


def _body(n: int) -> dict:
    from bench.hubs import arrears_body

    return arrears_body("chain", n)


def prefill(url: str, data_dir: Path, n: int) -> list[int]:
    """Accept ``n`` signals, one transaction each; the outbox ids to route."""
    from hub.core.ingest import accept_message
    from hub.core.models import OutboxEntry, Partner
    from tests.utils.builders import partner

    ctx = _hub(url, data_dir)
    try:
        partner_id, _ = partner(ctx)
        for i in range(n):
            with ctx.sessions() as session, session.begin():
                accept_message(session=session, ctx=ctx, partner=session.get(Partner, partner_id),
                               body=_body(i), now=ctx.clock())
        with ctx.sessions() as session:
            return list(session.scalars(select(OutboxEntry.id).order_by(OutboxEntry.id)))
    finally:
        ctx.dispose()


class Counter:
    """Statements, COMMITs and pre-pings on an engine; signatures of the audit head."""

    def __init__(self, engine) -> None:
        import hub.core.audit as audit

        self.statements = self.commits = self.pings = self.signatures = 0
        # Round trips made while this transaction holds the audit head's row lock
        # (from its SELECT ... FOR UPDATE to the end of the COMMIT): the part of a
        # routing transaction that every other worker waits for.
        self.under_head_lock = 0
        self._locked = False
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)
        real_ping, real_sign = engine.dialect.do_ping, audit.sign_head

        def ping(dbapi_conn):
            self.pings += 1
            return real_ping(dbapi_conn)

        def sign(*args):
            self.signatures += 1
            return real_sign(*args)

        engine.dialect.do_ping = ping
        audit.sign_head = sign

    def _statement(self, _conn, _cursor, statement, *_rest) -> None:
        self.statements += 1
        if self._locked:
            self.under_head_lock += 1
        elif "from audit_head" in statement.lower() and "for update" in statement.lower():
            self._locked = True

    def _commit(self, _conn) -> None:
        self.commits += 1
        if self._locked:
            self.under_head_lock += 1  # the COMMIT itself
            self._locked = False

    def _rollback(self, _conn) -> None:
        self._locked = False

    def snapshot(self) -> dict[str, int]:
        return {"statements": self.statements, "commits": self.commits, "pings": self.pings,
                "signatures": self.signatures, "under_head_lock": self.under_head_lock}


def count(url: str, data_dir: Path, n: int) -> dict:
    """Per-message statements, COMMITs, pre-pings and signatures: API, then worker."""
    from fastapi.testclient import TestClient

    from hub.app import create_app
    from hub.core.models import OutboxEntry
    from hub.core.transport.tasks import run_task
    from tests.utils.builders import partner

    ctx = _hub(url, data_dir)
    try:
        _, headers = partner(ctx)
        counter = Counter(ctx.engine)
        with TestClient(create_app(ctx, run_worker=False)) as client:
            before = counter.snapshot()
            for i in range(n):
                answer = client.post("/api/v1/messages", json=_body(i), headers=headers)
                assert answer.status_code == 202, answer.text
            api = counter.snapshot()
        with ctx.sessions() as session:
            ids = list(session.scalars(select(OutboxEntry.id).order_by(OutboxEntry.id)))
        start = counter.snapshot()
        began = time.perf_counter()
        for entry_id in ids:
            outcome = run_task(ctx, entry_id)
            assert outcome.status == "done", outcome
        seconds = time.perf_counter() - began
        end = counter.snapshot()
        return {"messages": n,
                "api": {k: (api[k] - before[k]) / n for k in api},
                "worker": {k: (end[k] - start[k]) / n for k in end},
                "worker_ms_per_message": round(seconds * 1000 / n, 2),
                "load": round(os.getloadavg()[0], 2)}
    finally:
        ctx.dispose()


def main(argv: list[str]) -> int:
    """``prefill|count URL DATA_DIR N``; prints JSON on stdout."""
    what, url, data_dir, n = argv[0], argv[1], Path(argv[2]), int(argv[3])
    if what == "prefill":
        print(json.dumps(prefill(url, data_dir, n)))
    else:
        print(json.dumps(count(url, data_dir, n)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
