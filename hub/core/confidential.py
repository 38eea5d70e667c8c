"""Confidential inbox items: addressed to one regisseur, opened only with a reason (issue 7).

A message type is confidential when the policy file gives it a safety basis
(meldrecht, DESIGN.md "Consent and legal basis", 3): whatever basis it was
delivered on, its item goes to the household's designated regisseur only.
Without one, it waits for the wijk's team leads, never the whole wijkteam.

Lists show a confidential item with a neutral line ("Vertrouwelijk bericht van
Veilig Thuis") and no data. Opening it needs a reason, stored sealed in
``confidential_reads`` (a professional's free text: never logged, never in the
audit chain itself), and recorded as an audit event ``read.confidential`` that
names that row.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, or_, true
from sqlalchemy.orm import Session

from hub.core.audit import as_actor, basis_of, record_event
from hub.core.context import HubContext
from hub.core.errors import FieldProblem, HubProblem
from hub.core.models import ConfidentialRead, Household, InboxItem
from hub.core.routing_reads import RoutingReads

MAX_REASON = 1000
# The sealed reasons are re-sealed on key rotation: see SEALED_COLUMNS in hub.core.reencrypt.


def is_confidential_type(ctx: HubContext, message_type: str) -> bool:
    """True when the policy gives this type a safety basis: its items are confidential."""
    type_policy = ctx.policy.for_type(message_type)
    return type_policy is not None and type_policy.safety is not None


def neutral_summary(source_name: str) -> str:
    """What a list shows of a confidential item: who sent it, nothing of its content."""
    return f"Vertrouwelijk bericht van {source_name}"


def address_item(*, session: Session, ctx: HubContext, item: InboxItem,
                 reads: RoutingReads | None = None) -> None:
    """Mark a new item confidential when its type is, addressed to the designated regisseur.

    No household (an unmatched subject) or no designated regisseur: ``addressed_to``
    stays None and the wijk's team leads see it, to designate one. With ``reads``
    (the router's batch) the household read when matching is used.
    """
    if not is_confidential_type(ctx, item.type):
        item.confidential, item.addressed_to = False, None
        return
    household = None
    if item.household_id:
        household = reads.households.get(item.household_id) if reads is not None else None
        if household is None:
            household = session.get(Household, item.household_id)
    item.confidential = True
    item.addressed_to = household.regisseur if household is not None else None


def visible_to(viewer: Any):
    """The SQL condition for the items ``viewer`` may see (beyond the wijk check).

    A regisseur: the ordinary items and the confidential ones addressed to them. A team
    lead: the ordinary items and the confidential ones that wait for a regisseur. None
    (the hub itself): everything.
    """
    if viewer is None:
        return true()
    ordinary = InboxItem.confidential.is_(False)
    if viewer.role == "regisseur":
        return or_(ordinary, InboxItem.addressed_to == viewer.user)
    if viewer.role == "teamlead":
        return or_(ordinary, and_(InboxItem.confidential.is_(True),
                                  InboxItem.addressed_to.is_(None)))
    return false()


def checked_reason(reason: object) -> str:
    """The reader's reason, stripped, or a 422 naming ``reason``."""
    if reason is None:
        raise HubProblem(422, "A reason is required", [FieldProblem(
            "reason", "this item is confidential: say why you open it")])
    if not isinstance(reason, str) or not reason.strip():
        raise HubProblem(422, "A reason is required", [FieldProblem(
            "reason", "must not be blank: say why you open this confidential item")])
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise HubProblem(422, "Invalid input", [FieldProblem(
            "reason", f"must be at most {MAX_REASON} characters")])
    if any(ord(c) < 32 and c not in "\n\t" for c in reason):
        raise HubProblem(422, "Invalid input", [FieldProblem(
            "reason", "must not contain control characters")])
    return reason


def record_read(*, session: Session, ctx: HubContext, item: InboxItem, principal: Any,
                reason: str, fields: list[str], now: datetime) -> ConfidentialRead:
    """Store the reason sealed and audit the opening, in the caller's transaction.

    The audit event (``read.confidential``) carries the item, the fields shown and the
    id of the sealed reason; the reason itself stays out of the chain, so key rotation
    can re-seal it and no log ever holds it.
    """
    who = as_actor(principal)
    read = ConfidentialRead(id=str(uuid.uuid4()), item_id=item.id, actor=who["actor"],
                            role=who["role"], at=now, reason_sealed="")
    read.reason_sealed = ctx.cipher.seal(reason, context=f"read-reason:{read.id}")
    session.add(read)
    record_event(session, ctx=ctx, action="read.confidential", subject=item.subject,
                 basis=basis_of(item.basis, item.basis_ref),
                 data={"item_id": item.id, "type": item.type, "fields": sorted(fields),
                       "read_id": read.id}, **who)
    return read


def read_reason(ctx: HubContext, read: ConfidentialRead) -> str:
    """The reason a reader gave, opened (for whoever reviews the reads)."""
    return ctx.cipher.open(read.reason_sealed, context=f"read-reason:{read.id}")
