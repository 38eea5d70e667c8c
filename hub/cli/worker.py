"""``hub worker``: the RabbitMQ consumers, as many processes on as many machines as needed."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from hub.cli.common import (
    CommandError,
    add_command,
    announce_start,
    freeze_startup_objects,
    hub_context,
    start_metrics_listener,
)

log = logging.getLogger(__name__)


def cmd_worker(args: argparse.Namespace) -> int:
    """Consume until SIGTERM or SIGINT: finish the delivery in hand, ack it, stop."""
    import pika.exceptions

    from hub.core.db import warn_if_autovacuum_off
    from hub.core.transport import quiet_pika
    from hub.core.transport.broker import BrokerConfigError, parse_broker
    from hub.core.transport.consumer import BrokerWorker
    from hub.settings import Settings

    quiet_pika()
    settings = Settings()
    if not settings.broker_url:
        raise CommandError("hub worker needs HUB_BROKER_URL (amqp://…); without it "
                           "hub serve runs the embedded worker itself")
    if args.prefetch is not None:
        settings = settings.model_copy(update={"broker_prefetch": args.prefetch})
    try:
        broker = parse_broker(settings)
    except BrokerConfigError as exc:
        raise CommandError(str(exc)) from None
    announce_start(settings)
    ctx = hub_context(settings)
    warn_if_autovacuum_off(ctx.engine)
    stop = threading.Event()
    worker = BrokerWorker(ctx, broker, stop)
    try:
        worker.check_connection()
    except pika.exceptions.AMQPError as exc:
        # Fail fast at start (a typo, a broker that is not there); later outages are retried.
        raise CommandError(f"cannot reach the broker at {broker.display}: "
                           f"{type(exc).__name__}") from None

    def _stop(signum, _frame) -> None:
        log.info("worker: %s received, finishing", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    # Each worker process counts its own routing; HUB_METRICS_PORT lets Prometheus scrape it.
    metrics = start_metrics_listener(ctx)
    freeze_startup_objects()
    try:
        worker.run()
    finally:
        if metrics is not None:
            metrics.close()
        ctx.dispose()
    return 0


def register(sub) -> None:
    """Add this module's commands to the ``hub`` grammar."""
    worker = add_command(sub, "worker", cmd_worker,
                         "consume work from RabbitMQ (needs HUB_BROKER_URL)")
    worker.add_argument("--prefetch", type=int, default=None,
                        help="unacked deliveries per worker (default HUB_BROKER_PREFETCH)")
