"""The referral Tasks the hub holds: create, move through their states, show, search.

Service functions take the caller's session and never commit: a Task changes in
the same transaction as the message or inbox item that made it change.

How the core's events move a GP's Task (``direction`` in), and why:

- stored: ``requested``, as the GP sent it;
- ``held`` (waiting for the resident's consent) or ``delivered``: ``received``;
- ``refused`` (the resident said no): ``rejected``, with a ``statusReason``;
- ``taken_up``: ``accepted`` and at once ``in-progress``. Taking up *is* starting
  the work, and no later regisseur action in the hub could mark the start, so
  both steps happen together and the practice is told the final one;
- ``closed`` after take-up: ``completed``, with the closing summary as a
  Communication only where the resident's consent covers sharing it back;
- ``closed`` without take-up: ``rejected`` (not taken up).

A status never moves back: a Task that is ``completed`` or ``rejected`` stays so.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.plugin import (
    HubContext,
    Message,
    open_ref,
    sender_item,
)
from plugins.huisarts.models import ReferralTask
from plugins.huisarts.referral import OWNER_REFERENCE, WIJKHUB

TASK_ID_SYSTEM = f"{WIJKHUB}/NamingSystem/task"
# Ids derive from the message id, so a status notification can name the Task and its
# ServiceRequest from the message alone, and a replayed message gives the same ids.
_ID_NAMESPACE = uuid.UUID("5b0f3c9e-2a51-4d7e-9c1a-6f0e8d4b7a21")
FINAL = frozenset({"completed", "rejected", "cancelled", "failed"})
# The order a Task's states are reached in; a move to an earlier one is ignored.
# It is also the Task's version (meta.versionId): a state's version never changes, so a
# late retry of an older notification is recognisable by its lower version.
ORDER = {"requested": 1, "received": 2, "accepted": 3, "in-progress": 4, "completed": 5,
         "rejected": 5, "cancelled": 5, "failed": 5}
# Reasons the GP reads: Dutch, and saying nothing about the resident beyond the outcome.
REASON_NO_CONSENT = "De patiënt heeft geen toestemming gegeven om de verwijzing te delen."
REASON_NOT_TAKEN_UP = "Het wijkteam heeft de verwijzing niet opgepakt."


@dataclass(frozen=True)
class Move:
    """One state a Task reached: the status and the version it got."""

    status: str
    version: int


def task_id_for(message_id: str) -> str:
    """The Task id of a message's referral."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"task:{message_id}"))


def service_request_id_for(message_id: str) -> str:
    """The ServiceRequest id of a message's referral."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"service-request:{message_id}"))


def create_inbound(*, session: Session, partner_id: str, message_id: str,
                   requester: str | None, now: datetime) -> ReferralTask:
    """The Task of a GP's referral, stored once per message (a resend finds the first).

    The GP's own Task identifier is not stored here: it is the message's
    ``source_ref``, which the core keeps sealed (issue 13, item 10); readers pass
    it to :func:`to_fhir` (:func:`identifier_of` opens it).
    """
    existing = session.scalar(select(ReferralTask).where(ReferralTask.message_id == message_id))
    if existing is not None:
        return existing
    task = ReferralTask(id=task_id_for(message_id), direction="in", partner_id=partner_id,
                        message_id=message_id,
                        service_request_id=service_request_id_for(message_id),
                        identifier=None, status="requested", requester=requester,
                        owner=OWNER_REFERENCE, version=1, authored_at=now, last_updated=now)
    session.add(task)
    session.flush()
    return task


def create_outbound(*, session: Session, partner_id: str, message_id: str, requester: str,
                    now: datetime) -> ReferralTask:
    """The Task of a regisseur's referral to a POH; the practice owns it."""
    existing = session.scalar(select(ReferralTask).where(ReferralTask.message_id == message_id))
    if existing is not None:
        return existing
    task = ReferralTask(id=task_id_for(message_id), direction="out", partner_id=partner_id,
                        message_id=message_id,
                        service_request_id=service_request_id_for(message_id),
                        identifier=None, status="requested", requester=requester,
                        owner=f"Organization/{partner_id}", version=1, authored_at=now,
                        last_updated=now)
    session.add(task)
    session.flush()
    return task


