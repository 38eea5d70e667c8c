"""Routes for partners: send messages and batches, follow what became of them."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Path, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from hub.api.deps import ContextDep, PartnerDep, SessionDep
from hub.api.schemas import (
    BatchLineError,
    BatchPublic,
    BatchReceipt,
    MessageReceipt,
    MessageStatus,
)
from hub.core.batch import ingest_batch
from hub.core.errors import HubProblem, invalid
from hub.core.inbox import sender_status
from hub.core.ingest import accept_message, count_rejected
from hub.core.models import Batch, BatchError, Message

router = APIRouter(prefix="/api/v1", tags=["partners"])
IdPath = Annotated[str, Path(min_length=1, max_length=64)]


# The body is parsed by the core (to answer malformed JSON as problem+json naming the
# field), so its schema is documented by hub.api.openapi rather than inferred.
_MESSAGE_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/MessageCreate"}}}}}
_CSV_BODY = {"requestBody": {"required": True,
                             "content": {"text/csv": {"schema": {"type": "string"}}}}}


def _refuse_constant(name: str) -> None:
    # Python's json accepts NaN and Infinity; RFC 8259 JSON does not.
    raise ValueError(f"{name} is not a JSON number")


@router.post("/messages", status_code=202, response_model=MessageReceipt,
             openapi_extra=_MESSAGE_BODY)
async def post_message(request: Request, ctx: ContextDep, partner: PartnerDep,
                       session: SessionDep) -> MessageReceipt:
    """Accept one message. Sending the same ``source_ref`` again returns the same id."""
    raw = await request.body()
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError, UnicodeDecodeError and an integer beyond
        # Python's digit limit; RecursionError a body nested too deeply to parse.
        count_rejected(ctx=ctx, partner=partner, body=None)
        raise invalid("body", f"is not valid JSON ({type(exc).__name__})") from None

    def store():
        accepted = accept_message(session=session, ctx=ctx, partner=partner, body=body,
                                  now=ctx.clock())
        session.commit()
        return accepted

    # The database work is blocking: keep it off the event loop.
    accepted = await run_in_threadpool(store)
    ctx.work_available.set()
    return MessageReceipt(id=accepted.id, status="received")


@router.post("/messages/batch", status_code=202, response_model=BatchReceipt,
             openapi_extra=_CSV_BODY)
async def post_batch(request: Request, ctx: ContextDep, partner: PartnerDep,
                     session: SessionDep) -> BatchReceipt:
    """Accept a CSV batch: good lines are stored, bad lines reported per line."""
    # The batch commits in chunks of its own; end the key lookup's transaction first
    # (on SQLite it holds the write lock). Commit, not rollback: a rollback expires the
    # partner, and reading partner.kind would then begin a new transaction on this
    # session and take the write lock again, so the batch's own sessions wait for it.
    await run_in_threadpool(session.commit)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("text/csv", "application/csv"):
        raise HubProblem(415, "Unsupported media type",
                         [invalid("content-type", "must be text/csv").problems[0]])
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid("body", "must be UTF-8 encoded CSV") from None
    batch = await run_in_threadpool(ingest_batch, ctx=ctx, partner=partner,
                                    lines=text.splitlines(), now=ctx.clock())
    return BatchReceipt(batch_id=batch.id, status=batch.status)


@router.get("/batches/{batch_id}", response_model=BatchPublic)
def get_batch(batch_id: IdPath, partner: PartnerDep, session: SessionDep) -> BatchPublic:
    """A batch's counts and each refused line with its reason (own batches only)."""
    batch = session.get(Batch, batch_id)
    if batch is None or batch.partner_id != partner.id:
        raise HubProblem(404, "Batch not found")
    errors = session.scalars(select(BatchError).where(BatchError.batch_id == batch.id)
                             .order_by(BatchError.line, BatchError.id))
    return BatchPublic(batch_id=batch.id, status=batch.status, total=batch.total,
                       accepted=batch.accepted, duplicates=batch.duplicates,
                       rejected=batch.rejected,
                       errors=[BatchLineError(line=e.line, field=e.field, reason=e.reason)
                               for e in errors])


@router.get("/messages/{message_id}", response_model=MessageStatus)
def get_message(message_id: IdPath, partner: PartnerDep, session: SessionDep) -> MessageStatus:
    """What the sender may know of its own message."""
    message = session.get(Message, message_id)
    if message is None or message.source_partner != partner.id:
        raise HubProblem(404, "Message not found")
    return MessageStatus(id=message.id, type=message.type, source_ref=message.source_ref,
                         status=sender_status(session=session, message=message),
                         received_at=message.received_at)
