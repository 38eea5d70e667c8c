"""The dead-letter store: work that failed for good, listed and replayed by an operator.

Both transports write here (issue 3): the embedded queue when an outbox row runs
out of attempts, the RabbitMQ worker when a delivery does, when the broker
dead-letters one, or when a broker message does not even parse. A replay puts
the message back on the outbox as new work; the router then decides it again
against the consent as it is *now*, so a replay can never undo a revocation.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.core.ingest import enqueue
from hub.core.models import DeadLetter, Message
from hub.core.outbound import DELIVER_TASK, mark_requeued
from hub.core.store import insert_if_absent


class ReplayRefused(Exception):
    """A dead letter that cannot be replayed; the text says why (for a 409 or the CLI)."""


def record(*, session: Session, key: str, source: str, reason: str, now: datetime,
           task: str | None = None, outbox_id: int | None = None,
           message_id: str | None = None, attempts: int = 0,
           body_sealed: str | None = None) -> bool:
    """Store a dead letter in the caller's transaction; False if ``key`` was stored before.

    ``reason`` must hold ids and error types only, never message data.
    """
    return insert_if_absent(session, DeadLetter.__table__, {
        "key": key, "source": source, "task": task, "outbox_id": outbox_id,
        "message_id": message_id, "reason": reason[:500], "attempts": attempts,
        "body_sealed": body_sealed, "dead_at": now, "replayed_at": None})


def list_dead(*, session: Session, replayed: bool | None = None, limit: int = 100,
              offset: int = 0) -> tuple[list[DeadLetter], int]:
    """Dead letters, oldest first, with the total; ``replayed`` filters on whether they were."""
    stmt = select(DeadLetter)
    if replayed is not None:
        stmt = stmt.where(DeadLetter.replayed_at.is_not(None) if replayed
                          else DeadLetter.replayed_at.is_(None))
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(DeadLetter.id).limit(limit).offset(offset)).all()
    return list(rows), total or 0


def replay(*, session: Session, dead_letter_id: int, now: datetime) -> DeadLetter | None:
    """Put a dead letter's message back on the queue in the caller's transaction.

    Returns None when there is no such dead letter; raises :class:`ReplayRefused`
    when it was replayed already or has no message to route.
    """
    dead = session.get(DeadLetter, dead_letter_id, with_for_update=True)
    if dead is None:
        return None
    if dead.replayed_at is not None:
        raise ReplayRefused("this dead letter was replayed already")
    if dead.message_id is None or dead.task is None:
        raise ReplayRefused("nothing to replay: the broker message did not name a message")
    if dead.task == DELIVER_TASK:
        if not mark_requeued(session=session, message_id=dead.message_id, now=now):
            raise ReplayRefused("nothing to replay: the message it names does not exist")
    elif session.get(Message, dead.message_id) is None:
        raise ReplayRefused("nothing to replay: the message it names does not exist")
    enqueue(session=session, message_id=dead.message_id, now=now, task=dead.task)
    dead.replayed_at = now
    return dead