def for_message(*, session: Session, message_id: str) -> ReferralTask | None:
    """The Task that belongs to a message, if the plugin made one."""
    return session.scalar(select(ReferralTask).where(ReferralTask.message_id == message_id)
                          .with_for_update())


def move(*, task: ReferralTask, status: str, now: datetime,
         reason: str | None = None) -> Move | None:
    """Move a Task forward to ``status``; None (and nothing changed) if that is no step on."""
    if task.status in FINAL or ORDER[status] <= ORDER.get(task.status, 0):
        return None
    task.status = status
    task.status_reason = reason
    task.version = ORDER[status]
    task.last_updated = now
    return Move(status, task.version)


def core_state(message: Message, item: Any) -> tuple[str, str | None]:
    """The Task status (and reason) that the core's state of a referral stands for now;
    ``item``: the inbox item it became (hub.core.reads.sender_item), or None."""
    if item is None:
        if message.status == "closed":  # the resident denied the consent request
            return "rejected", REASON_NO_CONSENT
        return ("received", None) if message.status == "held" else ("requested", None)
    if item.status == "taken_up":
        return "in-progress", None
    if item.status == "closed":
        return ("completed", None) if item.taken_up else ("rejected", REASON_NOT_TAKEN_UP)
    return "received", None


def refresh(*, session: Session, partner_id: str, now: datetime) -> int:
    """Bring the partner's open Tasks up to the core's state; returns how many moved.

    The status hook moves a Task the moment the core changes; this catches up
    whatever a hook could not (a plugin switched off at the time, a hook that
    failed), so what a GP reads never lags behind what happened.
    """
    rows = session.execute(
        select(ReferralTask, Message)
        .join(Message, Message.id == ReferralTask.message_id)
        .where(ReferralTask.partner_id == partner_id, ReferralTask.direction == "in",
               ReferralTask.status.not_in(FINAL))).all()
    moved = 0
    for task, message in rows:
        status, reason = core_state(message, sender_item(session=session, message=message))
        if move(task=task, status=status, now=now, reason=reason) is not None:
            moved += 1
    return moved


def _instant(value: datetime) -> str:
    if value.tzinfo is None:  # SQLite hands back what was stored as UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _requester_reference(value: str | None) -> dict[str, Any] | None:
    if not value:
        return None
    if "|" in value:
        system, _, code = value.partition("|")
        return {"identifier": {"system": system, "value": code}} if system else \
            {"identifier": {"value": code}}
    return {"reference": value}


def identifier_of(*, session: Session, ctx: HubContext, task: ReferralTask) -> str | None:
    """The GP's own Task identifier (``system|value``): its message's sealed source_ref.

    A row stored before the identifier was sealed still holds it in clear.
    """
    message = session.get(Message, task.message_id) if task.direction == "in" else None
    return open_ref(ctx, message) if message is not None else task.identifier


def to_fhir(task: ReferralTask, *, base: str = "", identifier: str | None = None
            ) -> dict[str, Any]:
    """The Task as R4 JSON, as the hub holds it now, with the GP's ``identifier``
    (from :func:`identifier_of`) first among its identifiers.

    ``for`` is left out on purpose: the hub keeps no BSN, and the GP knows its own
    patient by the Task's identifier.
    """
    identifier = identifier or task.identifier
    out: dict[str, Any] = {
        "resourceType": "Task",
        "id": task.id,
        "meta": {"versionId": str(task.version), "lastUpdated": _instant(task.last_updated)},
        "identifier": [{"system": TASK_ID_SYSTEM, "value": task.id}],
        "status": task.status,
        "intent": "order",
        "focus": {"reference": f"{base}ServiceRequest/{task.service_request_id}"},
        "authoredOn": _instant(task.authored_at),
        "lastModified": _instant(task.last_updated),
        "owner": {"reference": task.owner},
    }
    if identifier:
        system, _, value = identifier.partition("|")
        ident = {"value": value}
        if system:
            ident["system"] = system
        out["identifier"].insert(0, ident)
    if task.status_reason:
        out["statusReason"] = {"text": task.status_reason}
    requester = _requester_reference(task.requester)
    if requester:
        out["requester"] = requester
    if task.owner == OWNER_REFERENCE:
        out["owner"]["display"] = "Sociaal wijkteam"
    return out


