"""The resident's part of the audit log, and where each request's caller is noted.

``GET /api/v1/me/audit`` shows a resident only the events whose subject is
their own pseudonym, as plain-Dutch sentences, newest first, paginated. The
middleware records the client address and the component (``api``) that
:func:`hub.core.audit.record_event` writes into every event of the request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel, Field
from sqlalchemy import and_, func, select
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.api.deps import ContextDep, ResidentDep, SessionDep
from hub.api.routing import include
from hub.core.audit import current_client, current_system
from hub.core.audit_text import describe, dutch_date, is_core_action
from hub.core.models import AuditEvent, Partner
from hub.core.reads import resident_team
from hub.core.withholding import withheld_items, withheld_messages

router = APIRouter(prefix="/api/v1/me", tags=["resident"])


class AuditEntryPublic(BaseModel):
    """One thing that was done with the resident's data."""

    at: datetime
    action: str = Field(description="disclosure, read, read.list, consent.grant, ...")
    text: str = Field(description="What happened, in plain Dutch.")


class AuditPage(BaseModel):
    """One page of the resident's audit trail, newest first."""

    total: int
    limit: int
    offset: int
    items: list[AuditEntryPublic]


def _not_withheld(ctx, session, subject: str) -> list:
    # Events about a report kept from the resident (issue 7) are not shown while it is.
    now = ctx.clock()
    messages = withheld_messages(session=session, ctx=ctx, subject=subject, now=now)
    items = withheld_items(session=session, subject=subject, now=now)
    conditions = []
    if messages:
        conditions.append(func.coalesce(AuditEvent.data["message_id"].as_string(), "")
                          .not_in(sorted(messages)))
    if items:
        conditions.append(func.coalesce(AuditEvent.data["item_id"].as_string(), "")
                          .not_in(sorted(items)))
    return conditions


@router.get("/audit", response_model=AuditPage)
def my_audit(ctx: ContextDep, session: SessionDep, resident: ResidentDep,
             limit: Annotated[int, Query(ge=1, le=200)] = 50,
             offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> AuditPage:
    """Who did what with my data, when and why: only events about me."""
    where = and_(AuditEvent.subject == resident.subject,
                 *_not_withheld(ctx, session, resident.subject))
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(where))
    rows = session.scalars(select(AuditEvent).where(where).order_by(AuditEvent.seq.desc())
                           .limit(limit).offset(offset)).all()
    partner_ids = {r.actor for r in rows if r.role == "partner"} | {
        str(r.data["partner"]) for r in rows if r.action == "message.sent" and r.data
        and r.data.get("partner")}
    names = dict(session.execute(select(Partner.id, Partner.name)
                                 .where(Partner.id.in_(partner_ids))).all())
    team = resident_team(session=session, ctx=ctx, subject=resident.subject)
    items = []
    for row in rows:
        data = row.data or {}
        mt = ctx.plugins.catalog.type(data.get("type", "")) if data.get("type") else None
        recipient = str(data.get("recipient", ""))
        team_name = ctx.wijkmap.name(recipient.split(":", 1)[1]) if ":" in recipient else None
        text = None
        if not is_core_action(row.action):  # a plugin's own action: its own sentence
            text = ctx.plugins.audit_text(action=row.action, role=row.role, actor=row.actor,
                                          partner_name=names.get(row.actor),
                                          when=dutch_date(row.at))
        items.append(AuditEntryPublic(at=row.at, action=row.action, text=text or describe(
            action=row.action, actor=row.actor, role=row.role, basis=row.basis, data=data,
            at=row.at, topic=mt.topic if mt else None,
            partner_name=names.get(str(data.get("partner")) if row.action == "message.sent"
                                   else row.actor),
            team_name=team_name, home_team=team.wijk_name if team else None,
            own_regisseur=team.regisseur if team else None)))
    return AuditPage(total=total, limit=limit, offset=offset, items=items)


class AuditRequestContext:
    """Notes the caller's address and ``system=api`` for the audit events of one request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        tokens = (current_client.set(client[0] if client else None),
                  current_system.set("api"))
        try:
            await self.app(scope, receive, send)
        finally:
            current_system.reset(tokens[1])
            current_client.reset(tokens[0])


def install(app: FastAPI) -> None:
    """Add the resident's audit route and the request-context middleware."""
    include(app, router)
    app.add_middleware(AuditRequestContext)
