"""Messages the hub sends to partners: stored, queued and delivered over HTTP.

A status back to a GP, a Wmo request to the desk, a report to Veilig Thuis: each
is an outbound message, stored sealed with an outbox row in the caller's
transaction, then delivered by whichever transport runs the outbox. One attempt
is one HTTP request shaped by the partner's plugin; the message id travels as
the ``Idempotency-Key``, so a retry after a lost answer is recognised by the
partner. Failures that may pass (a timeout, a 5xx, 408, 429) are retried with
the outbox's backoff; a partner's refusal (another 4xx), a missing endpoint or
one that cannot be used (malformed, a scheme or host httpx refuses) is dead at
once, for an operator to fix (``hub partner update``) and replay.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.sharing import SHARE_TYPE
from hub.core import correlation
from hub.core.audit import record_event
from hub.core.context import HubContext
from hub.core.endpoints import check_endpoint
from hub.core.errors import FieldProblem, HubProblem, invalid, pydantic_problems
from hub.core.ids import new_uuid7
from hub.core.ingest import enqueue
from hub.core.message_rows import RoutedMessage
from hub.core.models import InboxItem, Message, OutboundMessageRow, OutboxEntry, Partner
from hub.core.source_refs import open_ref, outbound_ref_key
from hub.core.types import ItemStatusEvent, OutboundEnvelope, OutboundRequest, PartnerInfo

if TYPE_CHECKING:
    import httpx

DELIVER_TASK = "deliver"
# withheld: decided again before delivery and no longer allowed (a revoked plan share).
FINISHED = frozenset({"delivered", "failed", "withheld"})
# Errors that say the partner's endpoint cannot be used at all; InvalidURL is no HTTPError.
# The public reasons of a delivery that needs the operator to change the partner.
ENDPOINT_UNUSABLE = "partner endpoint unusable"
NO_ENDPOINT = "partner has no endpoint"
# Answers that say "not now" rather than "no": the attempt is retried.
RETRYABLE_STATUS = frozenset({408, 425, 429})
log = logging.getLogger(__name__)


class DeliveryError(RuntimeError):
    """One attempt failed; ``public_reason`` (no message data) is what operators see."""

    permanent = False

    def __init__(self, public_reason: str) -> None:
        super().__init__(public_reason)
        self.public_reason = public_reason


class PermanentDeliveryError(DeliveryError):
    """The partner refused, or cannot be reached at all: retrying will not help."""

    permanent = True


@dataclass(frozen=True)
class OutboundStatus:
    """Where an outbound message stands, for whoever follows it."""

    status: str
    attempts: int
    receipt: str | None
    delivered_at: datetime | None
    last_error: str | None


def partner_info(partner: Partner) -> PartnerInfo:
    """A partner as plugins see it: no credentials."""
    return PartnerInfo(id=partner.id, name=partner.name, kind=partner.kind,
                       endpoint=partner.endpoint)


def send(session: Session, *, ctx: HubContext, partner_id: str, message_type: str,
         data: Mapping[str, Any], ref: str, actor: str, role: str, now: datetime,
         subject: str | None = None, household_id: str | None = None,
         related_message_id: str | None = None) -> OutboundMessageRow:
    """Store an outbound message and queue its delivery, in the caller's transaction.

    Idempotent on (partner, type, ref): sending the same again returns the first
    message and queues nothing. Raises :class:`HubProblem` (naming the field)
    for an unknown type, a partner that may not receive it, or invalid data.
    """
    mt = ctx.plugins.catalog.type(message_type)
    if mt is None or not mt.outbound:
        raise invalid("message_type", f"no plugin sends {message_type!r} to partners")
    partner = session.get(Partner, partner_id)
    if partner is None or not partner.active:
        raise invalid("partner_id", "no active partner with this id")
    if partner.kind not in mt.partner_kinds:
        raise HubProblem(422, "Partner cannot receive this type", [FieldProblem(
            "partner_id", f"partners of kind {partner.kind!r} do not receive {message_type!r}")])
    if not ref or len(ref) > 200:
        raise invalid("ref", "must be 1 to 200 characters")
    # Stored as a keyed hash; the ref itself is sealed in the payload (issue 13, item 10).
    key = outbound_ref_key(ctx, partner_id=partner_id, message_type=message_type, ref=ref)
    existing = _find(session, partner_id, message_type, key, ref)
    if existing is not None:
        return existing
    try:
        clean = mt.data_model.model_validate(dict(data)).model_dump(mode="json")
    except ValidationError as exc:
        raise HubProblem(422, "Invalid message data", pydantic_problems(exc, "data")) from None
    row_id = new_uuid7()
    row = OutboundMessageRow(
        id=row_id, type=message_type, partner_id=partner_id, ref=key, subject=subject,
        household_id=household_id, related_message_id=related_message_id,
        payload_sealed=ctx.cipher.seal({"data": clean, "ref": ref}, context=f"outbound:{row_id}"),
        status="queued", correlation_id=correlation.current(), created_at=now,
        updated_at=now)
    try:
        # A savepoint: two senders racing on the same ref must end with one message.
        with session.begin_nested():
            session.add(row)
            session.flush()
    except sa_exc.IntegrityError:
        existing = _find(session, partner_id, message_type, key, ref)
        if existing is None:
            raise
        return existing
    enqueue(session=session, message_id=row_id, now=now, task=DELIVER_TASK)
    record_event(session, ctx=ctx, action="message.sent", actor=actor, role=role,
                 subject=subject, data={"message_id": row_id, "type": message_type,
                                        "partner": partner_id})
    ctx.work_available.set()
    return row


def _find(session: Session, partner_id: str, message_type: str, key: str,
          ref: str) -> OutboundMessageRow | None:
    # A row stored before refs were hashed holds the ref in clear: found by either.
    return session.scalar(select(OutboundMessageRow).where(
        OutboundMessageRow.partner_id == partner_id, OutboundMessageRow.type == message_type,
        OutboundMessageRow.ref.in_([key, ref])).limit(1))


def ref_of(ctx: HubContext, row: OutboundMessageRow) -> str:
    """The outbound message's ref in clear (sealed in its payload; in clear in old rows)."""
    payload = ctx.cipher.open(row.payload_sealed, context=f"outbound:{row.id}")
    return payload.get("ref", row.ref)


