"""What one message costs the database and the CPU, one at a time against batched (issue 14).

    python -m bench costs [--messages 200] [--postgres]
    python -m bench.costs [--messages 200] [--postgres] [--batch-lines N]

In one process, on a fresh store seeded like the other benchmarks (500 Krispijn
residents, a housing corporation), the same arrears signals go in and are
routed twice, side by side:

- **one by one** (the former hot path, still in the code): ingest with the
  partner-key lookup in a transaction of its own (``KeyVerifier.partner_for``, its
  argon2 result cached) then ``accept_message`` and a commit per message, as
  ``POST /api/v1/messages`` did; routing with ``run_task``, one transaction per
  outbox row;
- **batched**: ingest as ``POST /api/v1/messages`` does now: the key answered from
  the verifier's cache (``KeyVerifier.cached``) and re-checked by the
  :class:`~hub.core.group_commit.GroupCommitter` in the group's transaction (one
  group); routing with ``run_tasks`` (batches of ``HUB_ROUTE_BATCH``).

``key_lookup`` counts the key lookup in a transaction of its own alone: what every
``POST /api/v1/messages`` paid before issue 14's key re-check in the group, and
what a cache miss and every other partner route still pay.

Counted, not guessed, per message: SQL statements (round trips, from the
engine's ``before_cursor_execute``), transactions (``commit``), ORM flushes
(``after_flush``), AES-GCM opens (``Cipher.open``) and seals, Ed25519
signatures of the audit head (``sign_head``); plus the wall time of each part.
Writes bench/results/costs.json.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from bench.common import postgres_schema, scratch_dir, write_result
from bench.hubs import arrears_body, seed


@dataclass
class Tally:
    """Everything counted while a block ran."""

    statements: int = 0
    transactions: int = 0
    flushes: int = 0
    opens: int = 0
    seals: int = 0
    signatures: int = 0
    seconds: float = 0.0
    by_statement: dict = field(default_factory=dict)

    def per(self, n: int) -> dict[str, float]:
        return {"statements": round(self.statements / n, 2),
                "transactions": round(self.transactions / n, 3),
                "flushes": round(self.flushes / n, 3), "aes_gcm_opens": round(self.opens / n, 2),
                "aes_gcm_seals": round(self.seals / n, 2),
                "signatures": round(self.signatures / n, 3),
                "messages_per_second": round(n / self.seconds, 1) if self.seconds else None}


@contextmanager
def tallying(ctx) -> Iterator[Tally]:
    """Count on ``ctx``'s engine, its sessions, its cipher and the audit signer."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from hub.core import audit

    tally = Tally()

    def on_execute(*_args) -> None:
        tally.statements += 1
        words = _args[2].split()[:3]
        key = " ".join(words)
        tally.by_statement[key] = tally.by_statement.get(key, 0) + 1

    def on_commit(_conn) -> None:
        tally.transactions += 1

    def on_flush(_session, _context) -> None:
        tally.flushes += 1

    cipher, sign = ctx.cipher, audit.sign_head
    # Cipher.seal goes through seal_many (one key set-up for a chunk): counting there
    # counts every document sealed, by either door.
    original_open, original_seal_many = cipher.open, cipher.seal_many

    def counted_open(*args, **kwargs):
        tally.opens += 1
        return original_open(*args, **kwargs)

    def counted_seal_many(documents, *args, **kwargs):
        tally.seals += len(documents)
        return original_seal_many(documents, *args, **kwargs)

    def counted_sign(*args, **kwargs):
        tally.signatures += 1
        return sign(*args, **kwargs)

    event.listen(ctx.engine, "before_cursor_execute", on_execute)
    event.listen(ctx.engine, "commit", on_commit)
    event.listen(Session, "after_flush", on_flush)
    object.__setattr__(cipher, "open", counted_open)
    object.__setattr__(cipher, "seal_many", counted_seal_many)
    audit.sign_head = counted_sign
    started = time.perf_counter()
    try:
        yield tally
    finally:
        tally.seconds = time.perf_counter() - started
        event.remove(ctx.engine, "before_cursor_execute", on_execute)
        event.remove(ctx.engine, "commit", on_commit)
        event.remove(Session, "after_flush", on_flush)
        del cipher.open, cipher.seal_many
        audit.sign_head = sign


