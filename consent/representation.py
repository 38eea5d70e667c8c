"""Representatives: who may act for a resident, in which capacity, for which matters.

Dutch law gives four kinds of representative, each for its own matters, and
the registry holds a representative to exactly those (issue 4, item 1):

- a parent or guardian (gezag) acts for a minor in everything, and only until
  the resident turns 18;
- a curator (curatele) acts in money and personal matters alike;
- a mentor (mentorschap) acts in personal matters (care, health, living,
  safety), never in money;
- a bewindvoerder (beschermingsbewind) acts in money matters only.

The one check is :func:`may_act_for`: pure, over representations from any
source (this registry's table, or claims in an OIDC token), so every source
is held to the same rule. :func:`check_representation` is what the grant
functions call before they let a representative change anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, or_, select, update
from sqlalchemy.orm import Session

from consent.errors import ConsentError, NotFound
from consent.model import CATEGORIES, require_aware, within_calendar
from consent.records import Capacity, Representation
from consent.tables import consent_representations

__all__ = [
    "CAPACITY_CATEGORIES",
    "NotPermitted",
    "RepresentationNotFound",
    "add_representation",
    "capacity_allows",
    "check_representation",
    "end_representation",
    "find_representation",
    "get_representation",
    "list_representations",
    "may_act_for",
]

_MONEY = frozenset({"financieel"})

# Which data categories each capacity covers. Money is "financieel" only: a
# bewindvoerder manages money, not work or benefits decisions, and when in
# doubt the narrower reading protects the resident.
CAPACITY_CATEGORIES: dict[Capacity, frozenset[str]] = {
    Capacity.PARENT: CATEGORIES,
    Capacity.GUARDIAN: CATEGORIES,
    Capacity.CURATOR: CATEGORIES,
    Capacity.MENTOR: CATEGORIES - _MONEY - {"werk-inkomen"},
    Capacity.BEWINDVOERDER: _MONEY,
}

_FOR_MINORS = frozenset({Capacity.PARENT, Capacity.GUARDIAN})
_TEXT_MAX = 200


class NotPermitted(ConsentError):
    """A representative tried to act outside their capacity or period (the hub answers 403)."""


class RepresentationNotFound(NotFound):
    """No representation with that id (for this representative)."""


def capacity_allows(capacity: Capacity | str, category: str) -> bool:
    """True if a representative in ``capacity`` may act on data of ``category``."""
    try:
        return category in CAPACITY_CATEGORIES[Capacity(capacity)]
    except ValueError:
        return False


def may_act_for(
    *,
    actor: str,
    represented: str,
    category: str,
    at: datetime,
    representations: Iterable[Representation],
) -> Representation | None:
    """The representation that lets ``actor`` act for ``represented`` on ``category`` at ``at``.

    Returns None if there is none: then the actor may not act. Only
    representations naming exactly this actor and this resident, in force
    at ``at``, whose capacity covers the category, count. If several do,
    the earliest recorded is named, so the same input gives the same record.
    """
    require_aware("at", at)
    fitting = [
        r
        for r in representations
        if r.representative == actor
        and r.subject == represented
        and r.is_active_at(at)
        and capacity_allows(r.capacity, category)
    ]
    return min(fitting, key=lambda r: (r.recorded_at, r.id)) if fitting else None


def check_representation(
    representation: Representation | None,
    *,
    subject: str,
    categories: Iterable[str],
    at: datetime,
) -> None:
    """Raise NotPermitted unless ``representation`` may act for ``subject`` on all ``categories``.

    None means the resident acts in person, which is always allowed. The grant
    functions call this for every change a representative makes, whatever
    source the representation came from.
    """
    if representation is None:
        return
    if representation.subject != subject:
        raise NotPermitted("on_behalf_of", "this representation is for another resident")
    if not representation.is_active_at(at):
        raise NotPermitted("on_behalf_of", "this representation is not in force now")
    for category in sorted(categories):
        if not capacity_allows(representation.capacity, category):
            raise NotPermitted(
                "categories",
                f"a {Capacity(representation.capacity).value} may not act on {category!r}",
            )


def add_representation(
    *,
    session: Session,
    subject: str,
    representative: str,
    capacity: Capacity | str,
    valid_from: datetime,
    valid_until: datetime | None,
    adult_at: datetime | None,
    recorded_by: str,
    reference: str,
    now: datetime,
) -> Representation:
    """Record that ``representative`` may act for ``subject`` and return it.

    ``adult_at`` is the moment the resident turns 18 (None if unknown). A
    parent or guardian needs it: their representation ends then, whatever
    ``valid_until`` says, and cannot be recorded for an adult. Raises
    ConsentError naming the field for anything else that is wrong.
    """
    for name, value in (("valid_from", valid_from), ("valid_until", valid_until),
                        ("adult_at", adult_at), ("now", now)):
        try:
            require_aware(name, value)
        except ValueError:
            raise ConsentError(name, "must include a time zone") from None
        if value is not None and not within_calendar(value):
            raise ConsentError(name, "is outside the dates the hub can store")
    try:
        capacity = Capacity(capacity)
    except ValueError:
        known = ", ".join(c.value for c in Capacity)
        raise ConsentError("capacity", f"unknown capacity {capacity!r} (known: {known})") from None
    for name, value in (("subject", subject), ("representative", representative)):
        if not isinstance(value, str) or not value or len(value) > 64:
            raise ConsentError(name, "must be a pseudonym of 1 to 64 characters")
    if subject == representative:
        raise ConsentError("representative", "a resident does not represent themselves")
    for name, value in (("recorded_by", recorded_by), ("reference", reference)):
        if not isinstance(value, str) or not value.strip() or len(value) > _TEXT_MAX \
                or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ConsentError(name, f"must be 1 to {_TEXT_MAX} printable characters")
    if capacity in _FOR_MINORS:
        if adult_at is None:
            raise ConsentError("capacity", "a parent or guardian needs the resident's birthdate")
        if adult_at <= max(valid_from, now):
            raise ConsentError("capacity", "the resident is an adult: no parent or guardian")
        valid_until = adult_at if valid_until is None else min(valid_until, adult_at)
    if valid_until is not None and valid_until <= valid_from:
        raise ConsentError("valid_until", "must be later than valid_from")

    representation = Representation(
        id=str(uuid.uuid4()), subject=subject, representative=representative,
        capacity=capacity, valid_from=valid_from, valid_until=valid_until, ended_at=None,
        recorded_by=recorded_by.strip(), reference=reference.strip(), recorded_at=now,
    )
    session.execute(
        insert(consent_representations).values(
            id=representation.id, subject=subject, representative=representative,
            capacity=capacity.value, valid_from=valid_from, valid_until=valid_until,
            ended_at=None, recorded_by=representation.recorded_by,
            reference=representation.reference, recorded_at=now,
        )
    )
    # Read back, so the caller sees it as stored (times in UTC), like every other read.
    return get_representation(session=session, representation_id=representation.id)


def end_representation(
    *, session: Session, representation_id: str, now: datetime
) -> Representation:
    """End a representation at ``now`` (kept, never deleted); ending twice changes nothing."""
    require_aware("now", now)
    current = get_representation(session=session, representation_id=representation_id)
    if current.ended_at is None:
        session.execute(
            update(consent_representations)
            .where(consent_representations.c.id == representation_id)
            .values(ended_at=now)
        )
    return get_representation(session=session, representation_id=representation_id)


def get_representation(
    *, session: Session, representation_id: str, representative: str | None = None
) -> Representation:
    """One representation; with ``representative``, only if it names that representative.

    Raises RepresentationNotFound otherwise, the same for someone else's as
    for none at all.
    """
    query = select(consent_representations).where(
        consent_representations.c.id == representation_id
    )
    if representative is not None:
        query = query.where(consent_representations.c.representative == representative)
    row = session.execute(query).one_or_none()
    if row is None:
        raise RepresentationNotFound(representation_id)
    return _representation(row)


def list_representations(
    *, session: Session, subject: str | None = None, representative: str | None = None
) -> list[Representation]:
    """Representations for a resident and/or by a representative, oldest first, ended ones too."""
    query = select(consent_representations)
    if subject is not None:
        query = query.where(consent_representations.c.subject == subject)
    if representative is not None:
        query = query.where(consent_representations.c.representative == representative)
    rows = session.execute(
        query.order_by(consent_representations.c.recorded_at, consent_representations.c.id)
    ).all()
    return [_representation(r) for r in rows]


def find_representation(
    *, session: Session, actor: str, represented: str, category: str, at: datetime
) -> Representation | None:
    """:func:`may_act_for` over this registry's stored representations."""
    rows = session.execute(
        select(consent_representations).where(
            consent_representations.c.representative == actor,
            consent_representations.c.subject == represented,
            or_(consent_representations.c.ended_at.is_(None),
                consent_representations.c.ended_at > at),
        )
    ).all()
    return may_act_for(actor=actor, represented=represented, category=category, at=at,
                       representations=[_representation(r) for r in rows])


def _representation(row: Row[Any]) -> Representation:
    return Representation(
        id=row.id, subject=row.subject, representative=row.representative,
        capacity=Capacity(row.capacity), valid_from=row.valid_from, valid_until=row.valid_until,
        ended_at=row.ended_at, recorded_by=row.recorded_by, reference=row.reference,
        recorded_at=row.recorded_at,
    )
