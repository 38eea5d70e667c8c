"""No waiting between commit and publish (issue 14).

The poll interval is set to an hour in these tests: every wait below is a
condition with a generous timeout, which runs out only when the wake-up is
missing (then the relay would sit on the row until its next poll).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.app import create_app
from hub.core.context import HubContext, build_context
from hub.core.ingest import ROUTE_TASK, enqueue
from hub.core.migrate import upgrade
from hub.core.models import OutboxEntry
from hub.core.wakeup import OutboxListener, WorkSignal
from hub.settings import Settings
from tests.conftest import CHEAP_KEY_HASHING
from tests.utils.builders import arrears, partner, person, register

AN_HOUR = 3600.0


def wait_for(condition, what: str, timeout: float = 30.0) -> None:
    """Until ``condition()`` holds; fails (naming ``what``) only when it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(what)


def _queue_one(ctx: HubContext, message_id: str, *, commit: bool = True) -> None:
    with ctx.sessions() as session:
        session.begin()
        enqueue(session=session, message_id=message_id, now=ctx.clock(), task=ROUTE_TASK)
        session.flush()
        if commit:
            session.commit()
        else:
            session.rollback()


def test_a_commit_that_queues_work_sets_the_signal_and_nothing_else_does(ctx):
    signal = ctx.work_available
    assert isinstance(signal, WorkSignal)
    calls: list[int] = []
    signal.subscribe(lambda: calls.append(1))
    signal.clear()
    with ctx.sessions() as session, session.begin():
        session.execute(select(OutboxEntry.id))  # a transaction without new work
    _queue_one(ctx, "m-rolled-back", commit=False)
    assert (signal.is_set(), calls) == (False, [])
    _queue_one(ctx, "m-1")
    assert signal.is_set() and calls == [1]


def test_a_replay_back_to_pending_wakes_too(ctx):
    _queue_one(ctx, "m-2")
    with ctx.sessions() as session, session.begin():
        session.scalar(select(OutboxEntry)).status = "dead"
    ctx.work_available.clear()
    with ctx.sessions() as session, session.begin():
        session.scalar(select(OutboxEntry)).status = "pending"
    assert ctx.work_available.is_set()


@contextmanager
def _listening(ctx: HubContext, settings: Settings) -> Iterator[tuple]:
    """An :class:`OutboxListener` on ``ctx``'s engine setting a signal of its own (so
    only the listener sets it, cleared), and another context on the same database,
    standing in for another process."""
    stop = threading.Event()
    signal = WorkSignal()
    listener = OutboxListener(ctx.engine, signal, stop)
    listener.start()
    other = build_context(settings, plugins=ctx.plugins)
    try:
        wait_for(listener.listening.is_set, "the listener did not connect")
        signal.clear()
        yield listener, signal, other
    finally:
        stop.set()
        listener.join()
        other.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_commit_in_another_process_is_heard_through_notify(ctx, settings):
    """Another engine stands in for another process: only NOTIFY reaches this one."""
    with _listening(ctx, settings) as (listener, signal, other):
        _queue_one(other, "m-elsewhere", commit=False)  # rolled back: no notification
        _queue_one(other, "m-3")
        assert signal.wait(30), "no notification arrived for the committed row"
        wait_for(lambda: listener.heard >= 1, "the notification was not counted")
        assert listener.heard == 1  # the rolled-back insert was never announced


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_the_listener_leaves_this_processes_own_commits_to_the_in_process_wake_up(ctx, settings):
    """Its own commit set the signal already, at once; NOTIFY's echo would send the
    readers to read again for nothing. Another process's commit still wakes them."""
    with _listening(ctx, settings) as (listener, signal, other):
        _queue_one(ctx, "m-own")
        wait_for(lambda: listener.heard == 1, "the own commit's notification never came")
        assert not signal.is_set()
        _queue_one(other, "m-other")
        wait_for(lambda: listener.heard == 2, "the other commit's notification never came")
        assert signal.is_set()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_stopping_listener_ends_at_once_not_after_its_idle_wait(ctx):
    # Stopping hub serve or hub worker used to wait out the listener's one-second wait for
    # notifications; join() now wakes it. With the idle wait an hour, only that wake-up
    # can end the thread within join's patience.
    stop = threading.Event()
    listener = OutboxListener(ctx.engine, WorkSignal(), stop)
    listener.idle_seconds = AN_HOUR
    listener.start()
    wait_for(listener.listening.is_set, "the listener did not connect")
    stop.set()
    listener.join(timeout=30)
    assert not listener._thread.is_alive(), "join() did not wake the listener"
    listener.join()  # a second join (as a second stop() would) is harmless


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_own_backends_names_the_engines_open_connections_only(ctx):
    from sqlalchemy import text

    from hub.core.db import own_backends

    with ctx.engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert pid in own_backends(ctx.engine)
    ctx.engine.dispose()  # closes the pooled connections
    assert pid not in own_backends(ctx.engine)


# --- the relay on PostgreSQL + RabbitMQ ---------------------------------------------------


