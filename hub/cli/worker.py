"""``hub worker``: the RabbitMQ consumers (as many processes on as many machines as needed),
or without a broker the embedded queue's worker in a process of its own."""

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
        return _embedded_worker(settings, serve_fd=args.serve_fd)
    if args.serve_fd is not None:
        raise CommandError("--serve-fd is for hub serve's routing process on the embedded "
                           "queue; with HUB_BROKER_URL run hub worker on its own")
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
        # From a thread of its own: pika's wake-up takes a lock that this (main) thread
        # may hold at the moment the signal came, and a handler waiting on it would hang.
        threading.Thread(target=worker.wake, name="worker-stop", daemon=True).start()

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


def _embedded_worker(settings, *, serve_fd: int | None = None) -> int:
    """Without a broker: route the embedded queue (the outbox table) in this process,
    beside a ``hub serve`` started with ``HUB_WORKER_ENABLED=false``, until SIGTERM.

    The API and the routing then run on two cores instead of sharing one
    interpreter. Woken by every commit that queues work: on SQLite by
    :class:`~hub.core.wakeup.WakeSockets`, on PostgreSQL by ``NOTIFY``; polling
    (``HUB_WORKER_POLL_SECONDS``) is the safety net. On SQLite this process also
    runs the WAL checkpoints (:mod:`hub.core.checkpoint`).

    With ``serve_fd`` this is ``hub serve``'s routing process
    (:mod:`hub.core.transport.worker_process`): it answers hub serve's questions
    for its metrics on that socket, and stops when hub serve has ended.
    """
    from hub.core.checkpoint import checkpoint_in_background
    from hub.core.db import sqlite_file
    from hub.core.wakeup import WakeSockets, WorkSignal, listen_if_postgres
    from hub.core.worker import OutboxWorker

    if serve_fd is None:
        # hub serve's routing process: hub serve said it already, once is enough.
        announce_start(settings)
    ctx = hub_context(settings)
    stop = threading.Event()

    def _stop(signum, _frame) -> None:
        log.info("worker: %s received, finishing", signal.Signals(signum).name)
        stop.set()
        ctx.work_available.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    database = sqlite_file(ctx.engine)
    checkpointer = checkpoint_in_background(ctx.engine) if database is not None else None
    listener = waking = None
    if isinstance(ctx.work_available, WorkSignal):
        if database is not None:
            try:
                waking = WakeSockets(database).listen(ctx.work_available, stop)
            except OSError as exc:  # a path too long for a socket, say: polling only
                log.warning("worker: no wake-up socket (%s); polling every %ss",
                            type(exc).__name__, settings.worker_poll_seconds)
        else:
            listener = listen_if_postgres(ctx.engine, ctx.work_available, stop)
    if serve_fd is not None:
        from hub.core.transport.worker_process import serve_parent

        def _parent_gone() -> None:
            stop.set()
            ctx.work_available.set()

        try:
            serve_parent(serve_fd, ctx.metrics.counted_families, _parent_gone)
        except OSError:
            raise CommandError(f"--serve-fd {serve_fd} is not a socket; it is for "
                               "hub serve to set") from None
        metrics = None  # hub serve shows this process's counts on its own /metrics
    else:
        metrics = start_metrics_listener(ctx)
    freeze_startup_objects()
    log.info("worker: routing the embedded queue")
    try:
        OutboxWorker(ctx).run_forever(stop)
    finally:
        stop.set()
        if listener is not None:
            listener.join()
        if waking is not None:
            waking.join(5)  # it removes its socket file
        if checkpointer is not None:
            checkpointer.stop()
        if metrics is not None:
            metrics.close()
        ctx.dispose()
    return 0


def register(sub) -> None:
    """Add this module's commands to the ``hub`` grammar."""
    worker = add_command(sub, "worker", cmd_worker,
                         "route the queued work: from RabbitMQ (HUB_BROKER_URL), or "
                         "the embedded queue beside hub serve with HUB_WORKER_ENABLED=false")
    worker.add_argument("--prefetch", type=int, default=None,
                        help="unacked deliveries per worker (default HUB_BROKER_PREFETCH)")
    worker.add_argument("--serve-fd", type=int, default=None, metavar="FD",
                        help="(set by hub serve for its routing process: the socket to it)")
