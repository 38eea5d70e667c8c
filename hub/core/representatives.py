"""Representatives in the hub: recording them from BSNs, and who acts in a request.

The registry (:mod:`consent.representation`) works on pseudonyms and holds a
representative to their capacity. Here the hub turns BSNs into pseudonyms,
supplies the resident's 18th birthday from the resident registry (a parent or
guardian acts only while the resident is a minor), and resolves the
representation a caller names in ``on_behalf_of``.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from consent import registry
from consent.records import Representation
from hub.core.bsn import validate_bsn
from hub.core.context import HubContext
from hub.core.errors import FieldProblem, HubProblem
from hub.core.models import Resident
from hub.core.residents import resident_identity

_NL = ZoneInfo("Europe/Amsterdam")


def adult_at(birthdate: date) -> datetime:
    """The moment someone born on ``birthdate`` turns 18: midnight, Dutch time."""
    try:
        day = birthdate.replace(year=birthdate.year + 18)
    except ValueError:
        # Born on 29 February: 18 on 1 March in a year without one.
        day = date(birthdate.year + 18, 3, 1)
    return datetime.combine(day, time(0), tzinfo=_NL)


def add_representative(*, session: Session, ctx: HubContext, bsn: str, representative_bsn: str,
                       capacity: str, valid_from: datetime, valid_until: datetime | None,
                       recorded_by: str, reference: str, now: datetime) -> Representation:
    """Record that the holder of ``representative_bsn`` may act for the resident ``bsn``.

    The resident must be in the resident registry; for a parent or guardian
    their birthdate must be known there. Raises ValueError (bad BSN, unknown
    resident) or consent.errors.ConsentError naming the field.
    """
    subject = ctx.pseudonyms.subject(validate_bsn(bsn))
    representative = ctx.pseudonyms.subject(validate_bsn(representative_bsn))
    resident = session.get(Resident, subject)
    if resident is None:
        raise ValueError("the represented resident is not in the resident registry")
    birthdate = resident_identity(ctx, resident).get("birthdate")
    return registry.add_representation(
        session=session, subject=subject, representative=representative, capacity=capacity,
        valid_from=valid_from, valid_until=valid_until,
        adult_at=adult_at(date.fromisoformat(birthdate)) if birthdate else None,
        recorded_by=recorded_by, reference=reference, now=now)


def acting_for(*, session: Session, actor: str, representation_id: str,
               now: datetime) -> Representation:
    """The representation ``actor`` names to act on, if it is theirs and in force now.

    Raises HubProblem 404 if it is not theirs (the same as for no such
    representation) and 403 if it is ended or not yet in force. Whether it
    covers what they want to do is checked by the registry, per category.
    """
    try:
        representation = registry.get_representation(
            session=session, representation_id=representation_id, representative=actor)
    except registry.RepresentationNotFound:
        raise HubProblem(404, "Representation not found", [FieldProblem(
            "on_behalf_of", "no representation of yours has this id")]) from None
    if not representation.is_active_at(now):
        raise HubProblem(403, "Representation not in force", [FieldProblem(
            "on_behalf_of", "this representation is ended or not yet in force")])
    return representation