def envelope_of(ctx: HubContext, row: OutboundMessageRow, partner: Partner) -> OutboundEnvelope:
    """The outbound message with its data opened, as plugins receive it."""
    payload = ctx.cipher.open(row.payload_sealed, context=f"outbound:{row.id}")
    return OutboundEnvelope(
        id=row.id, type=row.type, ref=payload.get("ref", row.ref), partner_id=partner.id,
        partner_kind=partner.kind,
        subject=row.subject, household_id=row.household_id, data=payload["data"],
        related_message_id=row.related_message_id, created_at=row.created_at)


def default_request(envelope: OutboundEnvelope) -> OutboundRequest:
    """What the core sends when no plugin shapes the request: the envelope as JSON.

    No subject: the pseudonym is the hub's own and means nothing to a partner.
    """
    return OutboundRequest(json={
        "id": envelope.id, "type": envelope.type, "ref": envelope.ref,
        "related_message_id": envelope.related_message_id,
        "created_at": envelope.created_at.isoformat(), "data": dict(envelope.data)})


@correlation.scoped
def deliver(*, session: Session, ctx: HubContext, message_id: str, now: datetime) -> str:
    """Make one delivery attempt of an outbound message (the outbox's ``deliver`` task).

    Returns the message's status; raises :class:`DeliveryError` when the attempt
    failed, so the outbox retries or dead-letters it. Delivering a message that
    is delivered already does nothing: a redelivery by the queue is harmless.
    """
    row = session.get(OutboundMessageRow, message_id, with_for_update=True)
    if row is None:
        raise PermanentDeliveryError("outbound message not found")
    if row.status in FINISHED:
        return row.status
    correlation.adopt(row.correlation_id)
    partner = session.get(Partner, row.partner_id)
    if partner is None or not partner.active:
        raise PermanentDeliveryError("partner is not active")
    if not partner.endpoint:
        raise PermanentDeliveryError(NO_ENDPOINT)
    try:
        check_endpoint(partner.endpoint)
    except ValueError as exc:
        # Stored before endpoints were checked: every retry would fail the same way.
        raise PermanentDeliveryError(f"{ENDPOINT_UNUSABLE}: {exc}") from None
    if row.type == SHARE_TYPE:
        from hub.core.plan_sharing import may_deliver

        # A plan agreement goes out only while the resident's consent holds (issue 17).
        if not may_deliver(session=session, ctx=ctx, row=row, now=now):
            return row.status
    envelope = envelope_of(ctx, row, partner)
    request = (ctx.plugins.outbound_request(envelope=envelope, partner=partner_info(partner))
               or default_request(envelope))
    url = partner.endpoint.rstrip("/") + request.path if request.path else partner.endpoint
    headers = {"Idempotency-Key": row.id, "X-Correlation-ID": row.correlation_id or row.id,
               **request.headers}
    import httpx  # loaded by ctx.http already; not at the top, where every command pays it

    unusable_endpoint = (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.LocalProtocolError)
    try:
        response = ctx.http.request(request.method, url, json=request.json,
                                    content=request.content, headers=headers)
    except unusable_endpoint as exc:
        # The address itself is wrong (no scheme, a malformed host): every retry would fail
        # the same way, so it is dead at once, for the operator to fix and replay (issue 15).
        raise PermanentDeliveryError(f"{ENDPOINT_UNUSABLE} ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:
        raise DeliveryError(type(exc).__name__) from None
    code = response.status_code
    if code >= 500 or code in RETRYABLE_STATUS:
        raise DeliveryError(f"HTTP {code}")
    if not 200 <= code < 300:
        raise PermanentDeliveryError(f"HTTP {code}")
    row.status, row.delivered_at, row.updated_at = "delivered", now, now
    row.receipt = _receipt(request, response)
    log.info("outbound message %s (%s) delivered to partner %s", row.id, row.type, partner.id)
    return row.status


def _receipt(request: OutboundRequest, response: httpx.Response) -> str | None:
    if request.receipt is not None:
        value = request.receipt(response)
    else:
        value = None
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("id"), str | int):
            value = str(body["id"])
        value = value or response.headers.get("location")
    return value[:200] if value else None


