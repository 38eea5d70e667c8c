"""Re-sealing stored ciphertexts under the active data key, after ``hub keys rotate``.

Safe while the hub runs and safe to interrupt: each batch is one short
transaction that locks its rows, opens each ciphertext that names an older key
and seals it again under the active key, with the same context. A row another
process changed meanwhile is simply sealed from its newest value. Running it
again continues where it stopped; a run that finds nothing to do does nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Column, func, select, update
from sqlalchemy.orm import Session

from hub.core.context import HubContext
from hub.core.crypto import Cipher, DecryptionError
from hub.core.models import (
    ConfidentialRead,
    InboxItem,
    Message,
    OutboundMessageRow,
    PlanProgress,
    PlanResponse,
    PlanVersion,
    Resident,
)
from hub.core.outreach_models import OutreachCase
from hub.core.store import is_postgres

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SealedColumn:
    """A column of ciphertexts, the key of its rows, and the context each was sealed in."""

    key: Column
    column: Column
    context_prefix: str
    # The column whose value completes the context, when it is not the key.
    context_column: Column | None = None
    # Values stored in clear before the column was sealed are sealed, not refused.
    legacy_plain: bool = False

    @property
    def name(self) -> str:
        """``table.column``, for reports."""
        return f"{self.column.table.name}.{self.column.name}"

    def context(self, value: object) -> str:
        """The AES-GCM context the hub seals this row's ciphertext in."""
        return f"{self.context_prefix}:{value}"


# Every sealed column of the hub. A module that adds one registers it here, so
# rotation re-seals it and ``hub keys status`` counts it.
SEALED_COLUMNS: list[SealedColumn] = [
    SealedColumn(Message.__table__.c.id, Message.__table__.c.payload_sealed, "message"),
    SealedColumn(Message.__table__.c.id, Message.__table__.c.source_ref_sealed, "source-ref"),
    SealedColumn(Resident.__table__.c.subject, Resident.__table__.c.identity_sealed, "resident"),
    SealedColumn(InboxItem.__table__.c.id, InboxItem.__table__.c.measure, "measure",
                 context_column=InboxItem.__table__.c.message_id, legacy_plain=True),
    SealedColumn(OutboundMessageRow.__table__.c.id, OutboundMessageRow.__table__.c.payload_sealed,
                 "outbound"),
    # Listed here, not registered from hub.core.confidential: ``hub keys retire`` must
    # count these even in a process that never imported the inbox code.
    SealedColumn(ConfidentialRead.__table__.c.id, ConfidentialRead.__table__.c.reason_sealed,
                 "read-reason"),
    # The resident's contact details on an outreach case (issue 16).
    SealedColumn(OutreachCase.__table__.c.id, OutreachCase.__table__.c.contact_sealed,
                 "outreach-contact"),
    # The household plan (issue 17): its body, the resident's words, a partner's notes.
    SealedColumn(PlanVersion.__table__.c.id, PlanVersion.__table__.c.body_sealed, "plan"),
    SealedColumn(PlanResponse.__table__.c.id, PlanResponse.__table__.c.text_sealed,
                 "plan-response"),
    SealedColumn(PlanProgress.__table__.c.id, PlanProgress.__table__.c.note_sealed,
                 "plan-progress"),
]


def register_sealed(key: Column, column: Column, context_prefix: str,
                    context_column: Column | None = None) -> None:
    """Declare another sealed column (sealed with context ``<prefix>:<key or context_column>``)."""
    SEALED_COLUMNS.append(SealedColumn(key, column, context_prefix, context_column))


def _prefix(key_id: str) -> str:
    # Key ids are letters, digits and '-' (hub.core.keys), so no LIKE wildcard sneaks in.
    return f"v1.{key_id}.%"


def key_usage(*, session: Session, ctx: HubContext) -> dict[str, int]:
    """How many stored ciphertexts each data key sealed; ``unknown`` for any other id."""
    usage = dict.fromkeys(sorted(ctx.keys.data_keys), 0)
    unknown = 0
    for sealed in SEALED_COLUMNS:
        total = session.scalar(select(func.count()).select_from(sealed.column.table)
                               .where(sealed.column != ""))
        counted = 0
        for kid in usage:
            n = session.scalar(select(func.count()).select_from(sealed.column.table)
                               .where(sealed.column.like(_prefix(kid))))
            usage[kid] += n
            counted += n
        unknown += total - counted
    if unknown:
        usage["unknown"] = unknown
    return usage


@dataclass
class Progress:
    """What a re-encryption run did so far."""

    resealed: int = 0
    failed: int = 0
    batches: int = 0


def reencrypt_batch(*, session: Session, ctx: HubContext, sealed: SealedColumn, after: object,
                    limit: int, progress: Progress) -> object | None:
    """Re-seal up to ``limit`` rows with a key greater than ``after``, in the caller's transaction.

    Returns the last key looked at (the cursor for the next batch), or None when done.
    """
    active = ctx.cipher.active_key_id
    context_column = sealed.context_column if sealed.context_column is not None else sealed.key
    stmt = (select(sealed.key, sealed.column, context_column)
            .where(sealed.column != "", sealed.column.not_like(_prefix(active)))
            .order_by(sealed.key).limit(limit))
    if after is not None:
        stmt = stmt.where(sealed.key > after)
    if is_postgres(session):
        # Waits for a worker holding the row: then we seal what it committed.
        stmt = stmt.with_for_update(of=sealed.column.table)
    rows = session.execute(stmt).all()
    for key, token, context_value in rows:
        context = sealed.context(context_value)
        try:
            if sealed.legacy_plain and Cipher.key_id(token) is None:
                document = token
            else:
                document = ctx.cipher.open(token, context=context)
        except DecryptionError:
            # Reported by count; the row keeps its ciphertext (a missing key, or damage).
            progress.failed += 1
            log.warning("%s row does not open; left as it is", sealed.name)
            continue
        session.execute(update(sealed.column.table).where(sealed.key == key)
                        .values({sealed.column.name: ctx.cipher.seal(document,
                                                                       context=context)}))
        progress.resealed += 1
    progress.batches += 1
    return rows[-1][0] if rows else None


def reencrypt_all(*, ctx: HubContext, batch_size: int = 500) -> Progress:
    """Re-seal every ciphertext that names an older key, one short transaction per batch."""
    ctx.keys.refresh_if_changed()
    progress = Progress()
    for sealed in SEALED_COLUMNS:
        cursor = None
        while True:
            with ctx.sessions() as session, session.begin():
                cursor = reencrypt_batch(session=session, ctx=ctx, sealed=sealed, after=cursor,
                                         limit=batch_size, progress=progress)
            if cursor is None:
                break
    return progress
