"""Routes for partners: send messages and batches, follow what became of them."""

from __future__ import annotations

import codecs
import io
import json
import logging
import tempfile
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request, Response
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from hub.api.deps import (
    ContextDep,
    IdPath,
    PartnerDep,
    SessionDep,
    sender_of,
    unauthorized,
)
from hub.api.schemas import (
    BatchLineError,
    BatchPublic,
    BatchReceipt,
    MessageReceipt,
    MessageStatus,
)
from hub.core import correlation
from hub.core.batch import batch_progress, batch_state, fail_batch, open_batch, run_batch
from hub.core.context import HubContext
from hub.core.errors import HubProblem, invalid
from hub.core.group_commit import Unavailable
from hub.core.inbox import sender_status
from hub.core.ingest import count_rejected, validate_message
from hub.core.models import Batch, BatchError, Message
from hub.core.partner_keys import KeyChanged, KeyRefused
from hub.core.source_refs import open_ref

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["partners"])


# The body is parsed by the core (to answer malformed JSON as problem+json naming the
# field), so its schema is documented by hub.api.openapi rather than inferred.
_MESSAGE_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/MessageCreate"}}}}}
# A batch body is kept in memory up to this size, then spooled to a temporary file.
_SPOOL_IN_MEMORY = 1024 * 1024
_CSV_BODY = {"requestBody": {"required": True,
                             "content": {"text/csv": {"schema": {"type": "string"}}}}}


def _refuse_constant(name: str) -> None:
    # Python's json accepts NaN and Infinity; RFC 8259 JSON does not.
    raise ValueError(f"{name} is not a JSON number")


@router.post("/messages", status_code=202, response_model=MessageReceipt,
             openapi_extra={**_MESSAGE_BODY, "security": [{"HTTPBearer": []}]})
async def post_message(request: Request) -> Response:
    """Accept one message. Sending the same ``source_ref`` again returns the same id."""
    # No dependencies of its own (the hub from the app, the sender checked here): FastAPI
    # spent a third of this route's CPU resolving them (issue 14). The order is theirs:
    # the key, its proofs and the rate limit before the body is read.
    ctx: HubContext = request.app.state.hub
    sender = await sender_of(request)
    partner = sender.partner
    raw = await request.body()
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError, UnicodeDecodeError and an integer beyond
        # Python's digit limit; RecursionError a body nested too deeply to parse.
        count_rejected(ctx=ctx, partner=partner, body=None)
        raise invalid("body", f"is not valid JSON ({type(exc).__name__})") from None

    try:
        valid = validate_message(ctx=ctx, partner=partner, body=body)
    except HubProblem:
        count_rejected(ctx=ctx, partner=partner, body=body)
        raise
    for attempt in range(2):
        try:
            # Stored with concurrent requests' messages in one transaction (issue 14), which
            # re-checks the sender's key; answered after the commit. Awaited: the request
            # holds no thread while its group forms and commits.
            accepted = await ctx.ingest.accept_async(partner=sender.partner, valid=valid,
                                                     body=body, now=ctx.clock(), key=sender)
            # The receipt serialised here (pydantic's own JSON) and answered as it is:
            # returned as a model, FastAPI validates it against response_model again and
            # encodes it in Python, ~5 % of a request's CPU (issue 14). The route's
            # response_model still documents it.
            receipt = MessageReceipt(id=accepted.id, status="received").model_dump_json()
            return Response(receipt, status_code=202, media_type="application/json")
        except KeyRefused as exc:
            # Revoked, expired or its partner deactivated since this process remembered it.
            request.app.state.partner_gate.keys.forget(sender.key_id)
            raise unauthorized(str(exc)) from None
        except KeyChanged:
            if attempt:
                break  # changed twice within one request: let the partner send again
            # Still good, but re-hashed or re-pinned since it was remembered: checked in
            # full (a pin set since is enforced here), then the message goes once more.
            sender = await sender_of(request, again=True)
        except Unavailable:
            break
    raise HubProblem(503, "Message not stored, please send it again", [],
                     headers={"Retry-After": "1"})


@router.post("/messages/batch", status_code=202, response_model=BatchReceipt,
             openapi_extra=_CSV_BODY)
