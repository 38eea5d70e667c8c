"""Benchmark: a caseload search, and how many sealed identities it opens, as the registry grows.

The caseload (hub.core.caseload) searches names and addresses through keyed-hash
tokens, so a search should cost about the same with 1,000 or 10,000 residents in
the wijk, and open only the identities of the households on the page. For each
size this fills a fresh SQLite hub (Krispijn, two residents per address), makes
25 households the regisseur's, and times ``read_caseload`` with a search for one
street and house number, and without a search; it counts ``Cipher.open`` calls.

    .venv/bin/python -m bench.caseload_search                 # 1,000 and 10,000 residents
    .venv/bin/python -m bench.caseload_search --sizes 500 --rounds 20   # quick

Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from hub.core.caseload import read_caseload
from hub.core.context import build_context
from hub.core.households import designate, household_of_subject
from hub.core.identity import Principal
from hub.core.migrate import upgrade
from hub.core.plugins import load_plugins
from hub.core.residents import import_residents_text
from hub.settings import Settings
from tests.utils.builders import make_bsn

STREETS = ("Krispijnseweg", "Dordtse Kil", "Brouwersdijk", "Zuidendijk", "Groenmarkt")


def _fill(ctx, size: int) -> list[str]:
    lines = ["bsn;naam;geboortedatum;postcode;huisnummer;straat;woonplaats"]
    for n in range(size):
        house = n // 2 + 1
        lines.append(f"{make_bsn(n)};Bewoner {n} Achternaam{n % 97};1980-01-01;3317AB;"
                     f"{house};{STREETS[house % len(STREETS)]};Dordrecht")
    with ctx.sessions() as session, session.begin():
        result = import_residents_text(session=session, ctx=ctx, text="\n".join(lines))
        assert not result.errors
        ids = []
        for n in range(0, 50, 2):  # 25 households for the regisseur
            household = household_of_subject(session=session,
                                             subject=ctx.pseudonyms.subject(make_bsn(n)))
            designate(session=session, ctx=ctx, household=household, user="anna",
                      actor="bram", role="teamlead", now=ctx.clock())
            ids.append(household.id)
    return ids


def measure(size: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        settings = Settings(env="test", data_dir=data, worker_enabled=False,
                            database_url=f"sqlite:///{data}/hub.db")
        ctx = build_context(settings, plugins=load_plugins())
        try:
            upgrade(ctx.engine)
            _fill(ctx, size)
            opened = 0
            real_open = ctx.cipher.open

            def counting_open(token, *, context):
                nonlocal opened
                opened += 1
                return real_open(token, context=context)

            ctx.cipher.open = counting_open
            anna = Principal(role="regisseur", user="anna", wijk="krispijn")
            out = {"residents": size}
            for label, q in (("search", "Brouwersdijk 7"), ("no search", None)):
                opened = 0
                start = time.perf_counter()
                for _ in range(rounds):
                    with ctx.sessions() as session:
                        load = read_caseload(session=session, ctx=ctx, viewer=anna,
                                             now=ctx.clock(), q=q, limit=25)
                        session.rollback()
                out[f"{label} ms"] = (time.perf_counter() - start) / rounds * 1000
                out[f"{label} opened"] = opened / rounds
                out[f"{label} lines"] = load.total
            return out
        finally:
            ctx.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    for size in args.sizes:
        row = measure(size, args.rounds)
        print(" · ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}"
                         for k, v in row.items()), flush=True)


if __name__ == "__main__":
    main()
