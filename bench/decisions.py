"""Consent decisions per second with 10 thousand and 1 million residents registered.

    python -m bench decisions [--repeat 3] [--sizes 10000 1000000] [--decisions 2000] [--postgres]

A wrapper around bench/consent_decisions.py (which documents what a decision
is, how the store is filled in bulk, and why sizes are measured in
alternating slices): it runs it once and keeps every round, so the report
can give min/median/max and the ratio largest/smallest per round. The store
is SQLite (the embedded default), filled with executemany; ``--postgres``
measures on a fresh PostgreSQL schema filled with COPY.
"""

from __future__ import annotations

import argparse

from bench import consent_decisions
from bench.common import summary, write_result


def main(argv: list[str] | None = None) -> int:
    """Run the decision benchmark and write bench/results/consent.json."""
    parser = argparse.ArgumentParser(prog="python -m bench decisions",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--decisions", type=int, default=2_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args(argv)
    inner = ["--sizes", *map(str, args.sizes), "--decisions", str(args.decisions),
             "--repeat", str(args.repeat), *(["--postgres"] if args.postgres else [])]
    rounds: dict[tuple[int, str], list[float]] = {}
    print("\n[decisions]", flush=True)
    consent_decisions.run(consent_decisions.parse_args(inner), rounds)
    small, large = min(args.sizes), max(args.sizes)
    figures: dict = {"store": "postgresql" if args.postgres else "sqlite",
                     "sizes": [small, large], "decisions_per_round": args.decisions}
    for mode in ("uncached", "cached"):
        figures[mode] = {
            str(small): summary(rounds[(small, mode)]),
            str(large): summary(rounds[(large, mode)]),
            "ratio": summary([b / a for a, b in zip(rounds[(small, mode)],
                                                     rounds[(large, mode)], strict=True)]),
        }
    write_result("decisions", figures=figures,
                 extra={"runs": {f"{size}/{mode}": v for (size, mode), v in rounds.items()}})
    return 0
