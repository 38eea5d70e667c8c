"""RabbitMQ specifics: topology, names, bad broker messages, readiness, bad configuration."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pika
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.app import create_app
from hub.core.context import build_context
from hub.core.migrate import upgrade
from hub.core.models import DeadLetter, InboxItem, OutboxEntry
from hub.core.transport import topology
from hub.core.transport.broker import BrokerConfigError, parse_broker
from hub.settings import Settings
from tests.utils.builders import arrears, operator, partner, person, register
from tests.utils.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.rabbitmq


@pytest.fixture
def transport_name() -> str:
    """These tests are about RabbitMQ only."""
    return "rabbitmq"


def _publish(transport, exchange: str, key: str, body: bytes, **props) -> None:
    conn = pika.BlockingConnection(transport.broker.parameters)
    try:
        channel = conn.channel()
        channel.confirm_delivery()
        channel.basic_publish(exchange, key, body, pika.BasicProperties(**props))
    finally:
        conn.close()


def _dead_letters(ctx) -> list[DeadLetter]:
    with ctx.sessions() as session:
        return list(session.scalars(select(DeadLetter).order_by(DeadLetter.id)))


@pytest.mark.parametrize(("body", "reason"), [
    (b"not json {", "body is not JSON (JSONDecodeError)"),
    (b'{"outbox_id": "x", "task": "route"}',
     "body is not a TaskRef (bad fields: message_id, outbox_id)"),
    (b'{"outbox_id": 424242, "message_id": "m", "task": "route"}', "no outbox row 424242"),
    (b'{"task": "route", "rows": [{"outbox_id": 1, "message_id": "m", "task": "route"},'
     b' {"outbox_id": 2, "message_id": "n", "task": "deliver"}]}',
     "body is not a TaskBatch (bad fields: rows)"),
    (b'{"task": "route", "rows": [{"outbox_id": 1, "message_id": "m", "task": "route"}]}',
     "body is not a TaskBatch (bad fields: rows)"),
])
def test_a_broker_message_that_does_not_parse_is_dead_lettered_with_its_reason(
        ctx, client, transport, body, reason):
    broker = transport.broker
    _publish(transport, broker.tasks_exchange, "task.route", body, delivery_mode=2)
    transport.wait_for(lambda: _dead_letters(ctx), "never dead-lettered")
    (dead,) = _dead_letters(ctx)
    assert (dead.reason, dead.source, dead.message_id) == (reason, "rabbitmq", None)
    # Kept sealed for inspection, never in clear.
    assert body.decode(errors="replace") not in dead.body_sealed
    opened = ctx.cipher.open(dead.body_sealed, context=f"dead-letter:{dead.key}")
    assert opened["body_b64"]
    r = client.post(f"/api/v1/ops/dead-letters/{dead.id}/replay", headers=operator(ctx))
    assert r.status_code == 409
    # The queue is not blocked: a real message still goes through.
    _, woonbron = partner(ctx)
    assert client.post("/api/v1/messages", json=arrears(person(4000), ref="A-1"),
                       headers=woonbron).status_code == 202
    transport.drain()
    with ctx.sessions() as session:
        assert len(session.scalars(select(InboxItem)).all()) == 1


def test_what_the_broker_dead_letters_lands_in_the_store(ctx, client, transport):
    _, woonbron = partner(ctx)
    # The broker gives up on a task in flight (as after a policy's delivery limit) and
    # dead-letters it; the worker moves it into the store and the outbox row is dead.
    assert client.post("/api/v1/messages", json=arrears(person(4100), ref="B-1"),
                       headers=woonbron).status_code == 202
    transport.drain()
    with ctx.sessions() as session:
        entry = session.scalar(select(OutboxEntry))
    with ctx.sessions() as session, session.begin():
        session.get(OutboxEntry, entry.id).status = "sent"  # as if still in flight
    body = (f'{{"outbox_id": {entry.id}, "message_id": "{entry.message_id}", '
            f'"task": "route"}}').encode()
    _publish(transport, transport.broker.dead_exchange, "", body,
             headers={"x-first-death-reason": "delivery_limit"})
    transport.wait_for(lambda: _dead_letters(ctx), "never reached the store")
    (dead,) = _dead_letters(ctx)
    assert dead.reason == "dead-lettered by the broker (delivery_limit)"
    assert dead.message_id == entry.message_id
    with ctx.sessions() as session:
        assert session.get(OutboxEntry, entry.id).status == "dead"


def test_a_delivery_redelivered_too_often_is_dead_lettered_not_retried(ctx, client, transport):
    # The quorum queue counts deliveries that were never acked (a worker died on them).
    _, woonbron = partner(ctx)
    transport.stop.set()
    transport.thread.join(timeout=30)
    assert client.post("/api/v1/messages", json=arrears(person(4200), ref="C-1"),
                       headers=woonbron).status_code == 202
    with ctx.sessions() as session:
        entry = session.scalar(select(OutboxEntry))
    transport.wait_for(lambda: _status(ctx, entry.id) == "sent", "relay did not publish")
    limit = ctx.settings.broker_delivery_limit
    conn = pika.BlockingConnection(transport.broker.parameters)
    try:
        channel = conn.channel()
        for _ in range(limit):
            method, _props, _body = _get(channel, transport.broker.task_queue("route"))
            channel.basic_nack(method.delivery_tag, requeue=True)
    finally:
        conn.close()
    transport.restart()
    transport.wait_for(lambda: _dead_letters(ctx), "never dead-lettered")
    (dead,) = _dead_letters(ctx)
    assert dead.reason == f"delivered {limit + 1} times without an ack (a worker stopped on it)"
    with ctx.sessions() as session:
        assert session.scalars(select(InboxItem)).all() == []


def _status(ctx, entry_id: int) -> str:
    with ctx.sessions() as session:
        return session.get(OutboxEntry, entry_id).status


def _get(channel, queue: str):
    got = wait_until(lambda: (lambda m, p, b: (m, p, b) if m is not None else None)(
        *channel.basic_get(queue)), f"nothing arrived on {queue}")
    return got


def test_the_topology_is_declared_idempotently_under_the_prefix_and_vhost(
        rabbit_vhost, broker_url):
    settings = Settings(broker_url=broker_url, max_attempts=3, retry_base_seconds=0.5)
    broker = parse_broker(settings)
    assert broker.parameters.virtual_host == rabbit_vhost
    assert broker.prefix == parse_qs(urlsplit(broker_url).query)["prefix"][0]
    conn = pika.BlockingConnection(broker.parameters)
    try:
        channel = conn.channel()
        topology.declare(channel, broker, settings)
        topology.declare(channel, broker, settings)  # again: no error, nothing changes
        for queue in (broker.task_queue("route"), broker.dead_queue,
                      broker.retry_queue("route", 500), broker.retry_queue("route", 1000)):
            channel.queue_declare(queue, passive=True)
        # Another hub's prefix on the same broker has none of these queues.
        other = parse_broker(Settings(broker_url=broker_url.replace("prefix=", "prefix=o")))
        with pytest.raises(pika.exceptions.ChannelClosedByBroker):
            channel.queue_declare(other.task_queue("route"), passive=True)
    finally:
        if conn.is_open:
            conn.close()


@pytest.mark.parametrize(("url", "reason"), [
    ("amqp://", "HUB_BROKER_URL must look like amqp://user:password@host/vhost"),
    ("amqp://guest:secret@host:notaport/", "HUB_BROKER_URL is not a valid URL"),
    ("amqp://guest:secret@host/?prefix=Bad!", "HUB_BROKER_URL prefix must be"),
    ("amqp://guest:secret@host/?heartbeat=x", "HUB_BROKER_URL amqp://host/: "),
])
def test_a_bad_broker_url_is_one_clear_error(url, reason):
    with pytest.raises(BrokerConfigError) as err:
        parse_broker(Settings(broker_url=url))
    assert str(err.value).startswith(reason)
    assert "secret" not in str(err.value)


def test_readyz_names_the_broker_and_ingest_goes_on_while_it_is_down(tmp_path, database_url,
                                                                     rabbit_vhost):
    settings = Settings(env="test", data_dir=tmp_path / "data", database_url=database_url,
                        broker_url="amqp://guest:guest@127.0.0.1:1/?prefix=down",
                        broker_reconnect_max_seconds=0.5)
    ctx = build_context(settings)
    upgrade(ctx.engine)
    try:
        _, woonbron = partner(ctx)
        with TestClient(create_app(ctx), raise_server_exceptions=False) as client:
            r = client.get("/readyz")
            # Still ready for partners (the outbox buffers), but it says what is down.
            assert r.status_code == 200
            assert r.json()["status"] == "degraded"
            assert r.json()["database"] == "ok"
            assert r.json()["broker"].startswith("unavailable")
            # The outbox buffers: partners can still deliver.
            r = client.post("/api/v1/messages", json=arrears(person(4300), ref="Z-1"),
                            headers=woonbron)
            assert r.status_code == 202
        with ctx.sessions() as session:
            assert session.scalar(select(OutboxEntry.status)) == "pending"
    finally:
        ctx.dispose()


def test_readyz_is_ready_when_database_and_broker_answer(ctx, client, transport):
    transport.wait_for(lambda: client.get("/readyz").status_code == 200, "never ready")
    assert client.get("/readyz").json() == {"status": "ready", "database": "ok",
                                            "broker": "ok"}


def _hub(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "hub.cli", *args], capture_output=True,
                          text=True, env=environ, cwd=REPO, timeout=120)


@pytest.mark.parametrize(("url", "expected"), [
    ("http://broker/", "error: configuration: HUB_BROKER_URL: HUB_BROKER_URL "
                       "must be an amqp:// or amqps:// URL"),
    ("amqp://guest:secret@127.0.0.1:1/", "error: cannot reach the broker at "
                                         "amqp://127.0.0.1:1/: AMQPConnectionError"),
    ("amqp://guest:secret@127.0.0.1:5672/%2F?prefix=NO", "error: HUB_BROKER_URL prefix"),
])
def test_hub_worker_with_a_bad_or_unreachable_broker_fails_in_one_line(tmp_path, url,
                                                                       expected):
    result = _hub(["worker"], {"HUB_DATA_DIR": str(tmp_path / "data"),
                               "HUB_BROKER_URL": url})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(expected), result.stderr
    assert "Traceback" not in result.stderr
    assert "secret" not in result.stderr


def test_hub_dead_letters_list_and_replay(tmp_path, capsys, monkeypatch):
    from hub.cli import main
    from hub.core import deadletters

    data = tmp_path / "data"
    monkeypatch.setenv("HUB_DATA_DIR", str(data))
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    monkeypatch.delenv("HUB_BROKER_URL", raising=False)
    ctx = build_context(Settings())
    upgrade(ctx.engine)
    try:
        _, woonbron = partner(ctx)
        with TestClient(create_app(ctx, run_worker=False)) as client:
            message_id = client.post("/api/v1/messages", json=arrears(person(4400), ref="L-1"),
                                     headers=woonbron).json()["id"]
        with ctx.sessions() as session, session.begin():
            entry = session.scalar(select(OutboxEntry))
            entry.status = "dead"
            deadletters.record(session=session, key=f"outbox:{entry.id}", source="embedded",
                               task="route", outbox_id=entry.id, message_id=message_id,
                               attempts=5, reason="failed 5 times; last error: RuntimeError",
                               now=ctx.clock())
            deadletters.record(session=session, key=f"broker:{uuid.uuid4().hex}",
                               source="rabbitmq", reason="body is not JSON (JSONDecodeError)",
                               now=ctx.clock())
        assert main(["dead-letters", "list"]) == 0
        out = capsys.readouterr().out
        assert "failed 5 times" in out and "2 of 2 dead letters (open)" in out
        assert main(["dead-letters", "replay", "1"]) == 0
        assert f"message {message_id} requeued" in capsys.readouterr().out
        assert main(["dead-letters", "replay", "2"]) == 2
        assert "dead letter 2: nothing to replay" in capsys.readouterr().err
        assert main(["dead-letters", "replay", "77"]) == 2
        assert "dead letter 77: not found" in capsys.readouterr().err
        with ctx.sessions() as session:
            statuses = sorted(session.scalars(select(OutboxEntry.status)))
        assert statuses == ["dead", "pending"]  # the replay is new work on the queue
    finally:
        ctx.dispose()


def test_a_broker_dead_letter_naming_no_outbox_row_is_kept_not_dropped(ctx, client, transport):
    body = b'{"outbox_id": 999999, "message_id": "m-1", "task": "route"}'
    _publish(transport, transport.broker.dead_exchange, "", body,
             headers={"x-first-death-reason": "rejected"})
    transport.wait_for(lambda: _dead_letters(ctx), "dropped silently")
    (dead,) = _dead_letters(ctx)
    assert dead.reason == "dead-lettered by the broker (rejected); no outbox row 999999"
    assert dead.body_sealed is not None


def _count_routing(ctx, transport, monkeypatch, **settings) -> tuple[list, list]:
    """Restart the test's worker with ``settings``; note the rows of each ``run_tasks``
    call (one transaction) and the ``multiple`` flag of each ack, in order."""
    from pika.adapters.blocking_connection import BlockingChannel

    from hub.core.transport import consumer

    batches: list[list[int]] = []
    acks: list[bool] = []
    route, ack = consumer.run_tasks, BlockingChannel.basic_ack

    def counted_route(context, entry_ids, *args, **kwargs):
        batches.append(list(entry_ids))
        return route(context, entry_ids, *args, **kwargs)

    def counted_ack(channel, delivery_tag=0, multiple=False):
        acks.append(multiple)
        return ack(channel, delivery_tag, multiple)

    monkeypatch.setattr(consumer, "run_tasks", counted_route)
    monkeypatch.setattr(BlockingChannel, "basic_ack", counted_ack)
    former = transport.worker_ctx
    transport.worker_ctx = build_context(ctx.settings.model_copy(update=settings),
                                         plugins=ctx.plugins, clock=ctx.clock)
    former.dispose()
    transport.restart()
    return batches, acks


def test_a_window_larger_than_the_route_batch_is_routed_and_acked_batch_by_batch(
        ctx, client, transport, monkeypatch):
    # Issue 14: the prefetch window (here 20) keeps deliveries coming while a batch
    # (HUB_ROUTE_BATCH, here 5) is routed; each batch is one transaction and one
    # multiple ack after its commit, and the deliveries held back go next.
    _, woonbron = partner(ctx)
    transport.stop.set()
    transport.thread.join(timeout=30)
    sent = 23
    for n in range(sent):
        assert client.post("/api/v1/messages", json=arrears(person(4300 + n), ref=f"W-{n}"),
                           headers=woonbron).status_code == 202
    with ctx.sessions() as session:
        ids = list(session.scalars(select(OutboxEntry.id)))
    transport.wait_for(lambda: all(_status(ctx, i) == "sent" for i in ids),
                       "the relay did not publish")
    # The 23 wait in the queue: 20 arrive at once.
    routed, acks = _count_routing(ctx, transport, monkeypatch, route_batch=5,
                                  broker_prefetch=20)
    transport.drain()
    batches = [len(rows) for rows in routed]
    assert sum(batches) == sent
    assert max(batches) == 5
    assert len(acks) == len(batches) and all(acks)
    with ctx.sessions() as session:
        assert len(session.scalars(select(InboxItem)).all()) == sent


def _csv(refs: list[str], first: int) -> bytes:
    header = "source_ref,name,birthdate,postcode,huisnummer,bsn,amount_eur,months,since,tenancy_ref"
    lines = [header]
    for n, ref in enumerate(refs):
        who = person(first + n)
        lines.append(f"{ref},{who.name},,{who.postcode},{who.huisnummer},,500.00,2,2026-09-01,"
                     f"T-{ref}")
    return "\n".join(lines).encode()


def _published_together(ctx, client, transport, n: int, *, first: int) -> list[int]:
    """Stop the worker, store ``n`` registered residents' signals with one CSV request
    (one transaction) and wait until the relay published them; their outbox ids."""
    register(ctx, *(person(first + k) for k in range(n)))
    _, woonbron = partner(ctx)
    transport.stop.set()
    transport.thread.join(timeout=30)
    r = client.post("/api/v1/messages/batch", content=_csv([f"B-{k}" for k in range(n)], first),
                    headers={**woonbron, "Content-Type": "text/csv"})
    assert r.status_code == 202 and r.json()["status"] == "done"
    with ctx.sessions() as session:
        ids = list(session.scalars(select(OutboxEntry.id).order_by(OutboxEntry.id)))
    assert len(ids) == n
    transport.wait_for(lambda: all(_status(ctx, i) == "sent" for i in ids),
                       "the relay did not publish")
    return ids


def test_a_message_of_more_rows_than_the_workers_batch_is_routed_in_batches_then_acked(
        ctx, client, transport, monkeypatch):
    # The relay's HUB_ROUTE_BATCH (100) may exceed a worker's (here 3): the worker routes
    # the seven rows of one message in transactions of three, and acks once, after all.
    ids = _published_together(ctx, client, transport, 7, first=4650)
    batches, acks = _count_routing(ctx, transport, monkeypatch, route_batch=3)
    transport.drain()
    assert batches == [ids[:3], ids[3:6], ids[6:]]
    assert acks == [True]
    with ctx.sessions() as session:
        assert len(session.scalars(select(InboxItem)).all()) == 7


def test_rows_committed_together_travel_as_one_message_and_are_routed_together(
        ctx, client, transport, monkeypatch):
    # Issue 14: one message per outbox row gave each of four workers batches of one or
    # two. The relay now sends the rows one commit queued as one message (a TaskBatch),
    # so one worker routes them in one transaction whatever the number of workers.
    from hub.core.transport import consumer
    from hub.core.transport.messages import decode_tasks

    ids = _published_together(ctx, client, transport, 7, first=4600)
    conn = pika.BlockingConnection(transport.broker.parameters)
    try:
        channel = conn.channel()
        queue = transport.broker.task_queue("route")
        method, props, body = _get(channel, queue)
        assert channel.queue_declare(queue, passive=True).method.message_count == 0
        assert [ref.outbox_id for ref in decode_tasks(body)] == ids
        assert props.message_id == f"outbox:{ids[0]}+6"
        assert props.delivery_mode == 2
        channel.basic_nack(method.delivery_tag, requeue=True)
    finally:
        conn.close()
    batches: list[list[int]] = []
    route = consumer.run_tasks

    def counted_route(context, entry_ids, *args, **kwargs):
        batches.append(list(entry_ids))
        return route(context, entry_ids, *args, **kwargs)

    monkeypatch.setattr(consumer, "run_tasks", counted_route)
    transport.restart()
    transport.drain()
    assert batches == [ids]
    with ctx.sessions() as session:
        assert len(session.scalars(select(InboxItem)).all()) == 7


def test_a_failing_row_of_a_message_of_several_is_retried_alone(ctx, client, transport,
                                                                monkeypatch):
    # The others of its message are routed and acked; the failing row goes to the retry
    # queue as a message of its own (its delay and attempts are its own), then dead.
    from hub.core.transport import consumer
    from hub.core.transport.tasks import Outcome

    register(ctx, *(person(4700 + n) for n in range(4)))
    _, woonbron = partner(ctx)
    route = consumer.run_tasks
    retried: list[bytes] = []
    batches: list[int] = []
    publish = pika.adapters.blocking_connection.BlockingChannel.basic_publish

    def failing_route(context, entry_ids, *args, **kwargs):
        batches.append(len(entry_ids))
        bad = min(entry_ids)
        outcomes = route(context, [i for i in entry_ids if i != bad], *args, **kwargs)
        return {**outcomes, bad: Outcome("failed", RuntimeError("boom"))}

    def noted_publish(channel, exchange, routing_key, body, properties=None, mandatory=False):
        if exchange == transport.broker.retry_exchange:
            retried.append(body)
        return publish(channel, exchange, routing_key, body, properties, mandatory)

    monkeypatch.setattr(consumer, "run_tasks", failing_route)
    monkeypatch.setattr(pika.adapters.blocking_connection.BlockingChannel, "basic_publish",
                        noted_publish)
    r = client.post("/api/v1/messages/batch", content=_csv([f"F-{n}" for n in range(4)], 4700),
                    headers={**woonbron, "Content-Type": "text/csv"})
    assert r.status_code == 202
    with ctx.sessions() as session:
        first = min(session.scalars(select(OutboxEntry.id)))
    transport.wait_for(lambda: _status(ctx, first) == "dead", "the failing row never died")
    transport.drain()
    from hub.core.transport.messages import decode_tasks

    # The four came in one message; each retry names the failing row alone: attempts
    # 1 and 2 of max_attempts 3.
    assert batches == [4, 1, 1]
    assert [[ref.outbox_id for ref in decode_tasks(body)] for body in retried] == [[first]] * 2
    with ctx.sessions() as session:
        assert len(session.scalars(select(InboxItem)).all()) == 3
        statuses = dict(session.execute(select(OutboxEntry.id, OutboxEntry.status)).all())
    assert statuses.pop(first) == "dead"
    assert set(statuses.values()) == {"done"}


def test_a_row_whose_broker_message_was_lost_is_published_again(ctx, client, transport, clock,
                                                                 caplog):
    # Published rows are "sent" until a worker finishes them. A message the broker loses
    # (here: a purged queue) would leave its row waiting for ever; after
    # HUB_RELAY_RESEND_SECONDS the relay puts it back in the queue, and only then.
    from datetime import timedelta

    caplog.set_level(logging.WARNING, logger="hub.core.transport.relay")
    _, woonbron = partner(ctx)
    transport.stop.set()
    transport.thread.join(timeout=30)
    body = arrears(person(4800), ref="L-1")
    assert client.post("/api/v1/messages", json=body, headers=woonbron).status_code == 202
    with ctx.sessions() as session:
        entry_id = session.scalar(select(OutboxEntry.id))
    transport.wait_for(lambda: _status(ctx, entry_id) == "sent", "the relay did not publish")
    queue = transport.broker.task_queue("route")
    conn = pika.BlockingConnection(transport.broker.parameters)
    try:
        channel = conn.channel()
        assert channel.queue_purge(queue).method.message_count == 1
    finally:
        conn.close()
    relay = ctx.transport.relay
    published = relay.published

    def tick_after(seconds: float) -> None:
        clock.now += timedelta(seconds=seconds)
        ticks = relay.ticks
        relay.wake()
        transport.wait_for(lambda: relay.ticks > ticks, "the relay did not wake")

    # Within the window: a slow message is left alone.
    tick_after(ctx.settings.relay_resend_seconds / 2)
    assert _status(ctx, entry_id) == "sent" and relay.published == published
    # Past it: published again, once, and routed.
    tick_after(ctx.settings.relay_resend_seconds)
    transport.wait_for(lambda: relay.published == published + 1, "not published again")
    transport.restart()
    transport.drain()
    with ctx.sessions() as session:
        assert len(session.scalars(select(InboxItem)).all()) == 1
        assert session.get(OutboxEntry, entry_id).status == "done"
    (warning,) = [m for m in (r.getMessage() for r in caplog.records)
                  if "publishing them again" in m]
    assert warning.startswith("outbox relay: 1 rows published over 3600 s ago")
    assert body["subject"]["name"] not in caplog.text
