"""Running the hub: ``hub serve``, ``hub db upgrade``, ``hub plugins`` and ``hub demo``."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from hub.cli.common import (
    CommandError,
    add_command,
    add_group,
    announce_start,
    freeze_startup_objects,
    hub_context,
    start_metrics_listener,
)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the API and the embedded queue's worker, in a child process or a thread (with
    RabbitMQ: the outbox relay), until stopped."""
    import uvicorn

    from hub.api.tls import uvicorn_tls_options
    from hub.app import create_app
    from hub.core.db import warn_if_autovacuum_off
    from hub.core.transport import quiet_pika, worker_process
    from hub.core.transport.broker import BrokerConfigError
    from hub.settings import Settings

    quiet_pika()
    settings = Settings()
    announce_start(settings, host=args.host)
    ctx = hub_context(settings)
    warn_if_autovacuum_off(ctx.engine)
    try:
        # The embedded queue's routing in a child process when the machine has the cores.
        app = create_app(ctx, worker_process=worker_process.wanted(settings))
    except BrokerConfigError as exc:
        raise CommandError(str(exc)) from None
    # uvicorn shuts down gracefully on SIGTERM/SIGINT (the relay or worker thread finishes
    # in lifespan) and then re-raises the signal; this handler makes that a clean exit 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _after_graceful_shutdown)
    metrics = start_metrics_listener(ctx)
    freeze_startup_objects()
    try:
        # log_config=None: uvicorn's own lines go through the hub's handler (HUB_LOG_FORMAT).
        # TLS (and optional client certificates) when HUB_TLS_CERT_FILE is set.
        uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=False,
                    log_config=None, **uvicorn_tls_options(ctx.settings))
    finally:
        if metrics is not None:
            metrics.close()
    return 0


def _after_graceful_shutdown(_signum, _frame) -> None:
    """Nothing left to do: uvicorn has stopped the app already."""


def cmd_db_upgrade(_args: argparse.Namespace) -> int:
    """Apply the migrations to the configured database."""
    hub_context()
    print("database is up to date")
    return 0


def cmd_plugins(_args: argparse.Namespace) -> int:
    """List each loaded plugin with the message types it serves."""
    from hub.core.plugins import load_plugins

    for entry in load_plugins().describe():
        types = ", ".join(entry["message_types"]) or "(no message types)"
        print(f"{entry['name']:<20} {types}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Walk the demo story on a fresh data directory."""
    from hub.demo import run_demo

    return run_demo(data_dir=args.data_dir)


def register(sub) -> None:
    """Add this module's commands to the ``hub`` grammar."""
    serve = add_command(sub, "serve", cmd_serve, "run the API and the embedded worker")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)

    db = add_group(sub, "db", "database maintenance")
    add_command(db, "upgrade", cmd_db_upgrade, "apply the migrations")

    add_command(sub, "plugins", cmd_plugins, "list loaded plugins and their message types")

    demo = add_command(sub, "demo", cmd_demo, "walk the demo story on a fresh data directory")
    demo.add_argument("--data-dir", type=Path, default=None,
                      help="an empty directory to use and keep for exploring afterwards "
                           "(default: a temporary one, removed at the end)")
