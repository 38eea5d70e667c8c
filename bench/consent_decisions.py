"""Benchmark: consent decisions per second with 10 thousand and with 1 million residents.

A decision is what the worker does per message (hub/core/router.py): lock the
resident's consent row (which returns its version), take the resident's
consents through the decision cache, and run the engine. The store is filled
in bulk for each size; the same decisions are then measured on each, and the
ratio of the figures shows whether a decision grows with the registry (near
1.0: it does not).

Two modes are measured: ``uncached`` (the cache off: every decision reads the
grants on their (subject, status) index) and ``cached`` (a working set of
residents whose consents are in the cache, so a decision reads only the
version). The sizes are measured in alternating slices of 250 decisions, and
each figure is the best of ``--repeat`` rounds, because the machine is shared
and the best round is the least disturbed one. The transaction of each
decision is rolled back, not committed: recording the decision is the
worker's, not the decision's, cost.

    python bench/consent_decisions.py                       # SQLite, 10k and 1M
    python bench/consent_decisions.py --postgres            # PostgreSQL (own schema, dropped)
    python bench/consent_decisions.py --sizes 1000 2000 --decisions 500   # quick

This is not a test: it asserts nothing and is not run by pytest (a smoke test
runs it with tiny sizes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session

from consent.cache import ConsentCache
from consent.engine import decide
from consent.grants import lock_subject
from consent.model import MessageFacts
from consent.policy import load_policy
from consent.tables import consent_grants, consent_subjects, metadata

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=30)
FACTS = MessageFacts(type="signal.nuisance", category="wonen", source_partner="woonbron",
                     source_kind="woningcorporatie", source_name="Woonbron")
CHUNK = 50_000
SLICE = 250


def subject_of(n: int) -> str:
    """A pseudonym shaped like the hub's (64 hex characters), for resident ``n``."""
    return hashlib.sha256(f"resident-{n}".encode()).hexdigest()


def _grant_row(n: int, *, active: bool) -> dict:
    # Two in three residents consented to housing matters; the others to money matters.
    categories = ["wonen"] if n % 3 else ["financieel"]
    return {"id": str(uuid.UUID(int=random.getrandbits(128), version=4)),
            "subject": subject_of(n), "recipient": "wijkteam",
            "source_kinds": ["woningcorporatie"], "source_partners": [],
            "categories": categories, "purpose": "ondersteuning door het wijkteam",
            "valid_from": T0, "valid_until": None, "granted_at": T0,
            "revoked_at": None if active else T0 + timedelta(days=1),
            "status": "active" if active else "revoked",
            "provenance": {"method": "portal"}, "request_id": None,
            "version": 1, "changed_at": None, "representation_id": None, "capacity": None,
            "idempotency_key": None, "idempotency_hash": None}


def _rows(residents: int) -> Iterator[tuple[list[dict], list[dict]]]:
    """Chunks of (subjects, grants): one active grant each, a revoked one for every fourth."""
    for start in range(0, residents, CHUNK):
        ns = range(start, min(start + CHUNK, residents))
        subjects = [{"subject": subject_of(n), "version": 2 if n % 4 == 0 else 1} for n in ns]
        grants = [_grant_row(n, active=True) for n in ns]
        grants += [_grant_row(n, active=False) for n in ns if n % 4 == 0]
        yield subjects, grants


