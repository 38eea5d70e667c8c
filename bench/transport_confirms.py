"""Publisher confirms: one blocking wait per message against the relay's asynchronous batches.

    .venv/bin/python bench/transport_confirms.py [MESSAGES]

Publishes MESSAGES persistent messages to a throw-away quorum queue twice: with
pika's BlockingChannel in confirm mode (each publish waits for its confirm) and
the way the outbox relay does it (SelectConnection, publish a batch, count the
asynchronous acks). Prints both rates and their ratio; the figure that matters
is the ratio, not the absolute speed of this machine.
"""

from __future__ import annotations

import os
import sys
import time
import uuid

import pika

URL = os.environ.get("HUB_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672") + "/%2F"
BODY = b'{"outbox_id": 1, "message_id": "00000000-0000-0000-0000-000000000000", "task": "route"}'
PROPS = pika.BasicProperties(delivery_mode=2, content_type="application/json")


def one_wait_per_message(queue: str, n: int, url: str = URL) -> float:
    """Seconds to publish ``n`` messages, each waiting for its confirm."""
    conn = pika.BlockingConnection(pika.URLParameters(url))
    channel = conn.channel()
    channel.confirm_delivery()
    started = time.perf_counter()
    for _ in range(n):
        channel.basic_publish("", queue, BODY, PROPS)
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def asynchronous_batches(queue: str, n: int, batch: int = 500, url: str = URL) -> float:
    """Seconds to publish ``n`` messages in batches of ``batch``, counting asynchronous acks."""
    state = {"sent": 0, "acked": 0, "inflight": 0, "started": 0.0, "elapsed": 0.0}

    def publish_batch(channel) -> None:
        count = min(batch, n - state["sent"])
        for _ in range(count):
            channel.basic_publish("", queue, BODY, PROPS)
        state["sent"] += count
        state["inflight"] = count

    def on_confirm(frame) -> None:
        tag = frame.method.delivery_tag
        done = tag - state["acked"] if frame.method.multiple else 1
        state["acked"] += done
        state["inflight"] -= done
        if state["inflight"] == 0:
            if state["sent"] < n:
                publish_batch(frame_channel[0])
            else:
                state["elapsed"] = time.perf_counter() - state["started"]
                conn.close()

    frame_channel: list = []

    def on_channel(channel) -> None:
        frame_channel.append(channel)
        channel.confirm_delivery(ack_nack_callback=on_confirm,
                                 callback=lambda _f: start(channel))

    def start(channel) -> None:
        state["started"] = time.perf_counter()
        publish_batch(channel)

    conn = pika.SelectConnection(pika.URLParameters(url),
                                 on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
                                 on_close_callback=lambda c, _r: c.ioloop.stop())
    conn.ioloop.start()
    return state["elapsed"]


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    queue = f"bench-confirms-{uuid.uuid4().hex[:8]}"
    admin = pika.BlockingConnection(pika.URLParameters(URL))
    channel = admin.channel()
    channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
    try:
        blocking = one_wait_per_message(queue, n)
        batched = asynchronous_batches(queue, n)
    finally:
        channel.queue_delete(queue)
        admin.close()
    print(f"{n} persistent messages to a quorum queue")
    print(f"  one blocking wait per message: {n / blocking:8.0f} msg/s")
    print(f"  asynchronous batches (relay):  {n / batched:8.0f} msg/s")
    print(f"  ratio: {blocking / batched:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
