"""``GET /api/v1/caseload``: the caseload for a wijkteam's own case system (issue 17, item 1).

The same function as the ``/werkplek`` page (:func:`hub.core.caseload.read_caseload`):
a regisseur gets the households they are the designated regisseur of; a team lead
the wijk's households without a regisseur and the triage items. Paged, searchable.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from hub.api.deps import ContextDep, InboxReaderDep, SessionDep
from hub.api.inbox import item_public
from hub.api.schemas import InboxItemPublic
from hub.core.caseload import CaseloadEntry, read_caseload

router = APIRouter(prefix="/api/v1/caseload", tags=["regisseur"])


class CaseloadEntryPublic(BaseModel):
    """One household of the caseload (or, for ``triage``, one item without a household)."""

    section: Literal["mine", "unassigned", "triage"]
    household_id: str | None
    address: str | None = Field(description="Street, house number, postcode and place, "
                                            "as far as the registry has them.")
    names: list[str] = Field(description="The residents you may know by name: about whom "
                                         "you see an item, or who consented for the wijkteam.")
    housemates: int = Field(description="Other residents at the address (not named).")
    regisseur: str | None
    open_items: list[InboxItemPublic] = Field(description="Visible items not closed, "
                                                          "newest first.")
    newest: InboxItemPublic | None = Field(description="The newest visible item.")
    outreach_due: date | None = Field(description="When the next outreach is due (when the "
                                                  "hub runs outreach cases), else null.")
    evaluation_date: str | None = Field(description="The plan's evaluation date, if any.")


class CaseloadPage(BaseModel):
    """One page of the caseload; ``total`` counts every line before paging."""

    total: int
    offset: int
    limit: int
    entries: list[CaseloadEntryPublic]


def entry_public(entry: CaseloadEntry) -> CaseloadEntryPublic:
    """The API shape of one caseload line."""
    return CaseloadEntryPublic(
        section=entry.section, household_id=entry.household_id, address=entry.address,
        names=entry.names, housemates=entry.housemates, regisseur=entry.regisseur,
        open_items=[item_public(v) for v in entry.open_items],
        newest=item_public(entry.newest) if entry.newest else None,
        outreach_due=entry.outreach_due, evaluation_date=entry.evaluation_date)


@router.get("", response_model=CaseloadPage)
def caseload(ctx: ContextDep, session: SessionDep, staff: InboxReaderDep,
             q: Annotated[str | None, Query(max_length=200, description=(
                 "Name, street, place, postcode or house number; whole words, all must "
                 "match."))] = None,
             offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
             limit: Annotated[int, Query(ge=1, le=200)] = 25) -> CaseloadPage:
    """My caseload: my households (regisseur), or the wijk's unassigned households and
    triage items (team lead), each with its open items, the newest signal, the due
    outreach and the plan's evaluation date. Items count only where the inbox would
    show them to you; the read is audited."""
    load = read_caseload(session=session, ctx=ctx, viewer=staff, now=ctx.clock(), q=q,
                         offset=offset, limit=limit)
    page = CaseloadPage(total=load.total, offset=offset, limit=limit,
                        entries=[entry_public(e) for e in load.entries])
    session.commit()
    return page