def mark_failed(*, session: Session, message_id: str, now: datetime) -> None:
    """The delivery is dead-lettered: the message shows ``failed`` until it is replayed."""
    row = session.get(OutboundMessageRow, message_id)
    if row is not None and row.status != "delivered":
        row.status, row.updated_at = "failed", now


def mark_requeued(*, session: Session, message_id: str, now: datetime) -> bool:
    """A replayed dead delivery is queued again; False when no such outbound message exists."""
    row = session.get(OutboundMessageRow, message_id)
    if row is None:
        return False
    if row.status == "failed":
        row.status, row.updated_at = "queued", now
    return True


def status(session: Session, *, message_id: str) -> OutboundStatus | None:
    """Where an outbound message stands (None when there is no such message)."""
    row = session.get(OutboundMessageRow, message_id)
    if row is None:
        return None
    entries = session.scalars(select(OutboxEntry).where(
        OutboxEntry.message_id == message_id, OutboxEntry.task == DELIVER_TASK)).all()
    attempts = sum(e.attempts for e in entries)
    last_error = next((e.last_error for e in sorted(entries, key=lambda e: e.id, reverse=True)
                       if e.last_error), None)
    return OutboundStatus(status=row.status, attempts=attempts, receipt=row.receipt,
                          delivered_at=row.delivered_at, last_error=last_error)


def announce_status(session: Session, *, ctx: HubContext, message: Message | RoutedMessage,
                    status: str, now: datetime, note: str | None = None, actor: str = "hub",
                    role: str = "system", payload: dict | None = None,
                    partner: Partner | None = None) -> list[OutboundMessageRow]:
    """Tell the plugins what became of an inbound message, and send what they answer.

    Runs in the caller's transaction, so a status back is queued exactly when the
    change it reports commits. ``payload`` is the message's opened payload and
    ``partner`` its source partner when the caller has them already (the router),
    saving an AES-GCM open and an identity-map lookup per message.
    """
    if partner is None:
        partner = session.get(Partner, message.source_partner)
    if partner is None:
        return []
    if payload is None:
        payload = ctx.cipher.open(message.payload_sealed, context=f"message:{message.id}")
    event = ItemStatusEvent(
        status=status, message_id=message.id, message_type=message.type,
        source_partner=partner_info(partner),
        # Opened only if a plugin reads it: most statuses need no answer (issue 14).
        open_source_ref=lambda: open_ref(ctx, message),
        data=payload["data"], subject=message.subject, household_id=message.household_id,
        note=note)
    sent = []
    for answer in ctx.plugins.item_status_changed(event=event, session=session, ctx=ctx):
        try:
            sent.append(send(session, ctx=ctx, partner_id=answer.partner_id,
                             message_type=answer.message_type, data=answer.data,
                             ref=answer.ref, actor=actor, role=role, now=now,
                             subject=message.subject, household_id=message.household_id,
                             related_message_id=message.id))
        except HubProblem as exc:
            # A plugin asked for something the core refuses: its bug, not the regisseur's.
            log.error("status back %s for message %s refused: %s", answer.message_type,
                      message.id, exc.title)
    return sent


def announce_item(session: Session, *, ctx: HubContext, item: InboxItem, status: str,
                  now: datetime, note: str | None = None, actor: str = "hub",
                  role: str = "system") -> list[OutboundMessageRow]:
    """:func:`announce_status` for the message behind an inbox item."""
    message = session.get(Message, item.message_id)
    if message is None:
        return []
    return announce_status(session, ctx=ctx, message=message, status=status, now=now,
                           note=note, actor=actor, role=role)
