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
runs from that send until a reader of the inbox can see it: a watcher thread
(:class:`Watcher`) asks the inbox table every :data:`POLL_SECONDS` which of the
sent messages are there, and notes the moment of the first read that found each.
For the hub that is the inbox item, for the peer its ``peer_inbox`` row. Until
2026-12-07 the latency ended at the row's ``delivered_at``; that is the time the
routing transaction began, not its commit (for the peer, whose transaction is one
insert, nearly the same), so the hub's figures left out their routing: up to one
batch's time.
After each level the regisseur's own inbox (GET /api/v1/inbox with a regisseur
token) is read once to check that the hub's items are really there.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import httpx
from sqlalchemy import create_engine, select

from bench import load
from bench.common import percentiles, read_result, summary, write_result
from bench.hubs import MODES, hub
from bench.ingest import Target, hub_target, start_peer
from hub.core.models import InboxItem, Message

LEVELS = (0.25, 0.5, 0.9)
#: How often the watcher asks which sent messages are visible: a latency is at most this
#: much later than the commit that made the message visible, for hub and peer alike.
POLL_SECONDS = 0.002


@dataclass
class Subject:
    """Something the paced sender posts to: where, how it drains, where its inbox is."""

    name: str
    base_url: str
    target: Target
    engine: Any
    #: Which of these message ids a reader of the inbox sees, on an open connection.
    visible: Callable[[Any, list[str]], Iterable[str]]
    check: Callable[[int], None] = lambda _sent: None
    #: Where the hub's time goes, per message: seconds by stage (see hub_stages).
    stages: Callable[[dict[str, float], dict[str, float]], dict[str, list[float]]] | None = None
    maximum: float = 0.0
    maximum_source: str = ""
    runs: dict = field(default_factory=dict)


class Watcher(threading.Thread):
    """Notes when each sent message is first seen in the inbox, while the sender sends.

    Every :data:`POLL_SECONDS` it asks, on one connection, which of the ids in
    ``sent`` (filled by the sender as the answers come in) it has not seen yet are
    visible now, and gives each one found the time that read began: the row was
    committed before that read's snapshot, and after the read before it. The read
    goes straight to the driver, in autocommit (each one a fresh snapshot), not
    through SQLAlchemy: a watcher costing less CPU disturbs what it watches less
    (on the two cores, SQLAlchemy's reads every 2 ms made the embedded hub's own
    p50 at 25 % three times longer than reads every 20 ms did).
    """

    def __init__(self, engine, visible: Callable[[Any, list[str]], Iterable[str]],
                 sent: dict[str, float]) -> None:
        super().__init__(daemon=True)
        self.engine, self.visible, self.sent = engine, visible, sent
        self.seen: dict[str, float] = {}
        self.error: BaseException | None = None
        self._finish = threading.Event()

    def run(self) -> None:
        try:
            raw = self.engine.raw_connection()
            driver = raw.driver_connection
            sqlite = self.engine.dialect.name == "sqlite"
            # Autocommit for the watch; the pooled connection goes back as it came.
            before = driver.isolation_level if sqlite else driver.autocommit
            try:
                if sqlite:
                    driver.isolation_level = None
                else:
                    raw.rollback()
                    driver.autocommit = True
                self._watch(driver.cursor())
            finally:
                if sqlite:
                    driver.isolation_level = before
                else:
                    driver.autocommit = before
                raw.close()
        except Exception as exc:  # handed to the caller by finish()
            self.error = exc

    def _watch(self, cursor) -> None:
        while True:
            last = self._finish.is_set()  # one more read after finish()
            unseen = [ref for ref in list(self.sent) if ref not in self.seen]
            if unseen:
                at = time.time()
                for ref in self.visible(cursor, unseen):
                    self.seen.setdefault(str(ref), at)
            if last:
                return
            time.sleep(POLL_SECONDS)

    def stop(self) -> None:
        """Stop after one more read."""
        self._finish.set()
        self.join(60)

    def finish(self) -> dict[str, float]:
        """Stop after one more read; each sent id's first-seen time (all must be seen)."""
        self.stop()
        if self.error is not None:
            raise RuntimeError("the inbox watcher failed") from self.error
        missing = set(self.sent) - set(self.seen)
        if missing:
            raise RuntimeError(f"{len(missing)} messages never reached the inbox")
        return self.seen


