"""The hub's Prometheus metrics, on a registry owned by one hub (not the process-global one).

Labels name organisations, message types, legal bases and outcomes: a bounded
set of values, none of which identifies a person. Never pass a label value that
comes from a message (a ``type`` a partner made up could be a BSN): ingest
passes ``unknown`` for a type no plugin serves.

Counters count what *this process* did (ingest in an API process, routing in
whichever process routes), so Prometheus sums them over processes. The queue
gauges are read from the store at scrape time and are the same in every
process: aggregate them with ``max``, not ``sum``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Literal

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from hub.core.models import OutboxEntry

log = logging.getLogger(__name__)

InOutcome = Literal["accepted", "duplicate", "rejected"]
OutOutcome = Literal["delivered", "linked"]
UNKNOWN_TYPE = "unknown"

# From "routed at once" to "released by a consent given days later".
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
                   3600.0, 14400.0, 86400.0, 604800.0)


class HubMetrics:
    """The metric families of one hub, and one-line functions to record into them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._watching = False
        self._in = Counter(
            "wijkhub_messages_in", "Messages partners sent, by outcome at the door.",
            ["partner", "type", "outcome"], registry=self.registry)
        self._out = Counter(
            "wijkhub_messages_out",
            "Messages that reached a wijk's inbox: a new item (delivered) or a repeat "
            "linked to an open one (linked).",
            ["partner", "type", "basis", "outcome"], registry=self.registry)
        self._decisions = Counter(
            "wijkhub_decisions", "Consent and legal-basis decisions, by basis and outcome.",
            ["type", "basis", "outcome"], registry=self.registry)
        self._latency = Histogram(
            "wijkhub_receipt_to_inbox_seconds",
            "Time from the hub's receipt of a message to its arrival in the inbox.",
            ["type", "basis"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self._requests = Counter(
            "wijkhub_http_requests", "HTTP requests, by method, route template and status.",
            ["method", "route", "status"], registry=self.registry)
        self._request_seconds = Histogram(
            "wijkhub_http_request_duration_seconds", "Time to answer an HTTP request.",
            ["method", "route"], registry=self.registry)
        self._failures = Counter(
            "wijkhub_task_failures", "Failed attempts at queued work, by task and error type.",
            ["task", "error"], registry=self.registry)
        # (id of the family, label values) -> its child: ``labels()`` takes a lock and checks
        # every value per call, three times per routed message (issue 14). The families
        # here are never cleared, so a child, once made, stays the one exported.
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        # Counts of this process, summed over processes; not the gauges read from the store.
        self._counted = (self._in, self._out, self._decisions, self._latency, self._requests,
                         self._request_seconds, self._failures)
        self._sources: list[Callable[[], list[Metric]]] = []
        self._exposed = _Summed(self.registry, self._sources)  # sees sources added later

    def counted_families(self) -> list[Metric]:
        """This process's counters and histograms as metric families, for another process
        to add to its own (``hub serve``'s routing process hands them over)."""
        return [family for metric in self._counted for family in metric.collect()]

    def add_source(self, families: Callable[[], list[Metric]]) -> None:
        """Add what ``families()`` returns at every scrape to these metrics (see
        :meth:`exposed`): another process's :meth:`counted_families`."""
        self._sources.append(families)

    def remove_source(self, families: Callable[[], list[Metric]]) -> None:
        """No longer add ``families()`` (its process is gone for good); none when unknown."""
        if families in self._sources:
            self._sources.remove(families)

    def exposed(self) -> Any:
        """What ``/metrics`` shows: this registry, and each source's counts added in
        (sample by sample; the first ``_created`` stays). Something with ``collect()``,
        as prometheus_client's encoders take."""
        return self._exposed

    def _child(self, metric: Counter | Histogram, *values: str) -> Any:
        key = (id(metric), values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    # Each recording function takes the caller's session, when there is one: the count is
    # then made when that transaction commits, and dropped when it rolls back, so a
    # retried routing or a failed commit is never counted twice or at all.

    def message_in(self, *, partner: str, type: str, outcome: InOutcome,
                   session: Session | None = None) -> None:
        """Count one message a partner sent (``partner`` is the organisation's name)."""
        when_committed(session, self._child(self._in, partner, type, outcome).inc)

    def decided(self, *, type: str, basis: str, outcome: str,
                session: Session | None = None) -> None:
        """Count one routing decision (``basis``: consent, statute, none)."""
        when_committed(session, self._child(self._decisions, type, basis, outcome).inc)

    def reached_inbox(self, *, partner: str, type: str, basis: str,
                      outcome: OutOutcome, received_at: datetime, now: datetime,
                      session: Session | None = None) -> None:
        """Count a message that reached the inbox, and observe its time since receipt."""
        seconds = max((now - received_at).total_seconds(), 0.0)
        out = self._child(self._out, partner, type, basis, outcome)
        latency = self._child(self._latency, type, basis)

        def record() -> None:
            out.inc()
            latency.observe(seconds)

        when_committed(session, record)

    def task_failed(self, *, task: str, error: str, session: Session | None = None) -> None:
        """Count one failed attempt at an outbox task (``error``: the exception's class name)."""
        when_committed(session, self._failures.labels(task, error).inc)

    def http_request(self, *, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered HTTP request (``route`` is the route's template) and its time."""
        # Children looked up once per label set (bounded: methods, route templates,
        # statuses), not twice per request through prometheus_client's labels() (issue 14).
        self._child(self._requests, method, route, str(status)).inc()
        self._child(self._request_seconds, method, route).observe(seconds)

    def watch_outbox(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        """Report queue depth and dead letters, counted in the store at every scrape.

        Only the first call counts: a context copied with ``dataclasses.replace`` shares
        these metrics and the store they watch.
        """
        if self._watching:
            return
        self.registry.register(OutboxCollector(sessions, clock))
        self._watching = True


_PENDING = "wijkhub_metrics_pending"


def when_committed(session: Session | None, record: Callable[[], object]) -> None:
    """Call ``record`` once ``session``'s transaction has committed, or never when it
    rolls back (a savepoint's :func:`truncate_pending` drops what it added); at once
    when there is no session. For counts, and for log lines that say something was
    done: neither may claim what a rollback took back. It runs after the commit has
    returned, so on SQLite not while the transaction held the write lock."""
    if session is None:
        record()
    else:
        session.info.setdefault(_PENDING, []).append(record)


def pending_count(session: Session) -> int:
    """How many counts wait for this session's commit (a mark for :func:`truncate_pending`)."""
    return len(session.info.get(_PENDING, ()))


def truncate_pending(session: Session, mark: int) -> None:
    """Forget the counts added after ``mark``: their savepoint was rolled back."""
    del session.info.get(_PENDING, [])[mark:]


@event.listens_for(Session, "after_commit")
def _record_committed(session: Session) -> None:
    for record in session.info.pop(_PENDING, ()):
        record()


@event.listens_for(Session, "after_transaction_end")
def _drop_uncommitted(session: Session, transaction) -> None:
    # Runs after after_commit, so only what was rolled back is left. A savepoint's end
    # (begin_nested) is not the transaction's: its outer transaction may still commit.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


class _Summed:
    """A registry's families with other processes' counts added (HubMetrics.exposed)."""

    def __init__(self, registry: CollectorRegistry,
                 sources: list[Callable[[], list[Metric]]]) -> None:
        self._registry = registry
        self._sources = sources

    def collect(self) -> Iterator[Metric]:
        families = {family.name: family for family in self._registry.collect()}
        for source in self._sources:
            for theirs in source():
                mine = families.get(theirs.name)
                if mine is None:
                    families[theirs.name] = theirs
                elif mine.type != "gauge":
                    # Gauges are read from the store: the same in every process, not summed.
                    mine.samples = _add(mine.samples, theirs.samples)
        return iter(families.values())

    def restricted_registry(self, names) -> _Restricted:
        """Only the samples named (Prometheus' ``name[]`` query), as a registry's own does."""
        return _Restricted(self, set(names))


class _Restricted:
    def __init__(self, whole: _Summed, names: set[str]) -> None:
        self._whole, self._names = whole, names

    def collect(self) -> Iterator[Metric]:
        for family in self._whole.collect():
            family.samples = [s for s in family.samples if s.name in self._names]
            if family.samples:
                yield family


def _add(mine: list, theirs: list) -> list:
    index = {(s.name, tuple(sorted(s.labels.items()))): n for n, s in enumerate(mine)}
    total = list(mine)
    for sample in theirs:
        n = index.get((sample.name, tuple(sorted(sample.labels.items()))))
        if n is None:
            total.append(sample)
        elif sample.name.endswith("_created"):
            total[n] = total[n]._replace(value=min(total[n].value, sample.value))
        else:
            total[n] = total[n]._replace(value=total[n].value + sample.value)
    return total


class OutboxCollector(Collector):
    """Gauges read from the outbox table when Prometheus scrapes, so every process agrees."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._clock = clock

    def describe(self) -> Iterator[Metric]:
        # Describing without a query keeps registration free of database work.
        return iter(self._families())

    def collect(self) -> Iterator[Metric]:
        depth, dead, oldest, up = self._families()
        try:
            with self._sessions() as session:
                counts = dict(session.execute(
                    select(OutboxEntry.status, func.count()).group_by(OutboxEntry.status)).all())
                first = session.scalar(select(func.min(OutboxEntry.created_at))
                                       .where(OutboxEntry.status == "pending"))
        except Exception as exc:
            # A scrape must answer even when the database does not: say so in a gauge.
            log.warning("metrics: the outbox could not be read: %s", type(exc).__name__)
            up.add_metric([], 0)
            return iter((up,))
        depth.add_metric([], counts.get("pending", 0))
        dead.add_metric([], counts.get("dead", 0))
        oldest.add_metric([], (self._clock() - first).total_seconds() if first else 0.0)
        up.add_metric([], 1)
        return iter((depth, dead, oldest, up))

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, ...]:
        return (
            GaugeMetricFamily("wijkhub_queue_depth",
                              "Outbox rows waiting to be handled (due now or backing off)."),
            GaugeMetricFamily("wijkhub_dead_letters",
                              "Outbox rows dead-lettered after their last attempt."),
            GaugeMetricFamily("wijkhub_queue_oldest_age_seconds",
                              "Age of the oldest waiting outbox row; 0 when none waits."),
            GaugeMetricFamily("wijkhub_store_up",
                              "1 when the metrics could read the store at this scrape."),
        )