async def post_batch(request: Request, ctx: ContextDep, partner: PartnerDep,
                     session: SessionDep, background: BackgroundTasks) -> BatchReceipt:
    """Accept a CSV batch: good lines are stored, bad lines reported per line.

    The body streams to a temporary file (in memory up to 1 MiB, then on disk;
    never whole in memory) and must be UTF-8; the header is checked before the
    answer. A file of up to ``HUB_BATCH_SYNC_LINES`` lines is imported before
    the 202 (status ``done``); a larger one after it (status ``running``), in
    chunks that each commit whole: poll ``GET /api/v1/batches/{id}`` for the
    counts while it runs.
    """
    # The batch commits in chunks of its own; end the key lookup's transaction first
    # (on SQLite it holds the write lock). Commit, not rollback: a rollback expires the
    # partner, and reading partner.kind would then begin a new transaction on this
    # session and take the write lock again, so the batch's own sessions wait for it.
    await run_in_threadpool(session.commit)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("text/csv", "application/csv"):
        raise HubProblem(415, "Unsupported media type",
                         [invalid("content-type", "must be text/csv").problems[0]])
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
    try:
        lines_total = await _spool_body(request, spool)
        spool.seek(0)
        text = io.TextIOWrapper(spool, encoding="utf-8-sig", newline="")
        opened = await run_in_threadpool(open_batch, ctx=ctx, partner=partner, lines=text,
                                         now=ctx.clock(), lines_total=lines_total)
    except BaseException:
        spool.close()
        raise
    if lines_total - 1 <= ctx.settings.batch_sync_lines:
        # A small file is imported before the answer: the receipt then says "done".
        status = await run_in_threadpool(_import_then_close, ctx, opened, text,
                                         correlation.current())
        return BatchReceipt(batch_id=opened.id, status=status)
    background.add_task(_import_then_close, ctx, opened, text, correlation.current())
    return BatchReceipt(batch_id=opened.id, status=opened.batch.status)


async def _spool_body(request: Request, spool) -> int:
    """Write the body to ``spool`` as it arrives, checking it is UTF-8; returns its lines."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines, last = 0, b"\n"
    try:
        async for chunk in request.stream():
            if not chunk:
                continue
            decoder.decode(chunk)  # checked now: a bad byte must refuse the whole file
            lines += chunk.count(b"\n")
            last = chunk[-1:]
            await run_in_threadpool(spool.write, chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise invalid("body", "must be UTF-8 encoded CSV") from None
    return lines + (last != b"\n")


def _import_then_close(ctx, opened, text, cid: str | None) -> str:
    # Mostly runs after the 202 was sent. Every chunk commits whole; if this process dies,
    # the batch keeps the counts of what was stored and is reported "interrupted" later.
    try:
        with correlation.bound(cid or correlation.new_id()):
            return run_batch(ctx=ctx, opened=opened).status
    except Exception as exc:
        # The type only: an exception's text may quote a line. The partner sees "failed".
        log.error("batch %s stopped: %s", opened.id, type(exc).__name__)
        try:
            fail_batch(ctx=ctx, batch_id=opened.id)
        except Exception as again:
            log.error("batch %s could not be marked failed: %s", opened.id,
                      type(again).__name__)
        return "failed"
    finally:
        text.close()


@router.get("/batches/{batch_id}", response_model=BatchPublic)
def get_batch(batch_id: IdPath, ctx: ContextDep, partner: PartnerDep, session: SessionDep,
              errors_limit: Annotated[int, Query(ge=0, le=10_000)] = 1000,
              errors_offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> BatchPublic:
    """A batch's counts and its refused lines with their reasons (own batches only).

    While the batch runs the counts grow chunk by chunk; they are always exactly
    what is stored. The refused lines come a page at a time (``errors_limit``,
    ``errors_offset``; ``errors_total`` says how many): a large file's report
    is never one huge answer.
    """
    batch = session.get(Batch, batch_id)
    if batch is None or batch.partner_id != partner.id:
        raise HubProblem(404, "Batch not found")
    where = BatchError.batch_id == batch.id
    errors_total = session.scalar(select(func.count()).select_from(BatchError).where(where))
    errors = session.scalars(select(BatchError).where(where)
                             .order_by(BatchError.line, BatchError.id)
                             .limit(errors_limit).offset(errors_offset))
    return BatchPublic(batch_id=batch.id,
                       status=batch_state(batch, now=ctx.clock(),
                                          stale_after=ctx.settings.batch_stale_seconds),
                       total=batch.total, accepted=batch.accepted, duplicates=batch.duplicates,
                       rejected=batch.rejected, lines_done=max(batch.lines_done - 1, 0),
                       lines_total=batch.lines_total and max(batch.lines_total - 1, 0),
                       progress=batch_progress(batch), errors_total=errors_total,
                       errors=[BatchLineError(line=e.line, field=e.field, reason=e.reason)
                               for e in errors])


@router.get("/messages/{message_id}", response_model=MessageStatus)
def get_message(message_id: IdPath, partner: PartnerDep, session: SessionDep,
                ctx: ContextDep) -> MessageStatus:
    """What the sender may know of its own message (its own reference, opened)."""
    message = session.get(Message, message_id)
    if message is None or message.source_partner != partner.id:
        raise HubProblem(404, "Message not found")
    return MessageStatus(id=message.id, type=message.type, source_ref=open_ref(ctx, message),
                         status=sender_status(session=session, message=message),
                         received_at=message.received_at)
