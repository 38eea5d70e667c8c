"""The one place the batch benchmark calls the hub's batch import.

It calls :func:`hub.core.batch.ingest_batch`, the streaming import behind both
``POST /api/v1/messages/batch`` and ``hub batch import``, with the file's lines
as a lazy iterator (chunks of ``HUB_BATCH_CHUNK_LINES`` commit as they go), and
:func:`route_all` the embedded worker's batched routing until the outbox is
empty. If the import's or the worker's entry point changes, only these follow it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hub.core.context import HubContext


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
    from sqlalchemy import func, select

    from hub.core.checkpoint import checkpoint_in_background
    from hub.core.models import InboxItem, Message, OutboxEntry
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
                pending = session.scalar(select(func.count()).select_from(OutboxEntry)
                                         .where(OutboxEntry.status == "pending"))
            if not pending or not done:
                break
    finally:
        if checkpointer is not None:
            checkpointer.stop()
    with ctx.sessions() as session:
        statuses = dict(session.execute(select(Message.status, func.count())
                                        .group_by(Message.status)).all())
        items = session.scalar(select(func.count()).select_from(InboxItem))
    return {"routed": routed, "pending": pending, "statuses": statuses, "inbox_items": items}
