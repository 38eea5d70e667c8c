"""The operator's dashboard (``/beheer``): is every partner sending, is anything stuck?

Counts only: partners, message types, hours, queue depths, dead letters (ids,
partner, type, task, and the reason in Dutch with what to do). Never a resident's
data, never message content: an operator runs the hub and does not read what
passes through it. Replaying a dead letter goes through the same function as
``POST /api/v1/ops/dead-letters/{id}/replay``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from hub.api import ops as ops_api
from hub.api.deps import ContextDep, SessionDep
from hub.core import deadletters
from hub.core.errors import HubProblem
from hub.core.models import DeadLetter, Message, OutboundMessageRow, OutboxEntry, Partner
from hub.core.outbound import DELIVER_TASK
from hub.web.dead_reasons import Advice, advise
from hub.web.deps import CsrfChecked, OperatorPage
from hub.web.render import TEMPLATES, page, redirect
from hub.web.session import WebError

router = APIRouter(prefix="/beheer", include_in_schema=False)
HOURS = 24
DEAD_SHOWN = 50
# The chart's drawing area, in SVG user units.
CHART_W, CHART_H, CHART_PAD = 720, 180, 28
NOTICES = {"opnieuw": "Het bericht staat weer in de wachtrij en wordt opnieuw beoordeeld, "
                      "met de toestemming zoals die nu is."}
_TASK_WORDS = {"route": "beoordelen en doorsturen", "deliver": "versturen naar partner"}
TEMPLATES.env.filters["taak"] = lambda task: _TASK_WORDS.get(task, task)


@dataclass(frozen=True)
class PartnerRow:
    """One partner's line: how much it sent, when last, how much went wrong."""

    name: str
    kind: str
    active: bool
    last_contact: datetime | None
    sent_today: int
    rejected: int
    dead: int
    received_today: int = 0
    not_delivered: int = 0
    id: str = ""
    endpoint: str | None = None

    @property
    def error_rate(self) -> str:
        """What went wrong (refused at the door, dead-lettered, not delivered to the
        partner) as a share of all messages from and to the partner."""
        tries = self.sent_today + self.rejected + self.received_today
        if not tries:
            return "—"
        wrong = self.rejected + self.dead + self.not_delivered
        return f"{100 * wrong / tries:.1f}%".replace(".", ",")


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _aware(at: datetime) -> datetime:
    # SQLite hands back naive datetimes; the hub stores UTC.
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _latest(*moments: datetime | None) -> datetime | None:
    known = [_aware(m) for m in moments if m is not None]
    return max(known) if known else None


def _rejected_by_partner(ctx) -> Counter:
    # Refusals at the door are not stored (nothing was accepted); the process counts them.
    counts: Counter = Counter()
    # Only this counter: collecting the whole registry would also count the outbox.
    names = ["wijkhub_messages_in_total"]
    for family in ctx.metrics.registry.restricted_registry(names).collect():
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels.get("outcome") == "rejected":
                counts[sample.labels.get("partner", "")] += int(sample.value)
    return counts


def _chart(hours: list[datetime], totals: list[int]) -> dict:
    top = max([*totals, 1])
    width = (CHART_W - 2 * CHART_PAD) / len(hours)
    bars = []
    for index, (hour, count) in enumerate(zip(hours, totals, strict=True)):
        height = (CHART_H - 2 * CHART_PAD) * count / top
        bars.append({"x": round(CHART_PAD + index * width + 1, 1), "w": round(width - 2, 1),
                     "y": round(CHART_H - CHART_PAD - height, 1), "h": round(height, 1),
                     "count": count, "label": hour, "tick": index % 3 == 0})
    return {"w": CHART_W, "h": CHART_H, "pad": CHART_PAD, "top": top, "bars": bars,
            "base": CHART_H - CHART_PAD}


