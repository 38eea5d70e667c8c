"""A partner's own reference for a message (``source_ref``): personal data at rest.

A partner may put anything in its reference, a BSN even (issue 13, item 10), so
the hub never stores it in clear: ``messages.source_ref`` holds a keyed hash of
(partner, reference), on which the unique constraint still makes a resent
message a duplicate, and ``messages.source_ref_sealed`` holds the reference
sealed, so the partner gets its own reference back in answers.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from hub.core.context import HubContext
from hub.core.message_rows import RoutedMessage
from hub.core.models import Message
from hub.core.store import run_while_waiting

log = logging.getLogger(__name__)

_PURPOSE = "source-ref"


def ref_key(ctx: HubContext, *, partner_id: str, source_ref: str) -> str:
    """The keyed hash stored in ``messages.source_ref``: equal for the same partner and
    reference, unreadable without the hub's pseudonym key."""
    return hmac.new(ctx.pseudonyms.key_for(_PURPOSE), f"{partner_id}|{source_ref}".encode(),
                    hashlib.sha256).hexdigest()


def outbound_ref_key(ctx: HubContext, *, partner_id: str, message_type: str, ref: str) -> str:
    """The keyed hash stored in ``outbound_messages.ref``; the ref itself travels sealed in
    the row's payload (a regisseur's reference may be personal data too)."""
    return hmac.new(ctx.pseudonyms.key_for("outbound-ref"),
                    f"{partner_id}|{message_type}|{ref}".encode(), hashlib.sha256).hexdigest()


def ref_context(message_id: str) -> str:
    """The context a message's reference is sealed under (see :func:`seal_ref`)."""
    return f"{_PURPOSE}:{message_id}"


def seal_ref(ctx: HubContext, *, message_id: str, source_ref: str) -> str:
    """The reference sealed for ``messages.source_ref_sealed``."""
    return ctx.cipher.seal(source_ref, context=ref_context(message_id))


def open_ref(ctx: HubContext, message: Message | RoutedMessage) -> str:
    """The partner's own reference of a stored message, in clear, for an answer to it.

    A row stored before references were sealed (and not yet converted by
    :func:`seal_legacy_refs`) still holds it in clear.
    """
    if message.source_ref_sealed is None:
        return message.source_ref
    return ctx.cipher.open(message.source_ref_sealed, context=f"{_PURPOSE}:{message.id}")


def seal_legacy_refs(*, session: Session, ctx: HubContext, limit: int = 1000) -> int:
    """Convert up to ``limit`` rows stored with their reference in clear; returns how many.

    Alembic has no keys, so migration 0012 only adds the column and this runs after
    the upgrade (``hub.cli.common.hub_context``, ``hub serve``, ``hub db upgrade``):
    the reference is sealed and replaced by its keyed hash. Call it until it returns 0.
    """
    rows = session.scalars(select(Message).where(Message.source_ref_sealed.is_(None))
                           .limit(limit)).all()
    for message in rows:
        clear = message.source_ref
        message.source_ref_sealed = seal_ref(ctx, message_id=message.id, source_ref=clear)
        message.source_ref = ref_key(ctx, partner_id=message.source_partner, source_ref=clear)
    if rows:
        log.info("sealed the source_ref of %d stored messages", len(rows))
    return len(rows)


def first_unsealed() -> Select:
    """The id of one message whose reference is still in clear (partial index, 0022)."""
    return select(Message.id).where(Message.source_ref_sealed.is_(None)).limit(1)


def seal_all_legacy_refs(ctx: HubContext) -> int:
    """Run :func:`seal_legacy_refs` in short transactions until nothing is left; the
    first question is answered from the partial index of migration 0022."""
    return run_while_waiting(ctx.sessions, first_unsealed(),
                             lambda session: seal_legacy_refs(session=session, ctx=ctx))
