"""The designated regisseur of a household: the one professional confidential items go to.

"1 huishouden, 1 plan, 1 regisseur". Most items reach the wijk's inbox, where
every regisseur of the wijk may read them; a *confidential* item (a type with
a safety basis, e.g. a Veilig Thuis report) reaches only the household's
designated regisseur (issue 7). Designating one re-addresses the household's
confidential items, so a hand-over to a colleague takes the whole file along
and the previous regisseur no longer sees it.

Who may designate: a team lead of the household's wijk, always; a regisseur of
that wijk only for a household without one (claiming it) or as its current
regisseur (handing it over), and never while a confidential item of the
household waits for assignment: that is the team lead's decision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub.core.audit import record_event
from hub.core.context import HubContext
from hub.core.errors import FieldProblem, HubProblem
from hub.core.models import Household, InboxItem, Resident

# A user id as the identity provider issues it (the token's ``sub``): printable, no spaces.
USER_PATTERN = re.compile(r"[\x21-\x7e]{1,200}")


@dataclass(frozen=True)
class Designation:
    """The outcome of a designation: the household, its wijk, the regisseur before and now,
    and how many confidential items went along to the new regisseur."""

    household_id: str
    wijk: str
    regisseur: str
    previous: str | None
    moved_items: int


def valid_user(user: object, field: str = "user") -> str:
    """The user id, or a 422 naming ``field``: printable characters, no spaces, ≤ 200."""
    if not isinstance(user, str) or not USER_PATTERN.fullmatch(user):
        raise HubProblem(422, "Invalid input", [FieldProblem(
            field, "must be the regisseur's user id: 1 to 200 printable characters, no spaces")])
    return user


def household_of_subject(*, session: Session, subject: str) -> Household | None:
    """The household of the resident with this pseudonym, or None if not in the registry."""
    resident = session.get(Resident, subject)
    return session.get(Household, resident.household_id) if resident is not None else None


def waiting_for_assignment(*, session: Session, household_id: str) -> int:
    """How many confidential items of the household wait for a designated regisseur."""
    return session.scalar(select(func.count()).select_from(InboxItem).where(
        InboxItem.household_id == household_id, InboxItem.confidential.is_(True),
        InboxItem.addressed_to.is_(None)))


def check_may_designate(*, session: Session, household: Household, role: str, user: str,
                        wijk: str | None) -> None:
    """Raise a HubProblem unless this caller may designate the household's regisseur.

    Another wijk's household answers 404, so an id is not confirmed; the rules in the
    module docstring answer 403.
    """
    if role == "admin":
        return  # the ``hub`` command on the server: the operator's own authority
    if role not in ("teamlead", "regisseur") or wijk != household.wijk:
        raise HubProblem(404, "Household not found")
    if role == "teamlead":
        return
    if household.regisseur not in (None, user):
        raise HubProblem(403, "Only a team lead or the household's own regisseur may hand "
                              "the household over")
    if waiting_for_assignment(session=session, household_id=household.id):
        # A regisseur claiming a household would also claim its waiting safety report.
        raise HubProblem(403, "A confidential report waits for this household: the team lead "
                              "designates its regisseur")


def designate(*, session: Session, ctx: HubContext, household: Household, user: str,
              actor: str, role: str, now: datetime, system: str | None = None,
              client: str | None = None) -> Designation:
    """Make ``user`` the household's designated regisseur, in the caller's transaction.

    Every confidential item of the household (waiting or addressed to the previous
    regisseur) is addressed to ``user``. Audited as ``household.designate`` with the
    household id, the previous and the new regisseur, and the items moved. The caller
    checks the right to do so first (:func:`check_may_designate`); ``system`` and
    ``client`` default to the request's (see :func:`hub.core.audit.record_event`).
    """
    user = valid_user(user)
    previous = household.regisseur
    household.regisseur = user
    moved = session.execute(
        update(InboxItem)
        .where(InboxItem.household_id == household.id, InboxItem.confidential.is_(True),
               InboxItem.addressed_to.is_distinct_from(user))
        .values(addressed_to=user, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount or 0
    record_event(session, ctx=ctx, action="household.designate", actor=actor, role=role,
                 system=system, client=client,
                 data={"household_id": household.id, "wijk": household.wijk,
                       "regisseur": user, "previous": previous, "moved_items": moved})
    return Designation(household_id=household.id, wijk=household.wijk, regisseur=user,
                       previous=previous, moved_items=moved)
