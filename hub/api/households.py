"""Households: who is their designated regisseur (issue 7), for the regisseur's screens.

``POST /api/v1/households/{id}/regisseur`` designates the regisseur that
confidential items of the household go to (rules: hub.core.households).
``GET /api/v1/households/{id}`` tells the wijk's staff who that is.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from hub.api.deps import ContextDep, InboxReaderDep, SessionDep
from hub.core.audit import as_actor
from hub.core.households import check_may_designate, designate, waiting_for_assignment
from hub.core.reads import get_household

router = APIRouter(prefix="/api/v1/households", tags=["regisseur"])
IdPath = Annotated[str, Path(min_length=1, max_length=64)]


class RegisseurAssign(BaseModel):
    """Who becomes the household's designated regisseur."""

    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=1, max_length=200,
                      description="The regisseur's user id (the token's sub).")


class HouseholdPublic(BaseModel):
    """A household as the wijk's staff see it: no names, no address."""

    id: str
    wijk: str
    regisseur: str | None = Field(description="The designated regisseur, or null.")
    waiting_for_assignment: int = Field(
        description="Confidential items that wait for a designated regisseur.")


class DesignationPublic(HouseholdPublic):
    """The household after a designation."""

    previous: str | None
    moved_items: int = Field(description="Confidential items now addressed to the regisseur.")


@router.get("/{household_id}", response_model=HouseholdPublic)
def household(household_id: IdPath, session: SessionDep,
              reader: InboxReaderDep) -> HouseholdPublic:
    """A household of the caller's wijk: its designated regisseur, if any."""
    found = get_household(session=session, viewer=reader, household_id=household_id)
    return HouseholdPublic(id=found.id, wijk=found.wijk, regisseur=found.regisseur,
                           waiting_for_assignment=waiting_for_assignment(
                               session=session, household_id=found.id))


@router.post("/{household_id}/regisseur", response_model=DesignationPublic)
def assign_regisseur(household_id: IdPath, body: RegisseurAssign, ctx: ContextDep,
                     session: SessionDep, staff: InboxReaderDep) -> DesignationPublic:
    """Designate the household's regisseur: a team lead of its wijk, or a regisseur of the
    wijk claiming a household without one / handing over their own. Confidential items
    of the household go to the new regisseur; audited as ``household.designate``."""
    found = get_household(session=session, viewer=staff, household_id=household_id)
    check_may_designate(session=session, household=found, role=staff.role, user=staff.user,
                        wijk=staff.wijk)
    done = designate(session=session, ctx=ctx, household=found, user=body.user,
                     now=ctx.clock(), **as_actor(staff))
    session.commit()
    return DesignationPublic(id=done.household_id, wijk=done.wijk, regisseur=done.regisseur,
                             previous=done.previous, moved_items=done.moved_items,
                             waiting_for_assignment=0)
