"""The one place the batch benchmark calls the hub's batch import.

It calls :func:`hub.core.batch.ingest_batch`, the streaming import behind both
``POST /api/v1/messages/batch`` and ``hub batch import``, with the file's lines
as a lazy iterator (chunks of ``HUB_BATCH_CHUNK_LINES`` commit as they go);
:func:`route_all` the embedded worker's batched routing until the outbox is
empty; and :func:`route_alongside` the worker's own loop, as ``hub serve`` runs
it, in a process beside the import. If the import's or the worker's entry point
changes, only these follow it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from hub.core.context import HubContext
from hub.core.models import OutboxEntry

# Whether any outbox row is pending: one index entry, not a count. Counting walks every
# pending row (19 ms at 300,000): once a round over a million lines, that was seconds
# of the figure, and the alongside watcher's count every 50 ms took a core's share.
_ANY_PENDING = select(OutboxEntry.id).where(OutboxEntry.status == "pending").limit(1)


def import_csv(ctx: HubContext, *, partner_name: str, path: Path) -> dict[str, int]:
    """Import the arrears CSV at ``path`` for the partner; the batch's counts."""
    from sqlalchemy import select

    from hub.core.batch import ingest_batch
    from hub.core.models import Partner

    with ctx.sessions() as session:
        partner = session.scalar(select(Partner).where(Partner.name == partner_name))
        session.expunge(partner)
    with path.open(encoding="utf-8", newline="") as lines:
        batch = ingest_batch(ctx=ctx, partner=partner, lines=lines, now=datetime.now(UTC))
    return {"total": batch.total, "accepted": batch.accepted, "duplicates": batch.duplicates,
            "rejected": batch.rejected}


def route_all(ctx: HubContext) -> dict[str, object]:
    """Route every pending outbox row with the hub's own worker path; what it came to.

    :class:`hub.core.worker.OutboxWorker` takes due rows ``HUB_ROUTE_BATCH`` to a
    transaction (``run_tasks``: routed, decided, audited) until none is pending.
    Returns how many rows it did, how many are still pending (0 unless some failed
    and wait for their retry), the messages by status and the inbox items made.
    """
    from hub.core.checkpoint import checkpoint_in_background
    from hub.core.worker import OutboxWorker

    worker = OutboxWorker(ctx)
    routed = 0
    # As in hub serve, whose embedded worker has SQLite's checkpoints run beside it.
    checkpointer = checkpoint_in_background(ctx.engine)
    try:
        while True:
            done = worker.run_once(limit=1000)
            routed += done
            with ctx.sessions() as session:
                drained = session.scalar(_ANY_PENDING) is None
            if drained or not done:
                break
    finally:
        if checkpointer is not None:
            checkpointer.stop()
    outcome = _outcome(ctx)
    del outcome["done"]  # this run's own count: rows done by earlier runs are not its own
    return {"routed": routed, **outcome}


def _outcome(ctx: HubContext) -> dict[str, object]:
    """Outbox rows pending and done, messages by status, and the inbox items made."""
    from sqlalchemy import func, select

    from hub.core.models import InboxItem, Message, OutboxEntry

    with ctx.sessions() as session:
        rows = dict(session.execute(select(OutboxEntry.status, func.count())
                                    .group_by(OutboxEntry.status)).all())
        statuses = dict(session.execute(select(Message.status, func.count())
                                        .group_by(Message.status)).all())
        items = session.scalar(select(func.count()).select_from(InboxItem))
    return {"pending": rows.get("pending", 0), "done": rows.get("done", 0),
            "statuses": statuses, "inbox_items": items}


def route_alongside(ctx: HubContext, import_finished: Callable[[], bool],
                    ready: Callable[[], None], poll_seconds: float = 0.05) -> dict[str, object]:
    """Route as ``hub serve`` does while another process imports; what it came to.

    Starts :class:`hub.core.transport.embedded.EmbeddedTransport` as ``hub serve``
    starts it (the worker thread, woken by its poll or, on PostgreSQL, by the
    listener's ``LISTEN/NOTIFY``; SQLite's checkpoints beside it), calls ``ready()``
    once they run, and watches until ``import_finished()`` and no outbox row is
    pending. The watch reads in a read-only transaction, so on SQLite it never takes
    the write lock the import and the worker take turns on. ``finished`` is the
    wall-clock time (``time.time()``) at which the outbox was first seen empty after
    the import.
    """
    from hub.core.transport.embedded import EmbeddedTransport

    transport = EmbeddedTransport(ctx, run_worker=True)
    transport.start()
    ready()
    try:
        while True:
            if import_finished():
                with ctx.engine.connect().execution_options(read_only=True) as conn:
                    if conn.execute(_ANY_PENDING).scalar() is None:
                        finished = time.time()
                        break
            time.sleep(poll_seconds)
    finally:
        transport.stop()
    outcome = _outcome(ctx)
    return {"routed": outcome.pop("done"), **outcome, "finished": finished}