# --- search -------------------------------------------------------------------------------

STATUSES = ("draft", "requested", "received", "accepted", "rejected", "ready", "cancelled",
            "in-progress", "on-hold", "failed", "completed", "entered-in-error")
_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")


class SearchError(ValueError):
    """A search parameter the hub cannot honour: which one, and why."""

    def __init__(self, param: str, reason: str) -> None:
        super().__init__(f"{param}: {reason}")
        self.param = param
        self.reason = reason


def _date_bound(raw: str) -> tuple[str, datetime]:
    prefix = raw[:2] if raw[:2] in _PREFIXES else "eq"
    value = raw[2:] if raw[:2] in _PREFIXES else raw
    if prefix in ("ne", "sa", "eb", "eq"):
        raise SearchError("_lastUpdated", "use the prefixes gt, ge, lt or le with a "
                          "date-time, e.g. gt2026-11-23T10:00:00Z")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SearchError("_lastUpdated", "must be a date or date-time after its prefix, "
                          "e.g. ge2026-11-23 or gt2026-11-23T10:00:00Z") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        # Compared in UTC: an offset that carries it past year 1 or 9999 cannot be.
        when = when.astimezone(UTC)
    except OverflowError:
        raise SearchError("_lastUpdated", "is outside the dates the hub can compare") from None
    return prefix, when


def search(*, session: Session, partner_id: str, params: Mapping[str, list[str]],
           limit: int) -> list[ReferralTask]:
    """The partner's own Tasks matching every parameter (AND), newest change first.

    Supported: ``status`` (comma = OR), ``owner`` and ``requester`` (a reference, or
    ``system|value`` of an identifier), ``_lastUpdated`` (gt/ge/lt/le, repeatable),
    ``_id``. Anything else is refused, so a poller never gets more than it asked for.
    """
    stmt = select(ReferralTask).where(ReferralTask.partner_id == partner_id,
                                      ReferralTask.direction == "in")
    for name, values in params.items():
        if name in ("_format", "_count"):
            continue
        if name == "status":
            for value in values:
                wanted = [v for v in value.split(",") if v]
                bad = [v for v in wanted if v not in STATUSES]
                if bad or not wanted:
                    raise SearchError("status", "must be Task status codes, e.g. "
                                      "requested,received,in-progress")
                stmt = stmt.where(ReferralTask.status.in_(wanted))
        elif name == "_id":
            for value in values:
                stmt = stmt.where(ReferralTask.id.in_(value.split(",")))
        elif name in ("owner", "requester", "owner:identifier", "requester:identifier"):
            column = ReferralTask.owner if name.startswith("owner") else ReferralTask.requester
            for value in values:
                if not value or len(value) > 200:
                    raise SearchError(name, "must be a reference or system|value")
                options = [value]
                if name.startswith("owner") and value in ("wijkteam", OWNER_REFERENCE,
                                                          f"{WIJKHUB}/NamingSystem/recipient"
                                                          "|wijkteam"):
                    options = [OWNER_REFERENCE]
                stmt = stmt.where(column.in_(options))
        elif name == "_lastUpdated":
            for value in values:
                prefix, when = _date_bound(value)
                col = ReferralTask.last_updated
                stmt = stmt.where({"gt": col > when, "ge": col >= when, "lt": col < when,
                                   "le": col <= when}[prefix])
        else:
            raise SearchError(name, "is not a supported search parameter; use status, owner, "
                              "requester, _lastUpdated, _id or _count")
    stmt = stmt.order_by(ReferralTask.last_updated.desc(), ReferralTask.id).limit(limit)
    return list(session.scalars(stmt))
