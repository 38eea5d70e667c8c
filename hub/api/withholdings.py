"""Withholdings: safety reports kept out of a resident's overview, for review (issue 7).

Team leads see and review their wijk's withholdings; operators see every wijk's
(ids, dates and reason codes only: no resident, no content) but review none.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hub.api.deps import ContextDep, IdPath, OversightDep, SessionDep, TeamleadDep
from hub.core.audit import as_actor
from hub.core.errors import HubProblem
from hub.core.models import Withholding
from hub.core.withholding import list_withholdings, review, status_of

router = APIRouter(prefix="/api/v1/withholdings", tags=["team lead"])


class WithholdingPublic(BaseModel):
    """One withholding: what, why (a code), since when, when to review; never content."""

    id: str
    item_id: str | None
    message_id: str
    household_id: str | None
    wijk: str | None
    reason_code: str
    status: Literal["active", "review_due", "ended"]
    withheld_by: str
    withheld_at: datetime
    review_at: datetime
    ends_at: datetime | None
    ended_at: datetime | None
    ended_by: str | None
    reviewed_at: datetime | None
    reviewed_by: str | None


class WithholdingPage(BaseModel):
    """A page of withholdings, review date first."""

    total: int
    limit: int
    offset: int
    items: list[WithholdingPublic]


class WithholdingReview(BaseModel):
    """A team lead's review: keep withholding until a new review date, or end it."""

    model_config = ConfigDict(extra="forbid")
    decision: Literal["extend", "end"]
    review_at: AwareDatetime | None = Field(
        default=None, description="extend: the next review (default: the policy's period).")


def _public(row: Withholding, now: datetime) -> WithholdingPublic:
    return WithholdingPublic(
        id=row.id, item_id=row.item_id, message_id=row.message_id,
        household_id=row.household_id, wijk=row.wijk, reason_code=row.reason_code,
        status=status_of(row, now), withheld_by=row.withheld_by, withheld_at=row.withheld_at,
        review_at=row.review_at, ends_at=row.ends_at, ended_at=row.ended_at,
        ended_by=row.ended_by, reviewed_at=row.reviewed_at, reviewed_by=row.reviewed_by)


@router.get("", response_model=WithholdingPage)
def withholdings(ctx: ContextDep, session: SessionDep, reviewer: OversightDep,
                 status: Literal["active", "review_due", "ended", "all"] = "active",
                 limit: Annotated[int, Query(ge=1, le=1000)] = 50,
                 offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> WithholdingPage:
    """The withholdings of the team lead's wijk (an operator: of every wijk), those due
    for review first."""
    now = ctx.clock()
    wijk = reviewer.wijk if reviewer.role == "teamlead" else None
    total, rows = list_withholdings(session=session, wijk=wijk, status=status, now=now,
                                    limit=limit, offset=offset)
    return WithholdingPage(total=total, limit=limit, offset=offset,
                           items=[_public(r, now) for r in rows])


@router.post("/{withholding_id}/review", response_model=WithholdingPublic)
def review_withholding(withholding_id: IdPath, body: WithholdingReview, ctx: ContextDep,
                       session: SessionDep, lead: TeamleadDep) -> WithholdingPublic:
    """Review a withholding of the team lead's wijk: ``extend`` (to ``review_at``, or the
    policy's period) or ``end`` it, after which the resident sees the report. An ended
    one: 409."""
    row = session.get(Withholding, withholding_id, with_for_update=True)
    if row is None or row.wijk != lead.wijk:
        raise HubProblem(404, "Withholding not found")
    now = ctx.clock()
    review(session=session, ctx=ctx, row=row, decision=body.decision,
           review_at=body.review_at, now=now, **as_actor(lead))
    public = _public(row, now)
    session.commit()
    return public
