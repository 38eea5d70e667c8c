"""Fault tests of the production transport (issue 3), on PostgreSQL and RabbitMQ.

Each starts real ``hub serve`` and ``hub worker`` processes, breaks something in
the middle of a stream of messages, and counts: sent, accepted, delivered,
lost, doubled, seconds (printed, run with ``-s`` to read them).

None of them disturbs another test: the broker test stops a RabbitMQ node of its own
(``private_rabbit``), the database test restarts a PostgreSQL cluster of its own
(``private_postgres``), and the others kill only processes they started. So they run
in the parallel step with everything else; no ``serial`` marker.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import httpx
import pika
import pytest
from sqlalchemy import func, select, text

from hub.core.audit import verify
from hub.core.context import build_context
from hub.core.migrate import upgrade
from hub.core.models import InboxItem, Message, OutboxEntry
from hub.settings import Settings
from tests.transport.conftest import RABBIT_HOST
from tests.transport.processes import HubProcess, hub_env
from tests.utils.builders import arrears, nuisance, partner, person, register, resident
from tests.utils.waiting import PATIENCE_SECONDS, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]
WORKER_READY = "worker consuming from"
# Waits end when nothing moved for this long, never at a fixed deadline: on a loaded
# machine progress is slow, and a fixed deadline would count slow as lost.
STALLED_AFTER = 120.0


def wait_while_moving(probe, done, what: str, stalled_after: float = STALLED_AFTER):
    """Poll ``probe()`` until ``done(answer)``; give up only when the answer stopped changing.

    Returns the last answer. Raises AssertionError naming ``what`` when the answer stayed
    the same for ``stalled_after`` seconds without being done.
    """
    last = None
    deadline = time.monotonic() + stalled_after

    def moved_or_done():
        nonlocal last, deadline
        answer = probe()
        if done(answer):
            return (answer,)
        if answer != last:
            last, deadline = answer, time.monotonic() + stalled_after
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: stuck at {answer!r} for {stalled_after:.0f} s")
        return None

    return wait_until(moved_or_done, what, timeout=float("inf"))[0]


class Hub:
    """A hub on one database and broker: setup context, serve and worker processes."""

    def __init__(self, tmp_path: Path, database_url: str, broker_url: str) -> None:
        self.data = tmp_path / "data"
        self.database_url = database_url
        self.ctx = build_context(Settings(env="test", data_dir=self.data,
                                              database_url=database_url))
        upgrade(self.ctx.engine)
        self.env = hub_env(self.data, database_url, broker_url)
        self.serve = HubProcess(["serve"], self.env, tmp_path / "serve.log")
        self.workers: list[HubProcess] = []
        self.tmp_path = tmp_path
        self.started = time.monotonic()

    def worker(self) -> HubProcess:
        proc = HubProcess(["worker"], self.env, self.tmp_path / f"worker{len(self.workers)}.log")
        self.workers.append(proc)
        return proc.start(WORKER_READY)

    def delivered(self) -> list[str]:
        with self.ctx.sessions() as session:
            return list(session.scalars(select(InboxItem.message_id)))

    def unfinished(self) -> int:
        with self.ctx.sessions() as session:
            return session.scalar(select(func.count()).select_from(OutboxEntry)
                                  .where(OutboxEntry.status.in_(("pending", "sent"))))

    def wait_drained(self, expected: int, stalled_after: float = 120) -> None:
        """Wait until ``expected`` messages are delivered and nothing is unfinished.

        Gives up only when nothing moved for ``stalled_after`` seconds: on a loaded
        machine draining is slow, and a fixed deadline would count slow as lost.
        """
        wait_while_moving(lambda: (len(set(self.delivered())), self.unfinished()),
                          lambda progress: progress[1] == 0 and progress[0] >= expected,
                          f"{expected} messages were not all delivered", stalled_after)

    def report(self, name: str, sent: int, accepted: set[str], **extra) -> tuple[int, int]:
        rows = self.delivered()
        delivered = set(rows)
        lost = len(accepted - delivered)
        doubled = len(rows) - len(delivered)
        more = " ".join(f"{k}={v}" for k, v in extra.items())
        print(f"\n{name}: sent={sent} accepted={len(accepted)} delivered={len(delivered)} "
              f"lost={lost} doubled={doubled} {more} "
              f"seconds={time.monotonic() - self.started:.1f}")
        return lost, doubled

    def close(self) -> None:
        for proc in [*self.workers, self.serve]:
            code = proc.stop()
            # SIGTERM is a clean stop (a SIGKILLed worker has a code already).
            assert code in (0, -9, None), f"{proc.args[0]} exited with {code}"
        self.ctx.dispose()


@pytest.fixture
def hub(tmp_path, postgres_url, broker_url):
    """A hub on a fresh PostgreSQL schema and a fresh broker prefix."""
    h = Hub(tmp_path, postgres_url, broker_url)
    try:
        yield h
    finally:
        h.close()


def _csv(first: int, count: int) -> str:
    lines = ["source_ref,name,birthdate,postcode,huisnummer,bsn,amount_eur,months,since,"
             "tenancy_ref"]
    for n in range(first, first + count):
        lines.append(f"K-{n},Bewoner {n},,3317AB,{n % 900 + 1},,{100 + n}.00,3,2026-08-01,"
                     f"T-{n}")
    return "\n".join(lines) + "\n"


def test_kill_9_a_worker_mid_stream_loses_and_doubles_nothing(hub):
    _, headers = partner(hub.ctx)
    hub.serve.start()
    first = hub.worker()
    # Big enough that the kill lands with deliveries unacked and more still coming.
    sent, batch = 1000, 200
    accepted: set[str] = set()
    killed = False
    with httpx.Client(base_url=hub.serve.url, headers=headers, timeout=120) as client:
        for start in range(0, sent, batch):
            r = client.post("/api/v1/messages/batch", content=_csv(start, batch),
                            headers={"Content-Type": "text/csv"})
            assert r.status_code == 202, r.text
            if start == 400:
                # Mid-stream: the worker has delivered some and holds unacked deliveries.
                wait_while_moving(lambda: len(hub.delivered()), lambda n: n >= 150,
                                  "the first worker delivered fewer than 150")
                first.kill()
                killed = True
        hub.worker()  # a new one takes over what the dead one held
    with hub.ctx.sessions() as session:
        accepted = set(session.scalars(select(Message.id)))
    hub.wait_drained(len(accepted))
    lost, doubled = hub.report("kill -9 worker", sent, accepted, killed=int(killed))
    assert killed
    assert len(accepted) == sent
    assert (lost, doubled) == (0, 0)
    assert hub.unfinished() == 0


def test_kill_a_worker_between_the_commit_and_the_ack_of_a_batch(hub):
    # Issue 14: a worker routes a prefetch window in one transaction and acks it with one
    # basic_ack(multiple=True) after the commit. Killed in between, the broker delivers
    # the whole window again to the next worker: the rows are done, nothing happens twice.
    _, headers = partner(hub.ctx)
    hub.serve.start()
    sent = 200
    with httpx.Client(base_url=hub.serve.url, headers=headers, timeout=120) as client:
        r = client.post("/api/v1/messages/batch", content=_csv(0, sent),
                        headers={"Content-Type": "text/csv"})
        assert r.status_code == 202, r.text
    gate = hub.tmp_path / "ack-gate"
    held = HubProcess(["worker"], {**hub.env, "WIJKHUB_ACK_GATE": str(gate)},
                      hub.tmp_path / "held-worker.log", module="tests.transport.ack_gate")
    hub.workers.append(held)
    held.start(WORKER_READY)
    wait_until(gate.exists, "the held worker never committed a batch")
    with hub.ctx.sessions() as session:
        committed = set(session.scalars(select(OutboxEntry.id)
                                        .where(OutboxEntry.status == "done")))
    held.kill()
    assert committed, "the window was committed before the ack"
    hub.worker()  # gets the unacked window again
    with hub.ctx.sessions() as session:
        accepted = set(session.scalars(select(Message.id)))
    hub.wait_drained(len(accepted))
    lost, doubled = hub.report("kill between commit and ack", sent, accepted,
                               committed_unacked=len(committed))
    assert len(accepted) == sent
    assert (lost, doubled) == (0, 0)
    with hub.ctx.sessions() as session:
        # Each row ran once: the redelivered window was a no-op.
        attempts = session.scalars(select(OutboxEntry.attempts)).all()
        assert set(attempts) == {1}
        assert verify(session, hub.ctx.keys).first_bad is None


def _answers(base_url: str) -> bool:
    """Whether the broker at ``base_url`` accepts an AMQP connection."""
    try:
        pika.BlockingConnection(pika.URLParameters(f"{base_url}/%2F")).close()
        return True
    except Exception:
        return False


def _send(client, body: dict, headers: dict, statuses: list[int]) -> str:
    """Send until the hub gives a receipt, as a partner does; every answer is recorded.

    A real partner waits Retry-After between tries; the test retries sooner (wait_until's
    short, growing pauses) and keeps trying while the outage lasts, however long that is
    on a loaded machine (up to PATIENCE_SECONDS).
    """
    def accepted() -> str | None:
        r = client.post("/api/v1/messages", json=body, headers=headers)
        statuses.append(r.status_code)
        if r.status_code == 202:
            return r.json()["id"]
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"]
        return None

    return wait_until(accepted, "the hub never accepted the message")


@pytest.fixture
def hub_on_private_rabbit(tmp_path, postgres_url, private_rabbit):
    """A hub whose broker is a RabbitMQ node of this test only: it may be stopped."""
    h = Hub(tmp_path, postgres_url, f"{private_rabbit.url}?prefix=t-{uuid.uuid4().hex[:10]}")
    h.rabbit = private_rabbit
    print(f"\nprivate RabbitMQ node {private_rabbit.node} started in "
          f"{private_rabbit.start_seconds:.1f} s")
    try:
        yield h
    finally:
        h.close()


def test_broker_stop_and_start_mid_stream(hub_on_private_rabbit):
    hub = hub_on_private_rabbit
    _, headers = partner(hub.ctx)
    hub.serve.start()
    hub.worker()
    sent = 180  # 60 before, 60 while the broker is down, 60 after
    accepted: set[str] = set()
    statuses: list[int] = []
    readiness_while_down = shared_up_while_down = None
    stopped = False
    try:
        with httpx.Client(base_url=hub.serve.url, timeout=30) as client:
            for n in range(sent):
                if n == 60:
                    hub.rabbit.ctl("stop_app")
                    stopped = True
                if n == 120:
                    readiness_while_down = client.get("/readyz")
                    shared_up_while_down = _answers(RABBIT_HOST)
                    hub.rabbit.ctl("start_app")
                    stopped = False
                body = arrears(person(20_000 + n), ref=f"B-{n}", tenancy=f"T-{n}")
                accepted.add(_send(client, body, headers, statuses))
    finally:
        if stopped:
            hub.rabbit.ctl("start_app")
    hub.wait_drained(len(accepted))
    errors = sum(s >= 500 for s in statuses)
    lost, doubled = hub.report("broker stop_app/start_app", sent, accepted,
                               partner_5xx=errors)
    assert errors == 0  # ingest never failed a partner: the outbox buffered
    assert readiness_while_down.status_code == 200  # partners keep coming: the outbox buffers
    assert readiness_while_down.json()["status"] == "degraded"
    assert readiness_while_down.json()["broker"].startswith("unavailable")
    assert shared_up_while_down  # only the test's own node was stopped
    assert len(accepted) == sent
    assert (lost, doubled) == (0, 0)


def test_postgres_restart_mid_stream(tmp_path, private_postgres, broker_url):
    hub = Hub(tmp_path, private_postgres.url, broker_url)
    try:
        _, headers = partner(hub.ctx)
        hub.serve.start()
        hub.worker()
        sent = 300
        accepted: set[str] = set()
        statuses: list[int] = []
        restarter = threading.Thread(target=private_postgres.restart)
        with httpx.Client(base_url=hub.serve.url, timeout=30) as client:
            for n in range(sent):
                if n == 100:
                    restarter.start()  # while the partner keeps sending
                body = arrears(person(30_000 + n), ref=f"P-{n}", tenancy=f"T-{n}")
                accepted.add(_send(client, body, headers, statuses))
        restarter.join(timeout=PATIENCE_SECONDS)
        assert not restarter.is_alive(), "the PostgreSQL restart never finished"
        hub.ctx.engine.dispose()  # the setup context's connections died in the restart
        hub.wait_drained(len(accepted))
        unavailable = statuses.count(503)
        lost, doubled = hub.report("postgres restart", sent, accepted,
                                   partner_503=unavailable, partner_500=statuses.count(500))
        assert set(statuses) <= {202, 503}  # never a 500: 503 with Retry-After, then retried
        assert len(accepted) == sent
        assert (lost, doubled) == (0, 0)
    finally:
        hub.close()


def test_a_revocation_through_the_api_is_enforced_by_another_process_at_once(hub):
    _, woonbron = partner(hub.ctx)
    who = person(40_000)
    register(hub.ctx, who)
    hub.serve.start()
    worker = hub.worker()
    with httpx.Client(base_url=hub.serve.url, timeout=30) as client:
        r = client.post("/api/v1/me/consents", headers=resident(hub.ctx, who), json={
            "source_kinds": ["woningcorporatie"], "categories": ["wonen"], "purpose": "hulp"})
        assert r.status_code == 201, r.text
        consent_id = r.json()["id"]
        first = client.post("/api/v1/messages", json=nuisance(who, ref="N-1"),
                            headers=woonbron).json()["id"]
        hub.wait_drained(1)
        assert hub.delivered() == [first]
        # Revoked through the API process; the very next message goes to the worker process.
        r = client.post(f"/api/v1/me/consents/{consent_id}/revoke",
                        headers=resident(hub.ctx, who))
        assert r.status_code == 200, r.text
        second = client.post("/api/v1/messages", json=nuisance(who, ref="N-2"),
                             headers=woonbron).json()["id"]
        wait_while_moving(hub.unfinished, lambda n: n == 0, "the second message stayed queued")
    with hub.ctx.sessions() as session:
        assert session.get(Message, second).status == "held"
    assert hub.delivered() == [first]
    # And the fanout reached the worker process (it logs that, without the subject).
    wait_until(lambda: worker.log.read_text().count("consent change received") >= 2,
               "the worker process did not log both consent changes")
    log = worker.log.read_text()
    assert log.count("consent change received") == 2  # the grant and the revocation
    assert who.bsn not in log and hub.ctx.pseudonyms.subject(who.bsn) not in log
    with hub.ctx.engine.connect() as conn:
        assert conn.execute(text("select count(*) from inbox_items")).scalar_one() == 1
