"""Routes for the regisseur: the wijk's inbox, take up and close.

Confidential items (issue 7, hub.core.confidential) are shown only to the one
they are addressed to, as a neutral line in lists; opening one needs a reason:
``POST /api/v1/inbox/{id}/open`` with ``{"reason": ...}`` (kept out of URLs and
proxy logs), or ``GET /api/v1/inbox/{id}?reason=...``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, ConfigDict, Field

from hub.api.deps import ContextDep, IdPath, InboxReaderDep, RegisseurDep, SessionDep
from hub.api.schemas import InboxItemPublic, InboxPage, OpenConfidential
from hub.core import inbox as inbox_core
from hub.core import reads
from hub.core.audit import as_actor, record_inbox_access
from hub.core.errors import HubProblem
from hub.core.inbox import view_item
from hub.core.reads import ItemView, get_item, read_inbox

router = APIRouter(prefix="/api/v1/inbox", tags=["regisseur"])


def item_public(view: ItemView) -> InboxItemPublic:
    item = view.item
    return InboxItemPublic(
        id=item.id, type=item.type, category=item.category, summary=view.summary,
        source=view.source_name, basis=item.basis, reason=view.staff_reason or item.reason,
        status=item.status,
        triage=item.triage, matched_by=view.matched_by, household_id=item.household_id,
        repeats=item.repeats,
        received_at=item.delivered_at, data=view.data, confidential=item.confidential,
        addressed_to=item.addressed_to)


@router.get("", response_model=InboxPage)
def inbox(ctx: ContextDep, session: SessionDep, regisseur: InboxReaderDep,
          limit: Annotated[int, Query(ge=1, le=1000)] = 50,
          offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
          type: Annotated[str | None, Query(max_length=100)] = None,
          basis: Literal["consent", "statute", "safety"] | None = None,
          status: Literal["new", "taken_up", "closed"] | None = None) -> InboxPage:
    """The items of the regisseur's wijk that may be shown now, newest first.

    Confidential items appear only for their designated regisseur (or, while none is
    designated, for the team lead), without data: "Vertrouwelijk bericht van …".
    """
    total, views = read_inbox(session=session, ctx=ctx, viewer=regisseur, now=ctx.clock(),
                              limit=limit, offset=offset, type_=type, basis=basis,
                              status=status)
    page = InboxPage(total=total, limit=limit, offset=offset, items=[item_public(v) for v in views])
    session.commit()
    return page


def _own_item(ctx, session, principal, item_id):
    item = get_item(session=session, ctx=ctx, wijk=principal.wijk, item_id=item_id,
                    now=ctx.clock(), viewer=principal)
    if item is None:
        raise HubProblem(404, "Item not found")
    return item


def _open(ctx, session, reader, item_id: str, reason: str | None) -> InboxItemPublic:
    view = reads.open_item(session=session, ctx=ctx, viewer=reader, item_id=item_id,
                           now=ctx.clock(), reason=reason)
    public = item_public(view)
    session.commit()
    return public


@router.get("/{item_id}", response_model=InboxItemPublic)
def inbox_item(item_id: IdPath, ctx: ContextDep, session: SessionDep,
               regisseur: InboxReaderDep,
               reason: Annotated[str | None, Query(
                   max_length=1000, description="Required for a confidential item: why you "
                   "open it (prefer POST …/open, which keeps it out of URLs).")] = None,
               ) -> InboxItemPublic:
    """One item, with the data its basis allows now. A confidential item needs a reason
    (missing or blank: 422 naming ``reason``); each opening is audited with it."""
    return _open(ctx, session, regisseur, item_id, reason)


@router.post("/{item_id}/open", response_model=InboxItemPublic)
def open_item(item_id: IdPath, body: OpenConfidential, ctx: ContextDep, session: SessionDep,
              regisseur: InboxReaderDep) -> InboxItemPublic:
    """Open an item giving the reason in the body: the way to open a confidential item.
    The reason is stored sealed and the opening audited (``read.confidential``)."""
    return _open(ctx, session, regisseur, item_id, body.reason)


@router.post("/{item_id}/take-up", response_model=InboxItemPublic)
def take_up(item_id: IdPath, ctx: ContextDep, session: SessionDep,
            regisseur: RegisseurDep) -> InboxItemPublic:
    """The regisseur starts help: the sender will see ``taken_up``."""
    item = _own_item(ctx, session, regisseur, item_id)
    inbox_core.take_up(session=session, ctx=ctx, item=item, now=ctx.clock(),
                       **as_actor(regisseur))
    # A confidential item's content is shown only when opened with a reason.
    view = view_item(session=session, ctx=ctx, item=item, opened=not item.confidential)
    public = item_public(view)
    record_inbox_access(session, ctx=ctx, principal=regisseur, action="inbox.take_up",
                        views=[view])
    session.commit()
    return public


class CloseBody(BaseModel):
    """What the regisseur may add when closing: a short summary for the sender."""

    model_config = ConfigDict(extra="forbid")
    summary: str | None = Field(default=None, min_length=1, max_length=2000, description=(
        "A closing summary; it reaches the sender only where the sender's plugin "
        "shares it and the resident's consent covers sharing back."))


@router.post("/{item_id}/close", response_model=InboxItemPublic)
def close(item_id: IdPath, ctx: ContextDep, session: SessionDep, regisseur: RegisseurDep,
          body: Annotated[CloseBody | None, Body()] = None) -> InboxItemPublic:
    """Close the item: the sender sees ``closed``, or ``not_taken_up`` if help never started."""
    item = _own_item(ctx, session, regisseur, item_id)
    inbox_core.close(session=session, ctx=ctx, item=item, now=ctx.clock(),
                     note=body.summary if body else None, **as_actor(regisseur))
    view = view_item(session=session, ctx=ctx, item=item, opened=not item.confidential)
    public = item_public(view)
    record_inbox_access(session, ctx=ctx, principal=regisseur, action="inbox.close",
                        views=[view])
    session.commit()
    return public
