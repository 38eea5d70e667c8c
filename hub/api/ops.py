"""Routes for the operator: the dead-letter store, listed and replayed (issue 3)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel
from sqlalchemy import select

from hub.api.deps import MAX_INT, ContextDep, OperatorDep, SessionDep
from hub.core import deadletters
from hub.core.audit import as_actor, record_event
from hub.core.errors import FieldProblem, HubProblem
from hub.core.models import DeadLetter, Message

router = APIRouter(prefix="/api/v1/ops", tags=["operations"])


class DeadLetterPublic(BaseModel):
    """One dead letter as an operator sees it: ids, task, reason, never message data."""

    id: int
    source: str
    task: str | None
    message_id: str | None
    reason: str
    attempts: int
    dead_at: datetime
    replayed_at: datetime | None
    replayable: bool


class DeadLetterPage(BaseModel):
    """A page of dead letters with the total that matched."""

    items: list[DeadLetterPublic]
    total: int


class ReplayReceipt(BaseModel):
    """A replay was queued: the message is decided again against today's consent."""

    id: int
    message_id: str
    status: Literal["requeued"]


def _public(dead: DeadLetter) -> DeadLetterPublic:
    return DeadLetterPublic(
        id=dead.id, source=dead.source, task=dead.task, message_id=dead.message_id,
        reason=dead.reason, attempts=dead.attempts, dead_at=dead.dead_at,
        replayed_at=dead.replayed_at,
        replayable=dead.replayed_at is None and dead.message_id is not None)


@router.get("/dead-letters", response_model=DeadLetterPage)
def list_dead_letters(
        session: SessionDep, _operator: OperatorDep,
        status: Annotated[Literal["open", "replayed", "all"], Query()] = "open",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0) -> DeadLetterPage:
    """Dead letters, oldest first: ``open`` (default), ``replayed`` or ``all``."""
    replayed = {"open": False, "replayed": True, "all": None}[status]
    rows, total = deadletters.list_dead(session=session, replayed=replayed, limit=limit,
                                        offset=offset)
    return DeadLetterPage(items=[_public(d) for d in rows], total=total)


@router.post("/dead-letters/{dead_letter_id}/replay", status_code=202,
             response_model=ReplayReceipt)
def replay_dead_letter(dead_letter_id: Annotated[int, Path(ge=1, le=MAX_INT)], ctx: ContextDep,
                       session: SessionDep, operator: OperatorDep) -> ReplayReceipt:
    """Queue the message again; it is routed and decided anew, so a revocation holds."""
    try:
        dead = deadletters.replay(session=session, dead_letter_id=dead_letter_id,
                                  now=ctx.clock())
    except deadletters.ReplayRefused as exc:
        raise HubProblem(409, "Dead letter cannot be replayed",
                         [FieldProblem("dead_letter_id", str(exc))]) from None
    if dead is None:
        raise HubProblem(404, "Dead letter not found")
    subject = (session.scalar(select(Message.subject).where(Message.id == dead.message_id))
               if dead.message_id else None)
    record_event(session, ctx=ctx, action="dead_letter.replay", **as_actor(operator),
                 subject=subject, data={"dead_letter_id": dead.id,
                                        "message_id": dead.message_id})
    session.commit()
    ctx.work_available.set()
    return ReplayReceipt(id=dead.id, message_id=dead.message_id, status="requeued")