def _key_lookup(ctx, verifier, api_key: str):
    """The key check as ``get_partner`` does it: a read-only transaction of its own."""
    with ctx.sessions() as session:
        session.connection(execution_options={"read_only": True})
        partner = verifier.partner_for(session=session, api_key=api_key, now=ctx.clock())
        session.commit()
        return partner


def _one_by_one(ctx, verifier, api_key, bodies) -> tuple[Tally, Tally]:
    from sqlalchemy import select

    from hub.core.ingest import accept_message
    from hub.core.models import OutboxEntry
    from hub.core.transport.tasks import run_task

    with tallying(ctx) as ingest:
        for body in bodies:
            partner = _key_lookup(ctx, verifier, api_key)
            with ctx.sessions() as session:
                accept_message(session=session, ctx=ctx, partner=partner, body=body,
                               now=ctx.clock())
                session.commit()
    with ctx.sessions() as session:
        ids = list(session.scalars(select(OutboxEntry.id).where(OutboxEntry.status == "pending")
                                   .order_by(OutboxEntry.id)))
    with tallying(ctx) as route:
        for entry_id in ids:
            assert run_task(ctx, entry_id).status == "done"
    return ingest, route


def _batched(ctx, verifier, api_key, bodies) -> tuple[Tally, Tally]:
    import threading

    from sqlalchemy import select

    from hub.core.ingest import validate_message
    from hub.core.models import OutboxEntry
    from hub.core.transport.tasks import run_tasks

    sender = verifier.cached(api_key)
    valids = [validate_message(ctx=ctx, partner=sender.partner, body=b) for b in bodies]
    size = ctx.settings.ingest_group_size

    def post(valid, body) -> None:
        key = verifier.cached(api_key)  # what sender_of does for a remembered key
        ctx.ingest.accept(partner=key.partner, valid=valid, body=body, now=ctx.clock(),
                          key=key)

    with tallying(ctx) as ingest:
        # Concurrent requests, as the API's threadpool hands them over: groups form.
        for start in range(0, len(bodies), size):
            threads = [threading.Thread(target=post, args=(valid, body))
                       for valid, body in zip(valids[start:start + size],
                                              bodies[start:start + size], strict=True)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    with ctx.sessions() as session:
        ids = list(session.scalars(select(OutboxEntry.id).where(OutboxEntry.status == "pending")
                                   .order_by(OutboxEntry.id)))
    batch = ctx.settings.route_batch
    with tallying(ctx) as route:
        for start in range(0, len(ids), batch):
            outcomes = run_tasks(ctx, ids[start:start + batch])
            assert {o.status for o in outcomes.values()} == {"done"}, outcomes
    return ingest, route


def run(messages: int, postgres: bool) -> dict:
    """Measure both paths on one fresh store each; returns the figures."""

    from hub.core.context import build_context
    from hub.core.partner_keys import KeyVerifier
    from hub.settings import Settings

    figures: dict = {"messages": messages, "store": "postgresql" if postgres else "sqlite"}
    for name, path in (("one_by_one", _one_by_one), ("batched", _batched)):
        with ExitStack() as stack:
            tmp = stack.enter_context(scratch_dir())
            url = (stack.enter_context(postgres_schema("bench_costs")) if postgres
                   else f"sqlite:///{tmp / 'hub.sqlite3'}")
            api_key = seed(tmp / "data", url)
            ctx = build_context(Settings(env="test", data_dir=tmp / "data", database_url=url,
                                         worker_enabled=False, ingest_group_ms=20))
            stack.callback(ctx.dispose)
            verifier = KeyVerifier.from_settings(ctx.settings)
            _key_lookup(ctx, verifier, api_key)  # argon2 once, as the API's first request
            bodies = [arrears_body(name, n) for n in range(messages)]
            ingest, route = path(ctx, verifier, api_key, bodies)
            figures[name] = {"ingest": ingest.per(messages), "route": route.per(messages),
                             "ingest_statements": dict(sorted(ingest.by_statement.items(),
                                                              key=lambda kv: -kv[1])[:12]),
                             "route_statements": dict(sorted(route.by_statement.items(),
                                                             key=lambda kv: -kv[1])[:12])}
            print(f"{name:>10} ingest {figures[name]['ingest']}\n{'':>10} route  "
                  f"{figures[name]['route']}", flush=True)
            if name == "one_by_one":
                with tallying(ctx) as lookup:
                    for _ in range(messages):
                        _key_lookup(ctx, verifier, api_key)
                figures["key_lookup"] = lookup.per(messages)
                print(f"{'key_lookup':>10}        {figures['key_lookup']}", flush=True)
    return figures


def batch_to_inbox(lines: int, postgres: bool) -> dict:
    """A CSV of ``lines`` arrears lines imported, then routed by the embedded worker's
    batches until nothing is due: seconds of each phase and lines/s (to the inbox)."""
    from sqlalchemy import func, select

    from bench.batch_adapter import import_csv
    from bench.hubs import resident_seed
    from hub.core.context import build_context
    from hub.core.models import Message, Partner
    from hub.core.worker import OutboxWorker
    from hub.settings import Settings

    with ExitStack() as stack:
        tmp = stack.enter_context(scratch_dir())
        url = (stack.enter_context(postgres_schema("bench_costs")) if postgres
               else f"sqlite:///{tmp / 'hub.sqlite3'}")
        seed(tmp / "data", url)
        ctx = build_context(Settings(env="test", data_dir=tmp / "data", database_url=url,
                                     worker_enabled=False))
        stack.callback(ctx.dispose)
        csv_path = tmp / "arrears.csv"
        with csv_path.open("w", encoding="utf-8") as out:
            out.write("source_ref,name,birthdate,postcode,huisnummer,bsn,amount_eur,months,"
                      "since,tenancy_ref\n")
            for n in range(lines):
                s_ = resident_seed(n)
                out.write(f"B-{n},Bewoner {s_},,3317AB,{s_ % 900 + 1},,{100 + n % 900}.00,3,"
                          f"2026-08-01,T-{n}\n")
        with ctx.sessions() as session:
            name = session.scalar(select(Partner.name))
        started = time.perf_counter()
        counts = import_csv(ctx, partner_name=name, path=csv_path)
        imported = time.perf_counter()
        OutboxWorker(ctx).drain(max_rounds=10**9)
        routed = time.perf_counter()
        with ctx.sessions() as session:
            done = session.scalar(select(func.count()).select_from(Message)
                                  .where(Message.status.in_(("delivered", "linked", "held"))))
    total = routed - started
    figures = {"lines": lines, "accepted": counts["accepted"], "routed": done,
               "import_seconds": round(imported - started, 1),
               "route_seconds": round(routed - imported, 1), "seconds": round(total, 1),
               "lines_per_second": round(lines / total, 1),
               "extrapolated_1m_minutes": round(1_000_000 / (lines / total) / 60, 1)}
    print(f"batch to inbox: {figures}", flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    """Measure and write bench/results/costs.json."""
    parser = argparse.ArgumentParser(prog="python -m bench costs",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="accepted; counts do not vary")
    parser.add_argument("--batch-lines", type=int, default=0,
                        help="also a CSV of this many lines to the inbox (import + route)")
    args = parser.parse_args(argv)
    print("\n[costs]", flush=True)
    figures = run(args.messages, args.postgres)
    if args.batch_lines:
        figures["batch_to_inbox"] = batch_to_inbox(args.batch_lines, args.postgres)
    write_result("costs", figures=figures,
                 notes=["per message; one_by_one is the former path (accept_message + commit, "
                        "run_task), batched the new (GroupCommitter, run_tasks)"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