@router.get("")
def dashboard(request: Request, ctx: ContextDep, session: SessionDep, who: OperatorPage,
              melding: str | None = None) -> Response:
    """Throughput per partner per hour, queue depth, dead letters, partners' health."""
    now = ctx.clock()
    since = _hour(now) - timedelta(hours=HOURS - 1)
    hours = [since + timedelta(hours=i) for i in range(HOURS)]
    partners = session.scalars(select(Partner).order_by(Partner.name)).all()
    names = {p.id: p.name for p in partners}
    per_hour: dict[str, Counter] = defaultdict(Counter)
    for partner_id, at in session.execute(
            select(Message.source_partner, Message.received_at)
            .where(Message.received_at >= since)):
        per_hour[partner_id][_hour(_aware(at))] += 1
    totals = [sum(c[h] for c in per_hour.values()) for h in hours]
    last = dict(session.execute(select(Message.source_partner, func.max(Message.received_at))
                                .group_by(Message.source_partner)).all())
    open_dead = DeadLetter.replayed_at.is_(None)
    dead_by_partner = Counter(dict(session.execute(
        select(Message.source_partner, func.count()).select_from(DeadLetter)
        .join(Message, Message.id == DeadLetter.message_id)
        .where(open_dead, DeadLetter.task != DELIVER_TASK)
        .group_by(Message.source_partner)).all()))
    # A dead "deliver" task names an outbound message: the partner it was for.
    dead_by_partner.update(dict(session.execute(
        select(OutboundMessageRow.partner_id, func.count()).select_from(DeadLetter)
        .join(OutboundMessageRow, OutboundMessageRow.id == DeadLetter.message_id)
        .where(open_dead, DeadLetter.task == DELIVER_TASK)
        .group_by(OutboundMessageRow.partner_id)).all()))
    out_today = dict(session.execute(
        select(OutboundMessageRow.partner_id, func.count())
        .where(OutboundMessageRow.created_at >= since)
        .group_by(OutboundMessageRow.partner_id)).all())
    out_failed = dict(session.execute(
        select(OutboundMessageRow.partner_id, func.count())
        .where(OutboundMessageRow.created_at >= since, OutboundMessageRow.status == "failed")
        .group_by(OutboundMessageRow.partner_id)).all())
    out_last = dict(session.execute(
        select(OutboundMessageRow.partner_id, func.max(OutboundMessageRow.delivered_at))
        .group_by(OutboundMessageRow.partner_id)).all())
    rejected = _rejected_by_partner(ctx)
    rows = [PartnerRow(id=p.id, name=p.name, kind=p.kind, active=p.active, endpoint=p.endpoint,
                       last_contact=_latest(last.get(p.id), out_last.get(p.id)),
                       sent_today=sum(per_hour[p.id].values()), rejected=rejected[p.name],
                       dead=dead_by_partner.get(p.id, 0), received_today=out_today.get(p.id, 0),
                       not_delivered=out_failed.get(p.id, 0)) for p in partners]
    queue = session.execute(select(OutboxEntry.task, func.count(),
                                   func.min(OutboxEntry.created_at))
                            .where(OutboxEntry.status == "pending")
                            .group_by(OutboxEntry.task)).all()
    queue_rows = [{"task": _TASK_WORDS.get(task, task), "count": count,
                   "oldest": _aware(oldest) if oldest else None} for task, count, oldest in queue]
    dead, dead_total = deadletters.list_dead(session=session, replayed=False, limit=DEAD_SHOWN)
    dead_rows = _dead_rows(ctx, session, dead, names)
    table = [{"hour": h, "counts": [per_hour[p.id][h] for p in partners], "total": t}
             for h, t in zip(hours, totals, strict=True)]
    session.commit()
    return page(request, ctx, "beheer/dashboard.html", title="Beheer", partners=rows,
                partner_names=[p.name for p in partners], queue=queue_rows,
                queue_total=sum(r["count"] for r in queue_rows), dead=dead_rows,
                dead_total=dead_total, chart=_chart(hours, totals), table=table,
                day_total=sum(totals), notice=NOTICES.get(melding or ""), names=names)


@dataclass(frozen=True)
class DeadRow:
    """One dead letter as the operator reads it: whose, what, why in Dutch, what to do."""

    dead: DeadLetter
    partner_id: str | None
    partner: str | None
    topic: str | None
    advice: Advice


def _dead_rows(ctx, session, dead: list[DeadLetter], names: dict[str, str]) -> list[DeadRow]:
    # The partner and type of each: the outbound message a "deliver" names, else the
    # inbound message it routes. Ids and types only, never the message's data.
    ids = [d.message_id for d in dead if d.message_id]
    outbound = {row_id: (partner_id, type_) for row_id, partner_id, type_ in session.execute(
        select(OutboundMessageRow.id, OutboundMessageRow.partner_id, OutboundMessageRow.type)
        .where(OutboundMessageRow.id.in_(ids)))} if ids else {}
    inbound = {row_id: (partner_id, type_) for row_id, partner_id, type_ in session.execute(
        select(Message.id, Message.source_partner, Message.type)
        .where(Message.id.in_(ids)))} if ids else {}
    rows = []
    for d in dead:
        found = (outbound.get(d.message_id) if d.task == DELIVER_TASK
                 else inbound.get(d.message_id)) if d.message_id else None
        partner_id, type_ = found if found else (None, None)
        mt = ctx.plugins.catalog.type(type_) if type_ else None
        name = names.get(partner_id) if partner_id else None
        rows.append(DeadRow(dead=d, partner_id=partner_id, partner=name,
                            topic=(mt.topic if mt and mt.topic else type_),
                            advice=advise(d.reason, partner=name)))
    return rows


@router.post("/dode-berichten/{dead_letter_id}/opnieuw", dependencies=[CsrfChecked])
def replay(dead_letter_id: str, request: Request, ctx: ContextDep, session: SessionDep,
           who: OperatorPage) -> Response:
    """Queue a dead letter's message again; it is decided anew against today's consent."""
    if not dead_letter_id.isdigit() or not 0 < int(dead_letter_id) < 2**62:
        raise WebError(404, "Niet gevonden", "Dit bericht bestaat niet.")
    try:
        ops_api.replay_dead_letter(dead_letter_id=int(dead_letter_id), ctx=ctx,
                                   session=session, operator=who)
    except HubProblem as exc:
        if exc.status == 404:
            raise WebError(404, "Niet gevonden", "Dit bericht bestaat niet.") from None
        raise WebError(409, "Dit kan niet meer",
                       "Dit bericht is al opnieuw aangeboden, of er is niets om opnieuw aan "
                       "te bieden.") from None
    return redirect(request, ctx, "/beheer?melding=opnieuw#dode-berichten")