def hub_visible(cursor, ids: list[str]) -> Iterable[str]:
    """The ids among ``ids`` whose inbox item the hub's regisseurs can read now
    (``cursor``: the driver's, of sqlite3 or psycopg)."""
    if isinstance(cursor, sqlite3.Cursor):
        cursor.execute("SELECT message_id FROM inbox_items "
                       "WHERE message_id IN (SELECT value FROM json_each(?))", (json.dumps(ids),))
    else:
        cursor.execute("SELECT message_id FROM inbox_items WHERE message_id = ANY(%s)", (ids,))
    return [row[0] for row in cursor.fetchall()]


def peer_visible(cursor, ids: list[str]) -> Iterable[str]:
    """The ids among ``ids`` with a row in the peer's inbox now (a psycopg cursor)."""
    cursor.execute("SELECT message_id::text FROM peer_inbox WHERE message_id = ANY(%s::uuid[])",
                   (ids,))
    return [row[0] for row in cursor.fetchall()]


def _aware(at):
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def hub_stages(engine) -> Callable[[dict[str, float], dict[str, float]],
                                   dict[str, list[float]]]:
    """Each message's time split at the hub's ``received_at`` and the inbox item's
    ``delivered_at``: ``to_hub`` (send → the API's receipt: the client, the
    connection, uvicorn's queue), ``in_hub`` (receipt → ``delivered_at``, the moment
    its routing transaction began: validation, the group commit, the relay or the
    embedded queue, the worker's wait for its batch) and ``routing`` (→ first seen:
    the routing transaction until its commit, and the watcher's next read)."""
    def read(sent: dict[str, float], seen: dict[str, float]) -> dict[str, list[float]]:
        query = (select(Message.id, Message.received_at, InboxItem.delivered_at)
                 .join(InboxItem, InboxItem.message_id == Message.id)
                 .where(Message.id.in_(list(sent))))
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        stages: dict[str, list[float]] = {"to_hub": [], "in_hub": [], "routing": []}
        for ref, received, delivered in rows:
            received, delivered = _aware(received).timestamp(), _aware(delivered).timestamp()
            stages["to_hub"].append(received - sent[str(ref)])
            stages["in_hub"].append(delivered - received)
            stages["routing"].append(seen[str(ref)] - delivered)
        return stages
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
    sent: dict[str, float] = {}
    watcher = Watcher(subject.engine, subject.visible, sent)
    watcher.start()
    started = time.monotonic()
    try:
        load.paced(subject.base_url, key=subject.target.key, run=run, rate=rate,
                   seconds=messages / rate, sent=sent)
        subject.target.drained_after(started)
    except BaseException:
        watcher.stop()
        raise
    seen = watcher.finish()
    cut = percentiles([seen[ref] - at for ref, at in sent.items()])
    subject.check(len(sent))
    figures = subject.runs.setdefault(f"{int(level * 100)}%", {"rate": [], "p50": [], "p99": []})
    figures["rate"].append(rate)
    figures["p50"].append(cut["p50"])
    figures["p99"].append(cut["p99"])
    split = ""
    if subject.stages is not None:
        for stage, seconds in subject.stages(sent, seen).items():
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
            subjects.append(Subject(mode, running.url, hub_target(running, stack), engine,
                                    hub_visible, inbox_check(running),
                                    stages=hub_stages(engine)))
        if not args.no_peer:
            peer = start_peer(stack)
            engine = create_engine(peer.database_url)
            stack.callback(engine.dispose)
            subjects.append(Subject("peer", peer.target.url.removesuffix("/api/v1/messages"),
                                    peer.target, engine, peer_visible))
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
