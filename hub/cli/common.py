"""What every ``hub`` sub-command shares: the hub it works on, and how it fails."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from hub.settings import Settings

if TYPE_CHECKING:
    from hub.core.context import HubContext

Command = Callable[[argparse.Namespace], int]


class CommandError(Exception):
    """A mistake the operator can fix: ``hub`` prints it as one line and exits 2."""


def hub_context(settings: Settings | None = None) -> HubContext:
    """Build the hub from its settings and bring its database to the newest schema."""
    from hub.core.context import build_context
    from hub.core.migrate import upgrade
    from hub.core.residents import key_all_legacy_names
    from hub.core.source_refs import seal_all_legacy_refs

    ctx = build_context(settings or Settings())
    upgrade(ctx.engine)
    # Data steps that need the hub's keys, which Alembic does not have (migrations 0012
    # and 0021).
    seal_all_legacy_refs(ctx)
    key_all_legacy_names(ctx)
    return ctx


def announce_start(settings: Settings, *, host: str | None = None) -> None:
    """Refuse a development hub listening beyond loopback; log the mode's one warning line.

    For the long-running commands (``hub serve``, ``hub worker``), at every start.
    """
    from hub.core.mode import UnsafeListen, announce, check_listen

    try:
        if host is not None:
            check_listen(settings, host, what="--host")
        if settings.metrics_port is not None:
            check_listen(settings, settings.metrics_addr, what="HUB_METRICS_ADDR")
    except UnsafeListen as exc:
        raise CommandError(str(exc)) from None
    announce(settings)


def add_command(parent, name: str, func: Command, help_: str) -> argparse.ArgumentParser:
    """Add a sub-command under ``parent`` that runs ``func`` with the parsed arguments."""
    parser = parent.add_parser(name, help=help_, description=help_)
    parser.set_defaults(func=func)
    return parser


def add_group(parent, name: str, help_: str):
    """Add a command group (``hub db …``) and return the place to add its commands."""
    group = parent.add_parser(name, help=help_, description=help_)
    return group.add_subparsers(dest=f"{name}_command", required=True)


def start_metrics_listener(ctx: HubContext):
    """Serve this process's metrics on ``HUB_METRICS_PORT`` when it is set; else None.

    For ``hub serve`` (which also has ``/metrics`` on its API port) and ``hub worker``
    (which has no other). Close the returned listener when the process ends.
    """
    if ctx.settings.metrics_port is None:
        return None
    from hub.core.metrics_server import serve_metrics

    return serve_metrics(ctx)


def freeze_startup_objects() -> None:
    """Move everything alive now out of the garbage collector's reach; for a long-running
    process (``hub serve``, ``hub worker``), once it has started, before it serves.

    The hub starts with a few hundred thousand objects that live as long as the
    process (modules, FastAPI and pydantic models, the FHIR classes, SQLAlchemy's
    tables). CPython's full collection walked all of them each time: under load,
    about once a second, 80-100 ms with the GIL held, in which no request was
    answered and no message routed (issue 14: most of the p99). Frozen
    (``gc.freeze``), they are never walked again; what the process makes later is
    collected as before. Garbage made during start-up is collected first, so
    nothing collectable is frozen.
    """
    import gc

    gc.collect()
    gc.freeze()
