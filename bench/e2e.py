"""End to end: from POST to the item in the regisseur's inbox, at 25/50/90 % of the maximum.

    python -m bench e2e [--repeat 3] [--messages 60] [--modes ...]

The maximum is the hub's measured sustained end-to-end rate (messages
delivered per second while wrk loads it as fast as it accepts): taken from
bench/results/ingest.json of the same run when it is there, else measured here
with wrk first. Above it the backlog grows without end, so a latency at "90 %
of the ingest rate" would only measure how long the run lasted.

An open-loop sender (bench/load.py) posts ``--messages`` arrears signals at the
chosen rate and notes each one's wall-clock send time; the latency of a message
is its inbox item's ``delivered_at`` (written by the router in the transaction
that makes the item readable) minus that send time. After each level the
regisseur's own inbox (GET /api/v1/inbox with a regisseur token) is read once to
check that the items are really there.
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC

import httpx
from sqlalchemy import create_engine, select, text

from bench import load
from bench.common import percentiles, read_result, summary, write_result
from bench.hubs import MODES, hub
from bench.ingest import DRAIN_TIMEOUT
from hub.core.models import InboxItem, Message

LEVELS = (0.25, 0.5, 0.9)


def sustained_rate(mode: str, running_hub) -> tuple[float, str]:
    """The maximum sustained rate: from this run's ingest result, else measured now."""
    ingest = read_result("ingest")
    try:
        return ingest["figures"][mode]["hub"]["delivered_rate"]["median"], "ingest.json"
    except (TypeError, KeyError):
        pass
    started = time.monotonic()
    result = load.wrk(running_hub.url + "/api/v1/messages", run=f"max{uuid.uuid4().hex[:6]}",
                      key=running_hub.api_key, seconds=5)
    engine = create_engine(running_hub.database_url)
    try:
        _wait_delivered(engine, started)
    finally:
        engine.dispose()
    return (result.requests - result.errors) / (time.monotonic() - started), "measured here"


def _wait_delivered(engine, started: float) -> None:
    deadline = started + DRAIN_TIMEOUT
    while True:
        with engine.connect() as conn:
            left = conn.execute(text("SELECT count(*) FROM outbox "
                                     "WHERE status IN ('pending', 'sent')")).scalar_one()
        if left == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("backlog not delivered in time")
        time.sleep(0.05)


def latencies(engine, sent: dict[str, float]) -> list[float]:
    """Seconds from each message's send to its inbox item's delivered_at."""
    # Through the models, so the stored timestamp comes back as the hub's type reads it.
    query = (select(Message.id, InboxItem.delivered_at)
             .join(InboxItem, InboxItem.message_id == Message.id)
             .where(Message.id.in_(list(sent))))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    found = {ref: at if at.tzinfo else at.replace(tzinfo=UTC) for ref, at in rows}
    missing = set(sent) - set(found)
    if missing:
        raise RuntimeError(f"{len(missing)} messages never reached the inbox")
    return [found[ref].timestamp() - at for ref, at in sent.items()]


def run_mode(mode: str, *, repeat: int, messages: int) -> dict:
    """All levels for one mode; per level lists of p50 and p99 (seconds)."""
    with hub(mode) as running:
        maximum, source = sustained_rate(mode, running)
        token = running.regisseur_token()
        engine = create_engine(running.database_url)
        print(f"\n[e2e] mode {mode}: maximum {maximum:.1f}/s ({source}), "
              f"{messages} messages per level", flush=True)
        runs: dict[str, dict[str, list[float]]] = {}
        try:
            for rep in range(repeat):
                for level in LEVELS:
                    rate = maximum * level
                    run = f"e{rep}{int(level * 100)}{uuid.uuid4().hex[:6]}"
                    started = time.monotonic()
                    sent = load.paced(running.url, key=running.api_key, run=run, rate=rate,
                                      seconds=messages / rate)
                    _wait_delivered(engine, started)
                    found = latencies(engine, sent)
                    shown = httpx.get(running.url + "/api/v1/inbox", params={"limit": 1},
                                      headers={"Authorization": f"Bearer {token}"},
                                      timeout=30).json()["total"]
                    if shown < len(sent):
                        raise RuntimeError("the regisseur's inbox shows fewer items than sent")
                    cut = percentiles(found)
                    figures = runs.setdefault(f"{int(level * 100)}%", {"rate": [], "p50": [],
                                                                      "p99": []})
                    figures["rate"].append(rate)
                    figures["p50"].append(cut["p50"])
                    figures["p99"].append(cut["p99"])
                    print(f"  rep {rep + 1} {int(level * 100):>3}% = {rate:6.1f}/s  "
                          f"p50 {cut['p50'] * 1000:8.1f} ms  p99 {cut['p99'] * 1000:8.1f} ms",
                          flush=True)
        finally:
            engine.dispose()
    return {"maximum": maximum, "maximum_source": source,
            "levels": {k: {f: summary(v) for f, v in figs.items()} for k, figs in runs.items()},
            "runs": runs}


def main(argv: list[str] | None = None) -> int:
    """Run the end-to-end benchmark and write bench/results/e2e.json."""
    parser = argparse.ArgumentParser(prog="python -m bench e2e",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--messages", type=int, default=60, help="messages per level and run")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    args = parser.parse_args(argv)
    messages = args.messages
    result = {mode: run_mode(mode, repeat=args.repeat, messages=messages) for mode in args.modes}
    write_result("e2e", figures={m: {k: v for k, v in r.items() if k != "runs"}
                                 for m, r in result.items()},
                 extra={"runs": {m: r["runs"] for m, r in result.items()},
                        "messages_per_level": messages})
    return 0
