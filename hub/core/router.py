"""Routing messages: resolve the subject, decide on a basis, deliver, hold, or link.

This runs in the worker, in one transaction per batch of messages (issue 14): the
decisions, the inbox items and the outbox rows' completion commit together or not
at all, so a crash at any point leaves the messages to be routed again, never
twice. A batch is routed set-based: what routing reads is fetched once for the
whole batch with ``IN`` lists (:func:`prefetch`, into a
:class:`~hub.core.routing_reads.RoutingReads`), each message's outcome is then
computed in Python with autoflush off, and the writes are flushed once at the
end (the ORM batches the INSERTs of one table; the new inbox items and the
decisions go in one Core statement each, without an ORM object per message).
The messages themselves are plain rows (:mod:`hub.core.message_rows`), not ORM
entities: their outcomes go in one executemany UPDATE. Prefetch's match and
repeat key of each message are kept in the reads, not computed twice. One
message is routed as a batch of one: there is one code path.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from consent import registry
from consent.bulk import insert_many
from consent.engine import decide
from consent.model import ConsentGrant, Outcome
from hub.core import correlation
from hub.core.audit import record_disclosure
from hub.core.confidential import address_item
from hub.core.context import HubContext
from hub.core.facts import RECIPIENT, facts_for
from hub.core.ids import new_uuid7
from hub.core.message_rows import RoutedMessage, load_messages, write_outcomes
from hub.core.metrics import when_committed
from hub.core.models import Disclosure, InboxItem, Partner
from hub.core.outbound import announce_status
from hub.core.outreach import is_outreach_type, join_case, prefetch_cases, write_cases
from hub.core.residents import (
    AddressLookup,
    Match,
    address_lookup_of,
    match_subject,
    prefetch_residents,
)
from hub.core.routing_reads import NewItem, RoutingReads
from hub.core.store import in_list, is_postgres
from hub.core.withholding import prefetch_withholdings, withhold_on_delivery

__all__ = ["RECIPIENT", "TERMINAL", "MessageFailed", "RoutingError", "facts_for", "prefetch",
           "route_message", "route_messages"]

TERMINAL = frozenset({"delivered", "linked", "closed"})
log = logging.getLogger(__name__)


class RoutingError(RuntimeError):
    """A message cannot be routed now; the worker retries it and, in the end, dead-letters it.

    ``permanent``: retrying cannot help (nothing about the message or the hub's
    wijken will change by waiting), so the worker dead-letters it at once, for an
    operator to replay once the cause is fixed.
    """

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class MessageFailed(Exception):
    """Routing the message ``message_id`` of a batch raised ``error``; the batch's
    transaction is no longer usable and must be rolled back (see ``run_tasks``)."""

    def __init__(self, message_id: str, error: Exception) -> None:
        super().__init__(message_id, type(error).__name__)
        self.message_id = message_id
        self.error = error


@correlation.scoped
def route_message(*, session: Session, ctx: HubContext, message_id: str, now: datetime) -> str:
    """Route one message in the caller's transaction; returns its new status.

    Routing a message that was already delivered, linked or closed does nothing,
    which is what makes a redelivery by the queue harmless. Exactly a batch of
    one (:func:`route_messages`); raises what routing it raised.
    """
    message = load_messages(session, [message_id]).get(message_id)
    if message is None:
        raise RoutingError("message not found")
    try:
        return route_messages(session=session, ctx=ctx, messages=[message], now=now)[message.id]
    except MessageFailed as failed:
        raise failed.error from None


@correlation.scoped
def route_messages(*, session: Session, ctx: HubContext, messages: list[RoutedMessage],
                   now: datetime) -> dict[str, str]:
    """Route messages the caller loaded and locked (:func:`~hub.core.message_rows.load_messages`),
    in its transaction, in the order given; returns each message's new status by id.

    Reads once for the batch (:func:`prefetch`), decides and builds each message's
    writes in Python, then flushes once and stores the messages' new columns with
    one statement (:func:`~hub.core.message_rows.write_outcomes`). A message whose
    routing raises ends the
    call with :class:`MessageFailed` naming it: the transaction then holds part of
    that message's writes, so the caller rolls it back and routes the others again
    without it. Decisions about one resident keep the order of ``messages``; a
    later message sees an earlier one's item (a herhaalde melding) and case. Each
    message's correlation id is bound while it is routed and none outlives the call.
    """
    statuses: dict[str, str] = {}
    with session.no_autoflush:
        reads = prefetch(session=session, ctx=ctx, messages=messages, now=now)
        for message in messages:
            try:
                statuses[message.id] = _route(session, ctx, message, now, reads)
            except Exception as exc:
                raise MessageFailed(message.id, exc) from exc
    if reads.new_items:
        _seal_measures(ctx, reads)
        # Core, not ORM: one INSERT for the batch's items (see NewItem).
        insert_many(session, InboxItem.__table__, [item.row() for item in reads.new_items])
        reads.new_items.clear()
    registry.record_decisions(session=session, rows=reads.decisions)
    reads.decisions.clear()
    write_cases(session=session, reads=reads)
    session.flush()
    # After the flush: these rows name the items and cases it inserted.
    for table, rows in reads.later.items():
        insert_many(session, table, rows)
    reads.later.clear()
    write_outcomes(session, messages)
    return statuses


def prefetch(*, session: Session, ctx: HubContext, messages: list[RoutedMessage],
             now: datetime) -> RoutingReads:
    """Everything routing ``messages`` reads, with one statement per table for them all.

    Partners, residents and households (matching), the consent rows of every
    matched resident, locked in sorted order, and their consents (through the
    consent cache), the open inbox items by repeat key, the outreach cases of the
    households (locked in sorted order), and existing withholdings. Best effort per
    message: what fails here for one message (a plugin's bug, a payload that does
    not open) is left out, and raises again when that message is routed.
    """
    reads = RoutingReads()
    todo = [m for m in messages if m.status not in TERMINAL]
    if not todo:
        return reads
    for partner in session.scalars(_PARTNERS[is_postgres(session)],
                                   {"ids": sorted({m.source_partner for m in todo})}):
        reads.partners[partner.id] = partner
    subjects: set[str] = set()
    lookups: set[AddressLookup] = set()
    asked: dict[str, dict] = {}
    for message in todo:
        try:
            asked[message.id] = query = _match_query(ctx, reads, message)
        except Exception:  # noqa: S112 - it raises again on the message's own turn
            continue
        if message.subject:
            subjects.add(message.subject)
        lookup = query["lookup"] = address_lookup_of(
            ctx, name=query["name"], postcode=query["postcode"], huisnummer=query["huisnummer"])
        if lookup is not None:
            lookups.add(lookup)
    prefetch_residents(session=session, reads=reads, subjects=subjects, lookups=lookups)
    matches = reads.matches
    for message in todo:
        if message.id in asked:
            try:
                matches[message.id] = match_subject(session=session, ctx=ctx,
                                                    subject=message.subject, reads=reads,
                                                    **asked[message.id])
            except Exception:  # noqa: S112 - as above
                continue
    # Serialises these decisions with any grant or revocation of the same residents.
    reads.versions.update(registry.lock_subjects(
        session=session, subjects={m.subject for m in matches.values() if m.subject}))
    reads.consents.update(ctx.consent_cache.consents_many(session=session,
                                                          versions=reads.versions))
    repeat_keys: set[str] = set()
    households: set[str] = set()
    for message in todo:
        match = matches.get(message.id)
        if match is None:
            continue
        try:
            key, measure = reads.repeats[message.id] = _repeat_of(ctx, reads, message, match)
        except Exception:
            key = measure = None
        if key is not None and measure is not None:
            repeat_keys.add(key)
        if match.household_id is not None and is_outreach_type(ctx, message.type):
            households.add(match.household_id)
    _prefetch_open_items(session, reads, repeat_keys)
    prefetch_cases(session=session, ctx=ctx, reads=reads, household_ids=households, now=now)
    prefetch_withholdings(session=session, ctx=ctx, reads=reads, messages=todo)
    return reads


def _route(session: Session, ctx: HubContext, message: RoutedMessage, now: datetime,
           reads: RoutingReads) -> str:
    # Log under the id of the request that brought the message, whichever process routes.
    correlation.adopt(message.correlation_id)
    if message.status in TERMINAL:
        return message.status
    # Set before the outcome: a message that fails takes the whole transaction with it.
    message.routed = True
    mt = ctx.plugins.catalog.type(message.type)
    if mt is None:
        raise RoutingError(f"no plugin serves {message.type!r}")
    partner = _partner(session, reads, message.source_partner)
    payload = _payload(ctx, reads, message)
    data = payload["data"]
    match = reads.matches.get(message.id)
    if match is None:
        match = match_subject(session=session, ctx=ctx, subject=message.subject, reads=reads,
                              **_match_query(ctx, reads, message))
    if match.wijk is None:
        # No resident the registry knows and no address in a wijk of this hub: no
        # wijkteam (not even its triage) can receive it, and waiting changes nothing.
        raise RoutingError("no wijk for this address", permanent=True)
    message.subject, message.household_id = match.subject, match.household_id
    message.wijk, message.match_method = match.wijk, match.method

    facts = facts_for(message, partner)
    consents: list[ConsentGrant] = []
    if match.subject is not None:
        consents = _consents(session, ctx, reads, match.subject)
    decision = decide(facts=facts, consents=consents, policy=ctx.policy, now=now)
    reads.decisions.append(registry.decision_row(id=new_uuid7(), message_id=message.id,
                                                 subject=match.subject,
                                                 decision=decision))
    ctx.metrics.decided(type=message.type, basis=decision.basis.value,
                        outcome=decision.outcome.value, session=session)

    if decision.outcome == Outcome.HOLD:
        message.status = "held"
        if match.subject is not None:
            request = registry.open_request(session=session, subject=match.subject, facts=facts,
                                            topic=mt.topic, now=now)
            message.request_id = request.id
        _log_when_committed(session, message, "message %s held: no basis yet, the resident is "
                            "asked", message.id)
        announce_status(session, ctx=ctx, message=message, status="held", now=now,
                        payload=payload, partner=partner)
        return message.status

    repeat = reads.repeats.get(message.id)
    repeat_key, measure = repeat if repeat is not None else _repeat_of(ctx, reads, message, match)
    if repeat_key is not None and measure is not None:
        open_item = _open_item(session, reads, repeat_key)
        known = _open_measure(ctx, reads, open_item) if open_item is not None else None
        if known is not None and measure <= known:
            # A herhaalde melding: the same arrears, not grown. Linked, not a new item.
            open_item.repeats += 1
            open_item.updated_at = now
            message.status, message.item_id = "linked", open_item.id
            _reached_inbox(ctx, session, message, partner, decision.basis.value, now)
            return message.status

    item = NewItem(
        id=new_uuid7(), message_id=message.id, wijk=match.wijk,
        household_id=match.household_id, subject=match.subject,
        triage=match.household_id is None, type=message.type, category=message.category,
        source_partner=partner.id, basis=decision.basis.value, basis_ref=decision.basis_ref,
        fields=list(decision.fields) if decision.fields is not None else None,
        reason=decision.reason, status="new", taken_up=False, hidden=False,
        repeat_key=repeat_key, measure=None, repeats=0, delivered_at=now, updated_at=now)
    if measure is not None:
        # Sealed with the batch's other measures, before the items are inserted.
        reads.measures[item.id] = measure
    # A confidential type goes to the household's designated regisseur only (issue 7).
    address_item(session=session, ctx=ctx, item=item, reads=reads)
    reads.new_items.append(item)
    if repeat_key is not None:
        # The newest open item of its key now: a later message of the batch links to it.
        reads.open_items[repeat_key] = item
    message.status, message.item_id = "delivered", item.id
    if match.subject is not None:
        reads.insert_later(Disclosure.__table__, {
            "subject": match.subject, "message_id": message.id, "item_id": item.id,
            "message_type": message.type, "source_partner": partner.id,
            "recipient": f"wijkteam:{match.wijk}", "basis": decision.basis.value,
            "basis_ref": decision.basis_ref, "fields": item.fields, "reason": decision.reason,
            "at": now})
        record_disclosure(session, ctx=ctx, item=item, partner=partner)
        withhold_on_delivery(session=session, ctx=ctx, item=item, message=message, now=now,
                             reads=reads)
    # One household, one outreach (issue 16): in this same transaction.
    join_case(session=session, ctx=ctx, item=item, message=message, partner=partner,
              data=data, now=now, reads=reads)
    _reached_inbox(ctx, session, message, partner, decision.basis.value, now)
    announce_status(session, ctx=ctx, message=message, status="delivered", now=now,
                    payload=payload, partner=partner)
    return message.status


def _partner(session: Session, reads: RoutingReads, partner_id: str) -> Partner:
    partner = reads.partners.get(partner_id)
    if partner is None:
        partner = reads.partners[partner_id] = session.get(Partner, partner_id)
    return partner


def _payload(ctx: HubContext, reads: RoutingReads, message: RoutedMessage) -> dict:
    payload = reads.payloads.get(message.id)
    if payload is None:
        payload = reads.payloads[message.id] = ctx.cipher.open(
            message.payload_sealed, context=f"message:{message.id}")
    return payload


def _match_query(ctx: HubContext, reads: RoutingReads, message: RoutedMessage) -> dict:
    # What match_subject is asked besides the subject: from the sealed payload.
    payload = _payload(ctx, reads, message)
    given, data = payload["subject"], payload["data"]
    address = data.get("address") or {}
    return {"name": given.get("name"), "birthdate": given.get("birthdate"),
            "postcode": given.get("postcode") or address.get("postcode"),
            "huisnummer": given.get("huisnummer") or address.get("huisnummer")}


def _consents(session: Session, ctx: HubContext, reads: RoutingReads,
              subject: str) -> list[ConsentGrant]:
    if subject not in reads.versions:
        # Not locked by prefetch (it failed for this message): lock and read it now.
        reads.versions[subject] = registry.lock_subject(session=session, subject=subject)
        reads.consents[subject] = ctx.consent_cache.consents(
            session=session, subject=subject, version=reads.versions[subject])
    return reads.consents[subject]


def _repeat_of(ctx: HubContext, reads: RoutingReads, message: RoutedMessage,
               match: Match) -> tuple[str | None, Decimal | None]:
    mt = ctx.plugins.catalog.type(message.type)
    data = _payload(ctx, reads, message)["data"]
    partner = reads.partners[message.source_partner]
    return (_repeat_key(ctx, partner, message.type, mt.repeat_key(data), match),
            mt.repeat_measure(data))


# Built once per dialect; the ids or keys one parameter (hub.core.store.in_list).
_PARTNERS = {p: select(Partner).where(in_list(Partner.id, "ids", postgres=p))
             for p in (False, True)}


def _newest_open_items(postgres: bool) -> Select:
    # Only the newest open item of each key becomes an entity: a partner whose monthly
    # export repeats a tenancy whose arrears keep growing leaves an open item a month,
    # and every batch would otherwise load them all. The id breaks a tie between one
    # batch's items (one delivered_at), so that every batch picks the same one.
    ranked = (select(InboxItem.id, func.row_number().over(
        partition_by=InboxItem.repeat_key,
        order_by=(InboxItem.delivered_at.desc(), InboxItem.id.desc())).label("rank"))
        .where(in_list(InboxItem.repeat_key, "keys", postgres=postgres),
               InboxItem.status != "closed", InboxItem.hidden.is_(False))
        .subquery())
    return select(InboxItem).join(ranked, ranked.c.id == InboxItem.id).where(ranked.c.rank == 1)


_OPEN_ITEMS = {p: _newest_open_items(p) for p in (False, True)}


def _prefetch_open_items(session: Session, reads: RoutingReads, keys: set[str]) -> None:
    wanted = sorted(keys - reads.open_items.keys())
    if not wanted:
        return
    for key in wanted:
        reads.open_items[key] = None
    for item in session.scalars(_OPEN_ITEMS[is_postgres(session)], {"keys": wanted}):
        reads.open_items[item.repeat_key] = item


def _open_item(session: Session, reads: RoutingReads,
               repeat_key: str) -> InboxItem | NewItem | None:
    if repeat_key not in reads.open_items:
        _prefetch_open_items(session, reads, {repeat_key})
    return reads.open_items[repeat_key]


def _reached_inbox(ctx: HubContext, session: Session, message: RoutedMessage, partner: Partner,
                   basis: str, now: datetime) -> None:
    # The delivery line and its metrics: ids, type and basis only, never the data.
    ctx.metrics.reached_inbox(partner=partner.name, type=message.type, basis=basis,
                              outcome=message.status, received_at=message.received_at,
                              now=now, session=session)
    _log_when_committed(session, message, "message %s %s to inbox item %s of wijk %s on basis %s",
                        message.id, message.status, message.item_id, message.wijk, basis)


def _log_when_committed(session: Session, message: RoutedMessage, text: str, *args) -> None:
    # Said once it is true: a batch rolled back (and routed again) logs nothing for it,
    # and the line is written after the commit, not while the write lock is held.
    cid = message.correlation_id

    def emit() -> None:
        with correlation.bound(cid):
            log.info(text, *args)

    when_committed(session, emit)


def _repeat_key(ctx: HubContext, partner: Partner, type_: str, key: str | None,
                match: Match) -> str | None:
    """The key under which a herhaalde melding finds its open item, or None (never a repeat).

    A repeat is the same debt of the same resident (or, when the resident is not
    known, the same matched household) in the same wijk (issue 13, item 2): the
    partner's own reference alone is not enough, because a typo in it must never
    move one resident's signal into another resident's item. An unmatched (triage)
    signal has no one to be the same as, so it is never a repeat.
    """
    if not key:
        return None
    if match.subject is not None:
        whose = f"subject:{match.subject}"
    elif match.household_id is not None:
        whose = f"household:{match.household_id}"
    else:
        return None
    # Keyed, so a tenancy reference is not readable from the inbox table.
    return hmac.new(ctx.pseudonyms.key_for("repeat"),
                    f"{partner.id}|{type_}|{key}|{whose}|{match.wijk}".encode(),
                    hashlib.sha256).hexdigest()


def _seal_measures(ctx: HubContext, reads: RoutingReads) -> None:
    # The measure is message data (an amount owed): sealed like the message itself, all
    # of the batch's in one call (one key set-up, not one per message).
    items = [item for item in reads.new_items if item.id in reads.measures]
    sealed = ctx.cipher.seal_many([(str(reads.measures[item.id]), f"measure:{item.message_id}")
                                   for item in items])
    for item, token in zip(items, sealed, strict=True):
        item.measure = token
    reads.measures.clear()


def _open_measure(ctx: HubContext, reads: RoutingReads,
                  item: InboxItem | NewItem) -> Decimal | None:
    """The item's measure in clear, or None when it has none."""
    clear = reads.measures.get(item.id)
    if clear is not None:
        return clear  # an item of this batch: not sealed yet
    if item.measure is None:
        return None
    if ctx.cipher.key_id(item.measure) is None:
        return Decimal(item.measure)  # stored in clear before it was sealed (until reencrypt)
    return Decimal(ctx.cipher.open(item.measure, context=f"measure:{item.message_id}"))
