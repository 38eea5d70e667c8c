"""Broker limit: what RabbitMQ itself does on this machine, under the hub's queue settings.

    python -m bench broker [--repeat 3] [--messages 3000]

On a private virtual host and a durable quorum queue (as the hub's topology),
persistent messages of the relay's size:

* publish, one blocking confirm per message (pika BlockingChannel) — the
  hand-rolled peer's way;
* publish in asynchronous confirm batches of 500 — the outbox relay's way
  (both from bench/transport_confirms.py);
* consume with manual acks, prefetch 200 (the hub's default), one ack per
  message — the broker's side of the worker's way, without the work (the worker
  acks a batch of 100 with one multiple ack, which costs the broker less).

The hub's delivered rate divided by these is how close it gets to the engine
underneath (docs/performance.md).
"""

from __future__ import annotations

import argparse
import time
import uuid

import pika

from bench import transport_confirms
from bench.common import rabbit_vhost, summary, write_result

PREFETCH = 200  # the hub's default (hub/settings.py broker_prefetch)


def consume(url: str, queue: str, n: int) -> float:
    """Seconds to consume and ack ``n`` messages one by one."""
    conn = pika.BlockingConnection(pika.URLParameters(url))
    channel = conn.channel()
    channel.basic_qos(prefetch_count=PREFETCH)
    started = time.perf_counter()
    for got, (method, _props, _body) in enumerate(
            channel.consume(queue, inactivity_timeout=30), start=1):
        if method is None:
            raise RuntimeError("the queue ran dry before every message was consumed")
        channel.basic_ack(method.delivery_tag)
        if got == n:
            break
    elapsed = time.perf_counter() - started
    channel.cancel()
    conn.close()
    return elapsed


def main(argv: list[str] | None = None) -> int:
    """Run the broker benchmark and write bench/results/broker.json."""
    parser = argparse.ArgumentParser(prog="python -m bench broker",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--messages", type=int, default=3000)
    args = parser.parse_args(argv)
    n = args.messages
    runs: dict[str, list[float]] = {"publish_confirm_each": [], "publish_confirm_batches": [],
                                    "consume_ack_each": []}
    print(f"\n[broker] {n} persistent messages, quorum queue, {args.repeat} runs", flush=True)
    with rabbit_vhost() as url:
        admin = pika.BlockingConnection(pika.URLParameters(url))
        channel = admin.channel()
        for rep in range(args.repeat):
            queue = f"bench-broker-{uuid.uuid4().hex[:8]}"
            channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
            each = transport_confirms.one_wait_per_message(queue, n, url=url)
            batches = transport_confirms.asynchronous_batches(queue, n, url=url)
            consumed = consume(url, queue, 2 * n)
            channel.queue_delete(queue)
            runs["publish_confirm_each"].append(n / each)
            runs["publish_confirm_batches"].append(n / batches)
            runs["consume_ack_each"].append(2 * n / consumed)
            print(f"  rep {rep + 1}: confirm each {n / each:8.0f}/s  batches {n / batches:8.0f}/s"
                  f"  consume {2 * n / consumed:8.0f}/s", flush=True)
        admin.close()
    write_result("broker", figures={k: summary(v) for k, v in runs.items()},
                 extra={"runs": runs, "messages": n})
    return 0
