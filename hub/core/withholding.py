"""Keeping a safety report out of the resident's own overview, on record and reviewed.

The policy file decides (``withhold_from_resident`` on a safety basis, issue 7):
a report that could endanger a child or a victim if the resident read it (from
Veilig Thuis, or the regisseur's own report to it) is not shown in
``/me/data``, ``/me/disclosures`` or ``/me/audit`` while it is withheld. The
withholding itself is a record (who, when, the reason code, the review date),
listed for the wijk's team leads, who review it: extend it to a new review
date, or end it, after which the resident sees the report as any other. A
report not yet routed, of a type the policy withholds, is not shown either, so
nothing slips through between arrival and delivery.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from hub.core.audit import record_event
from hub.core.context import HubContext
from hub.core.errors import FieldProblem, HubProblem
from hub.core.ids import new_uuid7
from hub.core.message_rows import RoutedMessage
from hub.core.models import InboxItem, Message, Withholding
from hub.core.routing_reads import RoutingReads

# Not yet decided: a message of a withheld type in these states is not shown either.
_UNROUTED = ("accepted",)


def _withholding_basis(ctx: HubContext, message_type: str):
    type_policy = ctx.policy.for_type(message_type)
    if type_policy is None or type_policy.safety is None:
        return None
    basis = ctx.policy.safety.get(type_policy.safety)
    return basis if basis is not None and basis.withhold_from_resident else None


def withhold(*, session: Session, ctx: HubContext, message_id: str, message_type: str,
             subject: str | None, wijk: str | None, household_id: str | None,
             item_id: str | None, now: datetime, system: str | None = None,
             reads: RoutingReads | None = None) -> Withholding | None:
    """Start a withholding for a message about ``subject`` when the policy says so.

    ``message_id`` names an inbound message (with its inbox ``item_id``) or an
    outbound one (a report the regisseur sent about the resident). Recorded by the
    policy (``withheld_by = "policy:<basis>"``), reviewed within the basis'
    ``review_days``, audited as ``withholding.start`` (which the resident does not
    see while it lasts). Idempotent: a message is withheld once. With ``reads`` (the
    router's batch, :func:`prefetch_withholdings`) the existing one is looked up there.
    """
    basis = _withholding_basis(ctx, message_type)
    if basis is None or subject is None:
        return None
    if reads is not None and message_id in reads.withholdings:
        existing = reads.withholdings[message_id]
    else:
        existing = session.scalar(select(Withholding).where(
            Withholding.message_id == message_id))
    if existing is not None:
        return existing
    row = Withholding(
        id=new_uuid7(), message_id=message_id, item_id=item_id, subject=subject,
        wijk=wijk, household_id=household_id, reason_code=basis.withhold_reason,
        withheld_by=f"policy:{basis.key}", withheld_at=now,
        review_at=now + timedelta(days=basis.review_days))
    session.add(row)
    if reads is not None:
        reads.withholdings[message_id] = row
    record_event(session, ctx=ctx, action="withholding.start", actor=f"policy:{basis.key}",
                 role="system", subject=subject, system=system,
                 data={"withholding_id": row.id, "item_id": item_id, "message_id": message_id,
                       "type": message_type, "reason_code": row.reason_code,
                       "review_at": row.review_at.isoformat()})
    return row


def withhold_on_delivery(*, session: Session, ctx: HubContext, item: InboxItem,
                         message: Message | RoutedMessage, now: datetime,
                         reads: RoutingReads | None = None) -> Withholding | None:
    """:func:`withhold` for an inbound message the router just delivered to ``item``."""
    return withhold(session=session, ctx=ctx, message_id=message.id, message_type=message.type,
                    subject=item.subject, wijk=item.wijk, household_id=item.household_id,
                    item_id=item.id, now=now, system="worker", reads=reads)


def prefetch_withholdings(*, session: Session, ctx: HubContext, reads: RoutingReads,
                          messages: list[Message]) -> None:
    """Read into ``reads`` the withholdings of those ``messages`` whose type the policy
    withholds: one select (none when no type in the batch is withheld)."""
    ids = sorted({m.id for m in messages if _withholding_basis(ctx, m.type) is not None}
                 - reads.withholdings.keys())
    if not ids:
        return
    for message_id in ids:
        reads.withholdings[message_id] = None
    for row in session.scalars(select(Withholding).where(Withholding.message_id.in_(ids))):
        reads.withholdings[row.message_id] = row


def _active(now: datetime):
    return and_(Withholding.ended_at.is_(None),
                or_(Withholding.ends_at.is_(None), Withholding.ends_at > now))


def withheld_messages(*, session: Session, ctx: HubContext, subject: str,
                      now: datetime) -> set[str]:
    """The ids of the messages about ``subject`` that the resident must not see now."""
    ids = set(session.scalars(select(Withholding.message_id).where(
        Withholding.subject == subject, _active(now))))
    withheld_types = [name for name in ctx.policy.types if _withholding_basis(ctx, name)]
    if withheld_types:
        ids |= set(session.scalars(select(Message.id).where(
            Message.subject == subject, Message.type.in_(withheld_types),
            Message.status.in_(_UNROUTED))))
    return ids


def withheld_items(*, session: Session, subject: str, now: datetime) -> set[str]:
    """The inbox item ids about ``subject`` whose withholding is active now."""
    return {i for i in session.scalars(select(Withholding.item_id).where(
        Withholding.subject == subject, _active(now))) if i}


def hides_event(data: dict[str, Any] | None, messages: set[str], items: set[str]) -> bool:
    """True when an audit event's data names a withheld message or item."""
    data = data or {}
    return data.get("message_id") in messages or data.get("item_id") in items


def status_of(row: Withholding, now: datetime) -> str:
    """``active``, ``review_due`` (active and past its review date) or ``ended``."""
    if row.ended_at is not None or (row.ends_at is not None and row.ends_at <= now):
        return "ended"
    return "review_due" if row.review_at <= now else "active"


def list_withholdings(*, session: Session, wijk: str | None, status: str,
                      now: datetime, limit: int, offset: int) -> tuple[int, list[Withholding]]:
    """Withholdings of a wijk (None: every wijk), review date first, with the total.

    ``status``: ``active`` (including those due for review), ``review_due``, ``ended``
    or ``all``.
    """
    rows = session.scalars(select(Withholding).where(
        *([Withholding.wijk == wijk] if wijk is not None else []))
        .order_by(Withholding.review_at, Withholding.id)).all()
    if status == "active":
        rows = [r for r in rows if status_of(r, now) != "ended"]
    elif status != "all":
        rows = [r for r in rows if status_of(r, now) == status]
    return len(rows), rows[offset:offset + limit]


def review(*, session: Session, ctx: HubContext, row: Withholding, decision: str,
           review_at: datetime | None, actor: str, role: str, now: datetime) -> Withholding:
    """A team lead's review: ``extend`` to a new review date, or ``end`` the withholding.

    Ending shows the report to the resident from now on. A review of an ended
    withholding is a 409. Audited as ``withholding.review`` or ``withholding.end``.
    """
    if status_of(row, now) == "ended":
        raise HubProblem(409, "This withholding has already ended")
    if decision == "end":
        row.ended_at, row.ended_by = now, actor
        action = "withholding.end"
    else:
        if review_at is None:
            # The review period of the basis that started it (its key is in withheld_by).
            key = row.withheld_by.removeprefix("policy:")
            basis = ctx.policy.safety.get(key)
            review_at = now + timedelta(days=basis.review_days if basis and basis.review_days
                                        else 28)
        if review_at <= now or review_at > now + timedelta(days=366):
            raise HubProblem(422, "Invalid input", [FieldProblem(
                "review_at", "must be in the future, at most a year from now")])
        row.review_at = review_at
        action = "withholding.review"
    row.reviewed_at, row.reviewed_by = now, actor
    record_event(session, ctx=ctx, action=action, actor=actor, role=role, subject=row.subject,
                 data={"withholding_id": row.id, "item_id": row.item_id,
                       "message_id": row.message_id, "decision": decision,
                       "review_at": row.review_at.isoformat()})
    return row
