"""What the resident may see about themselves: what is known, what was shared, and why.

Issue 4, item 6. Everything here is about one subject (a pseudonym) and only
that subject's rows are read, so another person's data can never appear, not
even a housemate's. Each entry carries a plain-Dutch explanation built by
:mod:`consent.explain`. Reads by professionals are engineer F's audit log
(``GET /api/v1/me/audit``), not repeated here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent import explain
from consent.tables import consent_grants
from hub.core.context import HubContext
from hub.core.inbox import recheck
from hub.core.models import Disclosure, InboxItem, Message, Partner
from hub.core.withholding import withheld_messages

RECIPIENT = "wijkteam"


@dataclass(frozen=True)
class DisclosureView:
    """One disclosure as the resident reads it."""

    disclosure: Disclosure
    source_name: str
    category: str
    still_shown: bool
    explanation: str


@dataclass(frozen=True)
class KnownItem:
    """One message about the resident, without its values: what, from whom, where it went."""

    message: Message
    source_name: str
    topic: str
    status: str
    fields: list[str]
    shown_fields: list[str] | None
    basis: str | None
    explanation: str
    # The plugin's summary for the resident (MessageType.resident_summary), if it has one.
    summary: str | None = None
    # When the wijkteam closed the item: a closed item must not read "gedeeld" as if it
    # were current (issue 15, item 12).
    closed_at: datetime | None = None


def _consents(session: Session, ids: Iterable[str]) -> dict[str, object]:
    ids = [i for i in set(ids) if i]
    if not ids:
        return {}
    rows = session.execute(select(consent_grants).where(consent_grants.c.id.in_(ids))).all()
    return {r.id: r for r in rows}


def _ended_at(consent, now: datetime) -> datetime | None:
    if consent is None:
        return None
    if consent.revoked_at is not None:
        return consent.revoked_at
    if consent.valid_until is not None and consent.valid_until <= now:
        return consent.valid_until
    return None


def _explain(ctx: HubContext, session: Session, *, basis: str, basis_ref: str | None,
             at: datetime, fields: list[str] | None, category: str, source_name: str, consent,
             item: InboxItem | None, message: Message, now: datetime) -> str:
    statute_title = retention = None
    if basis == "statute" and basis_ref in ctx.policy.statutes:
        statute = ctx.policy.statutes[basis_ref]
        statute_title, retention = statute.title, statute.retention_days
    elif basis == "safety" and basis_ref in ctx.policy.safety:
        statute_title = ctx.policy.safety[basis_ref].title
    still_shown = item is not None and not item.hidden
    now_only = None
    if still_shown and basis == "consent" and item.basis != "consent":
        now_only = list(item.fields or [])
    elif still_shown and basis == "consent" and item.basis_ref != basis_ref:
        # The consent it came on ended, but another one covers it now: name that one.
        consent = _consents(session, [item.basis_ref]).get(item.basis_ref)
    return explain.disclosure_explanation(
        basis=basis, at=at, recipient=RECIPIENT, fields=fields,
        consent_given_at=consent.granted_at if consent is not None else None,
        consent_capacity=consent.capacity if consent is not None else None,
        category=category, source_name=source_name, statute_title=statute_title,
        retention_days=retention, still_shown=still_shown,
        ended_at=_ended_at(consent, now) if basis == "consent" else None,
        purged_at=message.purged_at, now_only=now_only)


def disclosures_for(*, session: Session, ctx: HubContext, subject: str, now: datetime,
                    categories: frozenset[str] | None = None) -> list[DisclosureView]:
    """Every disclosure about ``subject``, newest first, each with its explanation.

    Lapsed bases are re-checked first, so "still shown" is true at ``now``.
    With ``categories`` (a representative's capacity) only those categories.
    """
    recheck(session=session, ctx=ctx, now=now, subject=subject)
    rows = session.execute(
        select(Disclosure, Partner.name, Message, InboxItem)
        .join(Partner, Partner.id == Disclosure.source_partner)
        .join(Message, Message.id == Disclosure.message_id)
        .outerjoin(InboxItem, InboxItem.id == Disclosure.item_id)
        .where(Disclosure.subject == subject)
        .order_by(Disclosure.at.desc(), Disclosure.id.desc())).all()
    consents = _consents(session, (d.basis_ref for d, *_ in rows if d.basis == "consent"))
    withheld = withheld_messages(session=session, ctx=ctx, subject=subject, now=now)
    out = []
    for disclosure, source_name, message, item in rows:
        if categories is not None and message.category not in categories:
            continue
        if message.id in withheld:
            continue  # kept from the resident while that protects someone (issue 7)
        consent = consents.get(disclosure.basis_ref) if disclosure.basis == "consent" else None
        out.append(DisclosureView(
            disclosure=disclosure, source_name=source_name, category=message.category,
            still_shown=item is not None and not item.hidden and message.purged_at is None,
            explanation=_explain(ctx, session, basis=disclosure.basis,
                                 basis_ref=disclosure.basis_ref, at=disclosure.at,
                                 fields=disclosure.fields, category=message.category,
                                 source_name=source_name, consent=consent, item=item,
                                 message=message, now=now)))
    return out


def known_about(*, session: Session, ctx: HubContext, subject: str, now: datetime,
                categories: frozenset[str] | None = None) -> list[KnownItem]:
    """Every message the hub holds about ``subject``, newest first: field names, never values.

    Status is one of ``shown``, ``no_longer_shown``, ``held``, ``closed``,
    ``linked``, ``purged``, ``accepted``. Lapsed bases are re-checked first.
    """
    recheck(session=session, ctx=ctx, now=now, subject=subject)
    rows = session.execute(
        select(Message, Partner.name, InboxItem)
        .join(Partner, Partner.id == Message.source_partner)
        .outerjoin(InboxItem, InboxItem.id == Message.item_id)
        .where(Message.subject == subject)
        .order_by(Message.received_at.desc(), Message.id)).all()
    withheld = withheld_messages(session=session, ctx=ctx, subject=subject, now=now)
    out = []
    for message, source_name, item in rows:
        if categories is not None and message.category not in categories:
            continue
        if message.id in withheld:
            continue  # kept from the resident while that protects someone (issue 7)
        mt = ctx.plugins.catalog.type(message.type)
        topic = mt.topic if mt is not None else message.type
        fields: list[str] = []
        summary = None
        if message.purged_at is None and message.payload_sealed:
            payload = ctx.cipher.open(message.payload_sealed, context=f"message:{message.id}")
            # Names of what is actually held: an optional field left empty is not known.
            held = {**payload.get("subject", {}), **payload.get("data", {})}
            fields = sorted(k for k, v in held.items() if v is not None)
            if mt is not None and mt.resident_summary is not None:
                # Only where the plugin says the content is the resident's own (a decision
                # on their application); everything else stays field names only.
                summary = mt.resident_summary(payload.get("data", {}))
        # A linked message (herhaalde melding) points at another message's item.
        own_item = item is not None and item.message_id == message.id
        if message.purged_at is not None:
            status = "purged"
        elif message.status == "delivered" and own_item:
            status = "shown" if not item.hidden else "no_longer_shown"
        else:
            status = message.status
        shown: list[str] | None = []
        current_basis = None
        if own_item:
            disclosure = session.scalar(select(Disclosure).where(
                Disclosure.message_id == message.id).order_by(Disclosure.id).limit(1))
            basis = disclosure.basis if disclosure else item.basis
            basis_ref = disclosure.basis_ref if disclosure else item.basis_ref
            consent = (_consents(session, [basis_ref]).get(basis_ref)
                       if basis == "consent" else None)
            text = _explain(ctx, session, basis=basis, basis_ref=basis_ref, at=item.delivered_at,
                            fields=disclosure.fields if disclosure else item.fields,
                            category=message.category, source_name=source_name,
                            consent=consent, item=item, message=message, now=now)
            if not item.hidden and message.purged_at is None:
                shown, current_basis = item.fields, item.basis
        else:
            text = explain.message_explanation(status=message.status, source_name=source_name,
                                               topic=topic, received_at=message.received_at,
                                               purged_at=message.purged_at)
        out.append(KnownItem(message=message, source_name=source_name, topic=topic,
                             status=status, fields=fields, shown_fields=shown,
                             basis=current_basis, explanation=text, summary=summary,
                             closed_at=item.updated_at if own_item and item.status == "closed"
                             else None))
    return out