def fill_sqlite(engine: Engine, residents: int) -> None:
    """Bulk insert through the DB-API's executemany, in one transaction.

    Values are encoded once per distinct value by the columns' own SQLAlchemy
    types (so the stored form is exactly what the registry writes and reads);
    only ids and subjects differ per row.
    """
    dialect = engine.dialect
    # Rows differ only in id, subject, version, categories and status: encode each
    # distinct rest once.
    templates: dict[tuple, tuple] = {}

    def encoded(table, row: dict) -> tuple:
        variant = (table.name, row.get("version"), row.get("status"),
                   tuple(row.get("categories", ())))
        if variant not in templates:
            values = []
            for column in table.columns:
                process = column.type.dialect_impl(dialect).bind_processor(dialect)
                value = row[column.name]
                values.append(process(value) if process else value)
            templates[variant] = tuple(values)
        template = templates[variant]
        return tuple(row[c.name] if c.name in ("id", "subject") else template[i]
                     for i, c in enumerate(table.columns))

    def statement(table) -> str:
        names = [c.name for c in table.columns]
        # Table and column names come from consent.tables, never from input.
        return (f"INSERT INTO {table.name} ({', '.join(names)}) "  # noqa: S608
                f"VALUES ({', '.join('?' for _ in names)})")

    with engine.begin() as conn:
        for subjects, grants in _rows(residents):
            conn.exec_driver_sql(statement(consent_subjects),
                                 [encoded(consent_subjects, r) for r in subjects])
            conn.exec_driver_sql(statement(consent_grants),
                                 [encoded(consent_grants, r) for r in grants])


def fill_postgres(engine: Engine, residents: int) -> None:
    """Bulk load with COPY (psycopg), the fast path of PostgreSQL."""
    grant_columns = [c.name for c in consent_grants.columns]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for subjects, grants in _rows(residents):
            with cursor.copy("COPY consent_subjects (subject, version) FROM STDIN") as copy:
                for row in subjects:
                    copy.write_row((row["subject"], row["version"]))
            with cursor.copy(f"COPY consent_grants ({', '.join(grant_columns)}) "
                             "FROM STDIN") as copy:
                for row in grants:
                    copy.write_row(tuple(
                        json.dumps(row[c]) if isinstance(row[c], (list, dict)) else row[c]
                        for c in grant_columns))
        raw.commit()
    finally:
        raw.close()


def _load(engine: Engine, residents: int, fill) -> None:
    """Create the tables, bulk load, then build the secondary indexes and gather statistics.

    Building an index once over loaded rows is much faster than keeping it up
    to date row by row; the indexes are then exactly those of consent.tables.
    """
    metadata.create_all(engine)
    indexes = [index for table in metadata.sorted_tables for index in table.indexes]
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    fill(engine, residents)
    with engine.begin() as conn:
        for index in indexes:
            index.create(conn)
        conn.exec_driver_sql("ANALYZE")


