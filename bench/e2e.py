"""End to end: POST to inbox, hub (both modes) and peer, at 25/50/90 % of the peer's maximum.

    python -m bench e2e [--repeat 3] [--messages 200] [--modes ...] [--no-peer]

Issue 14's target: p50 at most 15 ms, and p99 no worse than the hand-rolled
peer's, at 25 %, 50 % and 90 % of the PEER's maximum, on both modes. So one
run holds the hub of each mode and the peer (bench/peer_service.py) side by
side, and every level is offered at the same rate to each of them, interleaved
(per repetition, per level: each subject in turn).

The maximum is the peer's sustained delivered rate (messages in its inbox per
second while wrk loads it as fast as it accepts): taken from
bench/results/ingest.json of the same run when it has the peer (the median of
every repetition of every mode), else measured here with wrk first. With
``--no-peer`` each hub is paced at levels of its own maximum instead (then the
latency table says nothing about the target).

An open-loop sender (bench/load.py) posts ``--messages`` arrears signals at the
chosen rate and notes each one's wall-clock send time; the latency of a message
is its inbox row's delivery time minus that send time: for the hub the inbox
item's ``delivered_at`` (written by the router in the transaction that makes the
item readable), for the peer ``peer_inbox.delivered_at`` (the consumer's insert).
After each level the regisseur's own inbox (GET /api/v1/inbox with a regisseur
token) is read once to check that the hub's items are really there.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC

import httpx
from sqlalchemy import bindparam, create_engine, select, text

from bench import load
from bench.common import percentiles, read_result, summary, write_result
from bench.hubs import MODES, hub
from bench.ingest import Target, hub_target, start_peer
from hub.core.models import InboxItem, Message

LEVELS = (0.25, 0.5, 0.9)


@dataclass
class Subject:
    """Something the paced sender posts to: where, how it drains, where its inbox is."""

    name: str
    base_url: str
    target: Target
    latencies: Callable[[dict[str, float]], list[float]]
    check: Callable[[int], None] = lambda _sent: None
    #: Where the hub's time goes, per message: seconds by stage (see hub_stages).
    stages: Callable[[dict[str, float]], dict[str, list[float]]] | None = None
    maximum: float = 0.0
    maximum_source: str = ""
    runs: dict = field(default_factory=dict)


def _found(rows, sent: dict[str, float]) -> list[float]:
    found = {str(ref): at if at.tzinfo else at.replace(tzinfo=UTC) for ref, at in rows}
    missing = set(sent) - set(found)
    if missing:
        raise RuntimeError(f"{len(missing)} messages never reached the inbox")
    return [found[ref].timestamp() - at for ref, at in sent.items()]


def hub_latencies(engine) -> Callable[[dict[str, float]], list[float]]:
    """Seconds from each message's send to its inbox item's delivered_at."""
    def read(sent: dict[str, float]) -> list[float]:
        # Through the models, so the stored timestamp comes back as the hub's type reads it.
        query = (select(Message.id, InboxItem.delivered_at)
                 .join(InboxItem, InboxItem.message_id == Message.id)
                 .where(Message.id.in_(list(sent))))
        with engine.connect() as conn:
            return _found(conn.execute(query).all(), sent)
    return read


def hub_stages(engine) -> Callable[[dict[str, float]], dict[str, list[float]]]:
    """Each message's time split at the hub's ``received_at``: ``to_hub`` (send → the
    API's receipt: the client, the connection, uvicorn's queue) and ``in_hub``
    (receipt → ``delivered_at``: validation, the group commit, the relay or the
    embedded queue, the worker's wait for its batch and the routing itself)."""
    def read(sent: dict[str, float]) -> dict[str, list[float]]:
        query = (select(Message.id, Message.received_at, InboxItem.delivered_at)
                 .join(InboxItem, InboxItem.message_id == Message.id)
                 .where(Message.id.in_(list(sent))))
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        to_hub, in_hub = [], []
        for ref, received, delivered in rows:
            received, delivered = (t if t.tzinfo else t.replace(tzinfo=UTC)
                                   for t in (received, delivered))
            to_hub.append(received.timestamp() - sent[str(ref)])
            in_hub.append((delivered - received).total_seconds())
        return {"to_hub": to_hub, "in_hub": in_hub}
    return read


def peer_latencies(engine) -> Callable[[dict[str, float]], list[float]]:
    """Seconds from each message's send to its peer_inbox row's delivered_at."""
    query = text("SELECT message_id::text, delivered_at FROM peer_inbox "
                 "WHERE message_id::text IN :ids").bindparams(bindparam("ids", expanding=True))

    def read(sent: dict[str, float]) -> list[float]:
        with engine.connect() as conn:
            return _found(conn.execute(query, {"ids": list(sent)}).all(), sent)
    return read


def inbox_check(running_hub) -> Callable[[int], None]:
    """Read the regisseur's inbox once: it must show at least as many items as a level sent."""
    token = running_hub.regisseur_token()

    def check(sent: int) -> None:
        shown = httpx.get(running_hub.url + "/api/v1/inbox", params={"limit": 1},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30).json()["total"]
        if shown < sent:
            raise RuntimeError("the regisseur's inbox shows fewer items than sent")
    return check


def sustained(subject: Subject, connections: int, seconds: float = 5) -> float:
    """The subject's maximum delivered rate, measured now with wrk (``seconds``) and the drain."""
    started = time.monotonic()
    result = load.wrk(subject.target.url, run=f"max{uuid.uuid4().hex[:6]}",
                      key=subject.target.key, seconds=seconds, connections=connections)
    return (result.requests - result.errors) / subject.target.drained_after(started)


def from_ingest(name: str) -> float | None:
    """The median delivered rate of ``name`` (a mode, or "peer") in this run's ingest.json."""
    ingest = read_result("ingest")
    if not ingest:
        return None
    runs = ingest.get("runs", {})
    if name == "peer":
        values = [v for mode in runs.values() for v in mode.get("peer", {})
                  .get("delivered_rate", [])]
    else:
        values = runs.get(name, {}).get("hub", {}).get("delivered_rate", [])
    return statistics.median(values) if values else None


def level_turn(subject: Subject, level: float, rep: int, messages: int) -> None:
    """Offer ``messages`` at ``level`` of the subject's maximum; note p50 and p99."""
    rate = subject.maximum * level
    run = f"e{rep}{int(level * 100)}{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    sent = load.paced(subject.base_url, key=subject.target.key, run=run, rate=rate,
                      seconds=messages / rate)
    subject.target.drained_after(started)
    cut = percentiles(subject.latencies(sent))
    subject.check(len(sent))
    figures = subject.runs.setdefault(f"{int(level * 100)}%", {"rate": [], "p50": [], "p99": []})
    figures["rate"].append(rate)
    figures["p50"].append(cut["p50"])
    figures["p99"].append(cut["p99"])
    split = ""
    if subject.stages is not None:
        for stage, seconds in subject.stages(sent).items():
            figures.setdefault(f"{stage}_p50", []).append(percentiles(seconds)["p50"])
            split += f"  {stage} p50 {figures[f'{stage}_p50'][-1] * 1000:6.1f} ms"
    print(f"  rep {rep + 1} {subject.name:<17} {int(level * 100):>3}% = {rate:6.1f}/s  "
          f"p50 {cut['p50'] * 1000:8.1f} ms  p99 {cut['p99'] * 1000:8.1f} ms{split}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the end-to-end benchmark and write bench/results/e2e.json."""
    parser = argparse.ArgumentParser(prog="python -m bench e2e",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--messages", type=int, default=200, help="messages per level and run")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--connections", type=int, default=load.CONNECTIONS,
                        help="wrk connections when a maximum is measured here")
    parser.add_argument("--max-seconds", type=float, default=5,
                        help="seconds of wrk when a maximum is measured here")
    parser.add_argument("--no-peer", action="store_true",
                        help="leave out the peer: each hub paced at its own maximum")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        subjects: list[Subject] = []
        for mode in args.modes:
            running = stack.enter_context(hub(mode))
            engine = create_engine(running.database_url)
            stack.callback(engine.dispose)
            subjects.append(Subject(mode, running.url, hub_target(running, stack),
                                    hub_latencies(engine), inbox_check(running),
                                    stages=hub_stages(engine)))
        if not args.no_peer:
            peer = start_peer(stack)
            engine = create_engine(peer.database_url)
            stack.callback(engine.dispose)
            subjects.append(Subject("peer", peer.target.url.removesuffix("/api/v1/messages"),
                                    peer.target, peer_latencies(engine)))
        for subject in subjects:  # warm up: the key's argon2 check, imports, pools
            load.warm(subject.target.url, key=subject.target.key,
                      run=f"warm{uuid.uuid4().hex[:6]}")
            subject.target.drained_after(time.monotonic())
        basis = "hub" if args.no_peer else "peer"
        for subject in subjects:
            if basis == "hub" or subject.name == "peer":
                known = from_ingest(subject.name)
                subject.maximum, subject.maximum_source = (
                    (known, "ingest.json") if known else
                    (sustained(subject, args.connections, args.max_seconds),
                     "measured here"))
        if basis == "peer":
            peer_subject = subjects[-1]
            for subject in subjects[:-1]:
                subject.maximum = peer_subject.maximum
                subject.maximum_source = f"the peer's, {peer_subject.maximum_source}"
        for subject in subjects:
            print(f"\n[e2e] {subject.name}: maximum {subject.maximum:.1f}/s "
                  f"({subject.maximum_source}), {args.messages} messages per level", flush=True)
        for rep in range(args.repeat):
            for level in LEVELS:
                for subject in subjects:
                    level_turn(subject, level, rep, args.messages)
    figures: dict = {"basis": basis}
    for subject in subjects:
        figures[subject.name] = {
            "maximum": subject.maximum, "maximum_source": subject.maximum_source,
            "levels": {k: {f: summary(v) for f, v in figs.items()}
                       for k, figs in subject.runs.items()}}
    write_result("e2e", figures=figures,
                 extra={"runs": {s.name: s.runs for s in subjects},
                        "messages_per_level": args.messages})
    return 0
