"""Retention: data received on a statute is removed after the policy's limit, unless help started.

Issue 4, item 5. The Wet gemeentelijke schuldhulpverlening lets an arrears
signal reach the wijkteam without consent, but only for a limited time: when
the wijkteam has not started help (taken the item up) within the statute's
``retention_days``, the data goes. What stays is an audit stub: the message row
without its data (type, sender, source_ref, dates; it also keeps a resent
``source_ref`` from being delivered again), the hidden inbox item without
fields, the decision and the disclosure record. Nothing here needs to run for
correctness of consent: the same command also writes the "expired" version of
consents past their end, which the engine already treats as ended.

Messages that were never shared are not kept either: a message the resident
refused (closed), or one held for a question that expired unanswered (or that
could not be asked, because the resident was not identified, after the same
30 days a question lasts), is reduced to the same stub. The sender then sees
``not_taken_up``.

The same run also deletes the server-side rows of screen sessions that expired or
were logged out (``web_sessions``): they hold no personal data, only a hash and two
times, but nothing needs them once they can open no page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from consent import registry
from consent.model import BasisKind
from consent.records import RequestStatus
from consent.tables import consent_requests
from hub.core.context import HubContext
from hub.core.models import InboxItem, Message, WebLogin
from hub.core.outreach import forget_lapsed_contacts

PURGED_REASON = "Verwijderd: de bewaartermijn is voorbij en er is geen hulp gestart."
# How long a message may wait for a question that cannot be asked (no resident
# identified): as long as a question to a resident would last.
UNASKED_DAYS = 30


@dataclass
class RetentionReport:
    """What a retention run removed (or, in a dry run, would remove), per message type."""

    at: datetime
    dry_run: bool
    removed: dict[str, dict[str, int]] = field(default_factory=dict)
    unshared: dict[str, int] = field(default_factory=dict)
    consents_expired: int = 0
    # Outreach cases whose sealed contact details went with their signals (issue 16).
    outreach_contacts: int = 0
    # Screen sessions that could open no page any more (expired or logged out).
    web_sessions: int = 0

    def as_json(self) -> dict[str, Any]:
        """The report as printed by ``hub retention run``."""
        return {"at": self.at.isoformat(), "dry_run": self.dry_run,
                "removed": {t: dict(c) for t, c in sorted(self.removed.items())},
                "unshared": dict(sorted(self.unshared.items())),
                "consents_expired": self.consents_expired,
                "outreach_contacts": self.outreach_contacts,
                "web_sessions": self.web_sessions}


def run_retention(*, session: Session, ctx: HubContext, now: datetime,
                  dry_run: bool = False) -> RetentionReport:
    """Reduce statute-based items past their limit to audit stubs, in the caller's transaction.

    An item counts when its basis is a statute of the current policy, it was
    delivered at least ``retention_days`` ago, and it was never taken up.
    Its message and every repeat linked to it lose their data. With
    ``dry_run`` nothing is written; the report says what would go.
    """
    report = RetentionReport(at=now, dry_run=dry_run)
    for key, statute in sorted(ctx.policy.statutes.items()):
        cutoff = now - timedelta(days=statute.retention_days)
        items = session.scalars(
            select(InboxItem).join(Message, Message.id == InboxItem.message_id)
            .where(InboxItem.basis == BasisKind.STATUTE.value, InboxItem.basis_ref == key,
                   InboxItem.taken_up.is_(False), InboxItem.delivered_at <= cutoff,
                   Message.purged_at.is_(None))
            .order_by(InboxItem.delivered_at, InboxItem.id)).all()
        for item in items:
            messages = session.scalars(select(Message).where(
                (Message.id == item.message_id) | (Message.item_id == item.id),
                Message.purged_at.is_(None))).all()
            counts = report.removed.setdefault(item.type, {"items": 0, "messages": 0})
            counts["items"] += 1
            counts["messages"] += len(messages)
            if dry_run:
                continue
            for message in messages:
                message.payload_sealed = ""
                message.purged_at = now
            item.hidden = True
            item.fields = []
            item.measure = item.repeat_key = None
            item.reason = PURGED_REASON
            if item.status == "new":
                item.status = "closed"  # the sender sees not_taken_up: help never started
            item.updated_at = now

    report.outreach_contacts = forget_lapsed_contacts(session=session, dry_run=dry_run)

    for message in _never_shared(session, now):
        report.unshared[message.type] = report.unshared.get(message.type, 0) + 1
        if not dry_run:
            message.payload_sealed = ""
            message.purged_at = now
            message.status = "closed"

    report.web_sessions = _prune_web_sessions(session, now, dry_run=dry_run)

    subjects = registry.subjects_with_expired(session=session, now=now)
    if dry_run:
        report.consents_expired = sum(
            1 for s in subjects for g in registry.list_grants(session=session, subject=s)
            if g.status is registry.GrantStatus.ACTIVE and g.valid_until is not None
            and g.valid_until <= now)
    else:
        for subject in subjects:
            registry.lock_subject(session=session, subject=subject)
            report.consents_expired += registry.expire_due(session=session, subject=subject,
                                                           now=now)
    return report


def _prune_web_sessions(session: Session, now: datetime, *, dry_run: bool) -> int:
    # A row opens a page only while it has not ended and not expired (hub.web.session).
    gone = or_(WebLogin.expires_at <= now, WebLogin.ended_at.is_not(None))
    if dry_run:
        return session.scalar(select(func.count()).select_from(WebLogin).where(gone)) or 0
    return session.execute(delete(WebLogin).where(gone)).rowcount or 0


def _never_shared(session: Session, now: datetime) -> list[Message]:
    """Messages refused by the resident, or held for a question that lapsed or was never asked."""
    lapsed = select(consent_requests.c.id).where(
        consent_requests.c.expires_at <= now,
        consent_requests.c.status.in_([RequestStatus.PENDING.value,
                                       RequestStatus.EXPIRED.value]))
    return list(session.scalars(
        select(Message).where(
            Message.purged_at.is_(None), Message.item_id.is_(None),
            or_(Message.status == "closed",
                and_(Message.status == "held", Message.request_id.in_(lapsed)),
                and_(Message.status == "held", Message.request_id.is_(None),
                     Message.received_at <= now - timedelta(days=UNASKED_DAYS))))
        .order_by(Message.received_at, Message.id)))
