"""The one place the batch benchmark calls the hub's batch import.

It calls :func:`hub.core.batch.ingest_batch`, the streaming import behind both
``POST /api/v1/messages/batch`` and ``hub batch import``, with the file's lines
as a lazy iterator (chunks of ``HUB_BATCH_CHUNK_LINES`` commit as they go). If
the import's entry point changes, only this function follows it.
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