@pytest.fixture
def rabbit_settings(tmp_path, postgres_url, broker_url) -> Settings:
    """``hub serve`` on PostgreSQL and RabbitMQ, polling once an hour."""
    return Settings(env="test", data_dir=tmp_path / "data", database_url=postgres_url,
                    worker_enabled=False, broker_url=broker_url,
                    worker_poll_seconds=AN_HOUR, partner_rate_burst=1_000_000,
                    **CHEAP_KEY_HASHING)


@pytest.fixture
def serving(rabbit_settings) -> Iterator[tuple[HubContext, TestClient]]:
    """The API with its relay running, idle: its first look at the outbox is done."""
    ctx = build_context(rabbit_settings)
    upgrade(ctx.engine)
    try:
        with TestClient(create_app(ctx, run_worker=False)) as client:
            relay = ctx.transport.relay
            wait_for(lambda: relay.connected.is_set() and relay._timer is not None
                     and not relay._batch_open, "the relay did not connect")
            wait_for(ctx.transport.listener.listening.is_set, "the relay does not listen")
            # The listener's connect woke the relay (before it said it listens): let that
            # read finish too, or it may land in a test's count of reads.
            _settled(relay)
            yield ctx, client
    finally:
        ctx.dispose()


def _settled(relay) -> None:
    """Until whatever woke the relay so far has run (a callback queued now has) and its
    batch is finished."""
    reached = threading.Event()
    relay._conn.ioloop.add_callback_threadsafe(reached.set)
    assert reached.wait(30)
    wait_for(lambda: not relay._batch_open, "the relay's batch did not finish")


def _status(ctx: HubContext) -> list[str]:
    with ctx.sessions() as session:
        return list(session.scalars(select(OutboxEntry.status)))


@pytest.mark.postgres
@pytest.mark.rabbitmq
def test_a_posted_message_is_published_without_waiting_for_the_poll(serving):
    ctx, client = serving
    anna = person(141)
    register(ctx, anna)
    _, woonbron = partner(ctx)
    before = ctx.transport.relay.published
    response = client.post("/api/v1/messages", json=arrears(anna, ref="W-1"),
                           headers=woonbron)
    assert response.status_code == 202, response.text
    wait_for(lambda: ctx.transport.relay.published > before,
             "the relay waited for its poll: the commit did not wake it")
    assert _status(ctx) == ["sent"]


@pytest.mark.postgres
@pytest.mark.rabbitmq
def test_a_row_committed_by_another_process_is_published_at_once(serving, rabbit_settings):
    ctx, _client = serving
    other = build_context(rabbit_settings.model_copy(update={"broker_url": ""}))
    try:
        _queue_one(other, "m-from-elsewhere")
        wait_for(lambda: ctx.transport.relay.published >= 1,
                 "the relay waited for its poll: NOTIFY did not wake it")
    finally:
        other.dispose()


@pytest.mark.postgres
@pytest.mark.rabbitmq
def test_a_calm_relay_reads_the_outbox_once_per_commit(serving):
    # After a batch the relay reads again at once only when rows may still be waiting (it
    # read a full batch, or a commit woke it meanwhile); and the NOTIFY echo of its own
    # process's commit does not wake it a second time. Before, every message cost the
    # API's process a second, empty transaction (issue 14).
    ctx, client = serving
    relay, listener = ctx.transport.relay, ctx.transport.listener
    _, woonbron = partner(ctx)
    people = [person(150 + n) for n in range(3)]
    register(ctx, *people)
    ticks, heard, published = relay.ticks, listener.heard, relay.published
    for n, someone in enumerate(people):
        response = client.post("/api/v1/messages", json=arrears(someone, ref=f"C-{n}"),
                               headers=woonbron)
        assert response.status_code == 202, response.text
        wait_for(lambda n=n: relay.published == published + n + 1, "not published")
    wait_for(lambda: listener.heard >= heard + 3, "the notifications never came")
    _settled(relay)
    assert relay.ticks - ticks == 3


@pytest.mark.rabbitmq
@pytest.mark.parametrize("transport_name", ["embedded"])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_stopping_broker_worker_ends_at_once_not_after_its_idle_wait(ctx, broker_url):
    # The same for ``hub worker`` on RabbitMQ: its SIGTERM handler wakes pika's wait.
    from hub.core.transport.broker import parse_broker
    from hub.core.transport.consumer import BrokerWorker

    settings = ctx.settings.model_copy(update={"broker_url": broker_url})
    stop = threading.Event()
    worker = BrokerWorker(ctx, parse_broker(settings), stop)
    worker.idle_seconds = AN_HOUR
    thread = threading.Thread(target=worker.run, name="test-worker", daemon=True)
    thread.start()
    try:
        wait_for(worker.connected.is_set, "the worker did not connect")
        stop.set()
        worker.wake()
        thread.join(timeout=30)
        assert not thread.is_alive(), "wake() did not end the worker's wait"
    finally:
        stop.set()
        worker.wake()
        thread.join(timeout=30)