@contextmanager
def store(kind: str, residents: int, postgres_url: str) -> Iterator[Engine]:
    """A fresh database with the consent tables and ``residents`` residents' consents."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="wijkhub-bench-") as tmp:
            engine = create_engine(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_connection, _record):  # as hub.core.db: WAL
                dbapi_connection.execute("PRAGMA journal_mode=WAL")

            _load(engine, residents, fill_sqlite)
            try:
                yield engine
            finally:
                engine.dispose()
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(f"{postgres_url}?options=-csearch_path%3D{schema}")
    try:
        _load(engine, residents, fill_postgres)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def seconds_for(session: Session, subjects: list[str], cache: ConsentCache) -> float:
    """Time the decisions for ``subjects``: lock, consents via the cache, decide."""
    policy = load_policy()
    started = time.perf_counter()
    for subject in subjects:
        version = lock_subject(session=session, subject=subject)
        grants = cache.consents(session=session, subject=subject, version=version)
        decide(facts=FACTS, consents=grants, policy=policy, now=NOW)
        session.rollback()
    return time.perf_counter() - started


def plans(engine: Engine, subject: str) -> list[str]:
    """The query plans of the two reads of a decision, to show both use an index."""
    is_pg = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN" if is_pg else "EXPLAIN QUERY PLAN"
    queries = [
        "SELECT version FROM consent_subjects WHERE subject = :s",
        "SELECT * FROM consent_grants WHERE subject = :s AND status = 'active' "
        "ORDER BY granted_at, id",
    ]
    out = []
    with engine.connect() as conn:
        for query in queries:
            rows = conn.execute(text(f"{prefix} {query}"), {"s": subject}).all()
            out.append(" | ".join(str(r[-1]) for r in rows))
    return out


def run(args: argparse.Namespace,
        rounds: dict[tuple[int, str], list[float]] | None = None) -> dict[tuple[int, str], float]:
    """Fill a store per size, measure both modes, print the figures and the ratios.

    Returns the best rate per (size, mode); ``rounds``, when given, receives
    every round's rate per (size, mode) (bench/consent.py summarises them).

    The stores stay open side by side and the measurement alternates between
    them in small slices, so a change in the machine's load during the
    benchmark falls on every size alike rather than on whichever ran last.
    """
    kind = "postgres" if args.postgres else "sqlite"
    rng = random.Random(7)  # noqa: S311 - a reproducible sample, not a secret
    print(f"store: {kind}; {args.decisions:,} decisions per run, best of {args.repeat}")
    with ExitStack() as stack:
        setups = []
        for residents in args.sizes:
            started = time.perf_counter()
            engine = stack.enter_context(store(kind, residents, args.postgres_url))
            grants = residents + (residents + 3) // 4
            print(f"\n{residents:>10,} residents ({grants:,} grants) filled in "
                  f"{time.perf_counter() - started:.1f} s")
            for line in plans(engine, subject_of(residents // 2)):
                print(f"  plan: {line}")
            spread = [subject_of(rng.randrange(residents)) for _ in range(args.decisions)]
            working_set = [subject_of(rng.randrange(residents))
                           for _ in range(min(args.working_set, residents))]
            hot = [rng.choice(working_set) for _ in range(args.decisions)]
            warm = ConsentCache(maxsize=max(args.working_set, 1))
            session = stack.enter_context(Session(engine))
            seconds_for(session, working_set, warm)  # fill the cache
            setups.append((residents, session, {"uncached": (spread, ConsentCache(maxsize=0)),
                                                "cached": (hot, warm)}))
        # Slices of SLICE decisions alternate between the sizes, so a change in the
        # machine's load falls on every size alike; each round's total gives a rate,
        # and the best round counts.
        results: dict[tuple[int, str], float] = {}
        for _ in range(args.repeat):
            spent = {(residents, mode): 0.0 for residents, _, modes in setups for mode in modes}
            for start in range(0, args.decisions, SLICE):
                for residents, session, modes in setups:
                    for mode, (subjects, cache) in modes.items():
                        spent[(residents, mode)] += seconds_for(
                            session, subjects[start:start + SLICE], cache)
            for key, seconds in spent.items():
                results[key] = max(results.get(key, 0.0), args.decisions / seconds)
                if rounds is not None:
                    rounds.setdefault(key, []).append(args.decisions / seconds)
    print()
    for residents in args.sizes:
        for mode in ("uncached", "cached"):
            print(f"{residents:>10,} residents  {mode:<9} "
                  f"{results[(residents, mode)]:>10,.0f} decisions/s")
    small, large = args.sizes[0], args.sizes[-1]
    print(f"\nratio {large:,} / {small:,} residents (1.0 = no growth):")
    for mode in ("uncached", "cached"):
        ratio = results[(large, mode)] / results[(small, mode)]
        print(f"  {mode:<9} {ratio:.2f}")
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: sizes, decisions per run, repeats, and the store."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000],
                        help="residents per store; the ratio compares the last to the first")
    parser.add_argument("--decisions", type=int, default=10_000, help="decisions per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (best counts)")
    parser.add_argument("--working-set", type=int, default=1_000,
                        help="residents whose consents are cached in the cached mode")
    parser.add_argument("--postgres", action="store_true",
                        help="PostgreSQL instead of SQLite (a fresh schema, dropped after)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    args = parser.parse_args(argv)
    if len(args.sizes) < 2 or min(args.sizes) < 1 or args.decisions < 1:
        parser.error("give two or more positive sizes and a positive number of decisions")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit status."""
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
