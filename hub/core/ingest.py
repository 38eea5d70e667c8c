"""Accepting a partner's message: validate, dedupe, seal, store with its outbox row."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import TextClause, bindparam, select, text
from sqlalchemy.orm import Session

from consent.bulk import insert_many
from hub.core import correlation
from hub.core.context import HubContext
from hub.core.envelope import MessageIn
from hub.core.errors import FieldProblem, HubProblem, invalid, pydantic_problems
from hub.core.ids import new_uuid7
from hub.core.models import Message, OutboxEntry, Partner
from hub.core.source_refs import ref_context, ref_key
from hub.core.store import insert_if_absent, insert_ignoring_conflicts
from hub.core.types import ReceivedMessage

ROUTE_TASK = "route"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accepted:
    """The hub's receipt: its id for the message, and whether this call stored it."""

    id: str
    created: bool


@dataclass(frozen=True)
class ValidMessage:
    """A message that passed every check, ready to store."""

    incoming: MessageIn
    category: str
    data: dict[str, Any]
    subject: str | None


def validate_message(*, ctx: HubContext, partner: Partner, body: Any) -> ValidMessage:
    """Check a message completely, or raise a :class:`HubProblem` naming each bad field.

    Every problem comes in one answer: the envelope's (subject, occurred_at, …) and,
    when the type is known and the partner may send it, those in ``data`` too
    (issue 15, item 8). A type the partner may not send is a 403 once the
    envelope itself is sound.
    """
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object")
    problems: list[FieldProblem] = []
    incoming = None
    try:
        incoming = MessageIn.model_validate(body)
    except ValidationError as exc:
        problems += pydantic_problems(exc)
    type_name = body.get("type")
    mt = ctx.plugins.catalog.type(type_name) if isinstance(type_name, str) else None
    if isinstance(type_name, str) and not any(p.field == "type" for p in problems):
        if mt is None:
            problems.append(FieldProblem("type", f"unknown message type {type_name!r}"))
        elif not mt.inbound:
            problems.append(FieldProblem("type", f"{type_name!r} is sent by the hub, not to it"))
        elif partner.kind not in mt.partner_kinds and not problems:
            raise HubProblem(403, "Message type not allowed for this partner", [FieldProblem(
                "type", f"partners of kind {partner.kind!r} may not send {type_name!r}")])
    data: dict[str, Any] | None = None
    if (mt is not None and mt.inbound and partner.kind in mt.partner_kinds
            and isinstance(body.get("data"), dict)):
        try:
            data = mt.data_model.model_validate(body["data"]).model_dump(mode="json")
        except ValidationError as exc:
            problems += pydantic_problems(exc, "data")
    if problems or incoming is None or data is None or mt is None:
        envelope = any(not p.field.startswith("data.") for p in problems)
        raise HubProblem(422, "Invalid message" if envelope else "Invalid message data",
                         problems)
    _check_area(ctx, incoming, data)
    subject = ctx.pseudonyms.subject(incoming.subject.bsn) if incoming.subject.bsn else None
    return ValidMessage(incoming=incoming, category=mt.category, data=data, subject=subject)


def _check_area(ctx: HubContext, incoming: MessageIn, data: dict[str, Any]) -> None:
    # Refuse at the door what no wijkteam of this hub could ever receive.
    address = data.get("address")
    for field, postcode in (("subject.postcode", incoming.subject.postcode),
                            ("data.address.postcode", address and address.get("postcode"))):
        if postcode and ctx.wijkmap.wijk_for(postcode) is None:
            raise invalid(field, "is outside the wijken this hub serves")


def store_message(*, session: Session, ctx: HubContext, partner: Partner, valid: ValidMessage,
                  now: datetime, batch_id: str | None = None) -> Accepted:
    """Store the message and its outbox row in the caller's transaction, once.

    The same ``source_ref`` from the same partner gives back the first id and
    stores nothing: the unique constraint decides, not an earlier lookup.
    """
    # Outside a request (an importer, a poller) the message gets an id of its own.
    cid = correlation.current() or correlation.new_id()
    # The reference may be personal data: a keyed hash for uniqueness, sealed beside it.
    row = _message_row(ctx, partner, valid, now, batch_id, cid)
    message_id, key = row["id"], row["source_ref"]
    created = insert_if_absent(session, Message.__table__, row)
    if not created:
        existing = session.scalar(select(Message.id).where(
            Message.source_partner == partner.id, Message.source_ref == key))
        ctx.metrics.message_in(partner=partner.name, type=valid.incoming.type,
                               outcome="duplicate", session=session)
        log.info("message %s sent again by partner %s: nothing stored", existing, partner.id)
        return Accepted(id=existing, created=False)
    enqueue(session=session, message_id=message_id, now=now)
    ctx.metrics.message_in(partner=partner.name, type=valid.incoming.type, outcome="accepted",
                           session=session)
    with correlation.bound(cid):
        log.info("message %s accepted: %s from partner %s", message_id, valid.incoming.type,
                 partner.id)
    return Accepted(id=message_id, created=True)


def _message_row(ctx: HubContext, partner: Any, valid: ValidMessage, now: datetime,
                 batch_id: str | None, cid: str) -> dict[str, Any]:
    return message_rows(ctx, [(partner, valid)], [now], [cid], batch_id)[0]


def message_rows(ctx: HubContext, items: list[tuple[Any, ValidMessage]],
                 times: list[datetime], cids: list[str],
                 batch_id: str | None = None) -> list[dict[str, Any]]:
    """The ``messages`` rows of ``items`` (``(partner, valid)`` pairs), each with a new
    id, the time of receipt of ``times`` and the correlation id of ``cids``, its
    reference keyed and its reference and payload sealed.

    Touches no database: the group commit builds the rows before its transaction
    opens, so that the sealing is not done while the write lock is held (issue 14).
    All documents are sealed in one pass of the cipher (every document its own
    nonce and context, the key set up once).
    """
    rows: list[dict[str, Any]] = []
    documents: list[tuple[Any, str]] = []
    for (partner, valid), now, cid in zip(items, times, cids, strict=True):
        message_id = new_uuid7()  # time-ordered, no system call per id (hub.core.ids)
        given = valid.incoming.subject.model_dump(mode="json", exclude={"bsn"},
                                                  exclude_none=True)
        documents.append((valid.incoming.source_ref, ref_context(message_id)))
        documents.append(({"subject": given, "data": valid.data}, f"message:{message_id}"))
        rows.append({
            "id": message_id,
            "type": valid.incoming.type,
            "source_partner": partner.id,
            "source_ref": ref_key(ctx, partner_id=partner.id,
                                  source_ref=valid.incoming.source_ref),
            "subject": valid.subject,
            "category": valid.category,
            "occurred_at": valid.incoming.occurred_at,
            "received_at": now,
            "schema_version": 1,
            "status": "accepted",
            "batch_id": batch_id,
            "correlation_id": cid,
        })
    sealed = ctx.cipher.seal_many(documents)
    for n, row in enumerate(rows):
        row["source_ref_sealed"], row["payload_sealed"] = sealed[2 * n], sealed[2 * n + 1]
    return rows


def store_messages(*, session: Session, ctx: HubContext, partner: Partner,
                   valids: list[ValidMessage], now: datetime,
                   batch_id: str | None = None) -> list[Accepted]:
    """Store many messages and their outbox rows in the caller's transaction, set-based.

    The same promise as :func:`store_message`, for a list (a CSV batch's chunk),
    in a fixed number of statements whatever its length. On PostgreSQL the rows
    go in with ``COPY`` into a temporary staging table and one statement moves
    them on (``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING``, the outbox
    rows of those written in the same statement); elsewhere one multi-row
    ``INSERT … ON CONFLICT DO NOTHING RETURNING`` and one INSERT for the outbox
    rows. One select finds the first ids of the duplicates. A ``source_ref`` the
    list holds twice is stored once; the second receipt carries the first id
    with ``created`` False. Receipts come in the order of ``valids``, and the
    outbox rows are queued in that order.
    """
    receipts = store_many(session=session, ctx=ctx, items=[(partner, v) for v in valids],
                          now=now, batch_id=batch_id, chunk=True)
    for valid, receipt in zip(valids, receipts, strict=True):
        ctx.metrics.message_in(partner=partner.name, type=valid.incoming.type,
                               outcome="accepted" if receipt.created else "duplicate",
                               session=session)
    log.info("%s messages accepted, %s sent again, from partner %s",
             sum(r.created for r in receipts), sum(not r.created for r in receipts),
             partner.id)
    return receipts


def store_many(*, session: Session, ctx: HubContext, items: list[tuple[Any, ValidMessage]],
               now: datetime, batch_id: str | None = None,
               correlation_ids: list[str] | None = None,
               received: list[datetime] | None = None, chunk: bool = False) -> list[Accepted]:
    """:func:`store_messages` for messages of several partners (``(partner, valid)``
    pairs; a partner needs ``id``), without counting them: the caller counts.
    ``correlation_ids`` gives each message the id of the request that brought it,
    ``received`` its own time of receipt (else ``now``). ``chunk`` (a CSV batch's
    hundreds of lines) stores through ``COPY`` on PostgreSQL and makes the outbox rows
    with one ``INSERT … SELECT`` on SQLite; without it (a group commit's few messages)
    PostgreSQL gets the rows as arrays through ``unnest`` in one fixed statement. The
    same rows and receipts either way."""
    if not items:
        return []
    cid = correlation.current() or correlation.new_id()
    cids = correlation_ids or [cid] * len(items)
    times = received or [now] * len(items)
    return store_rows(session=session, rows=message_rows(ctx, items, times, cids, batch_id),
                      chunk=chunk)


def store_rows(*, session: Session, rows: list[dict[str, Any]],
               chunk: bool = False) -> list[Accepted]:
    """Store rows made by :func:`message_rows` and their outbox rows in the caller's
    transaction: :func:`store_many` after its rows are built, with its promises."""
    if not rows:
        return []
    dialect = session.get_bind().dialect
    if chunk and dialect.name == "postgresql":
        created = _copy_messages(session, rows)
    elif dialect.name == "postgresql":
        created = _unnest_messages(session, rows)
    elif chunk and dialect.name == "sqlite":
        created = _insert_messages_sqlite(session, rows)
    else:
        created = _insert_messages(session, rows)
    first: dict[tuple[str, str], str] = {
        (row["source_partner"], row["source_ref"]): row["id"] for row in rows
        if row["id"] in created}
    missing = [row for row in rows if (row["source_partner"], row["source_ref"]) not in first]
    if missing:
        found = session.execute(select(Message.source_partner, Message.source_ref, Message.id)
                                .where(Message.source_partner.in_(
                                           {row["source_partner"] for row in missing}),
                                       Message.source_ref.in_(
                                           {row["source_ref"] for row in missing})))
        first.update({(p, ref): id_ for p, ref, id_ in found})
    return [Accepted(id=first[(row["source_partner"], row["source_ref"])],
                     created=row["id"] in created) for row in rows]


def _insert_messages(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    # One multi-row INSERT … ON CONFLICT DO NOTHING RETURNING id, then the outbox rows
    # of those written (in the order of ``rows``); the ids written.
    stmt = insert_ignoring_conflicts(session.get_bind().dialect.name, Message.__table__)
    created = set(session.execute(stmt, rows).scalars())
    if created:
        # The table, not the entity: a Core executemany, without the ORM's bulk-insert
        # bookkeeping per row (a fifth of the group commit's CPU on SQLite, issue 14).
        insert_many(session, OutboxEntry.__table__, [
            {"message_id": row["id"], "task": ROUTE_TASK, "status": "pending", "attempts": 0,
             "next_attempt_at": row["received_at"], "created_at": row["received_at"],
             "updated_at": row["received_at"]}
            for row in rows if row["id"] in created])
    return created


# SQLite, a batch's chunk: the outbox rows of the messages just written, made from their
# rows by the database (in rowid order: the order of the multi-row INSERT, the lines'),
# not as 500 more parameter sets for SQLAlchemy to process one timestamp at a time.
_QUEUE_WRITTEN = text("""
INSERT INTO outbox (message_id, task, status, attempts, next_attempt_at, created_at, updated_at)
SELECT id, :task, 'pending', 0, received_at, received_at, received_at
FROM messages WHERE id IN :ids ORDER BY rowid
""").bindparams(bindparam("ids", expanding=True))


def _insert_messages_sqlite(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    stmt = insert_ignoring_conflicts("sqlite", Message.__table__)
    created = set(session.execute(stmt, rows).scalars())
    if created:
        session.execute(_QUEUE_WRITTEN, {"task": ROUTE_TASK, "ids": list(created)})
    return created


# The staging table of COPY: one per connection (TEMP), gone with the connection. It has
# the copied columns of messages with their types (not their constraints: messages
# checks those) and ``ord``, the line order. The statement that reads it deletes what it
# read; ON COMMIT DELETE ROWS truncates it at every commit. Without that, the deleted rows
# stay behind as dead tuples (nothing vacuums a temporary table) and every chunk scans
# all earlier chunks' rows again: 3,700 lines/s at 10,000 lines fell to 2,500 at 40,000.
STAGING = "hub_copy_messages"
_COPY_COLUMNS = ("id", "type", "source_partner", "source_ref", "source_ref_sealed", "subject",
                 "category", "payload_sealed", "occurred_at", "received_at", "schema_version",
                 "status", "batch_id", "correlation_id")
_COLUMNS = ", ".join(_COPY_COLUMNS)
_STAGING_DDL = (f"CREATE TEMP TABLE IF NOT EXISTS {STAGING} ON COMMIT DELETE ROWS AS "  # noqa: S608
                f"SELECT {_COLUMNS}, 0 AS ord FROM messages WITH NO DATA")
def _store_and_queue(given: str) -> TextClause:
    """One statement that writes the rows ``given`` yields (the copied columns and ``ord``,
    their order) to messages and queues those written (not duplicates) in the outbox in
    that order; it returns the ids written. The outbox's NOTIFY trigger fires once for
    it, as for any INSERT."""
    return text(f"""
WITH given AS ({given}),
written AS (
    INSERT INTO messages ({_COLUMNS})
    SELECT {_COLUMNS} FROM given ORDER BY ord
    ON CONFLICT DO NOTHING
    RETURNING id, received_at
),
queued AS (
    INSERT INTO outbox (message_id, task, status, attempts, next_attempt_at, created_at,
                        updated_at)
    SELECT written.id, :task, 'pending', 0, written.received_at, written.received_at,
           written.received_at
    FROM written JOIN given ON given.id = written.id ORDER BY given.ord
)
SELECT id FROM written
""")  # noqa: S608 - names are constants of this module, values are bound


# A CSV chunk: the staged rows leave the staging table (DELETE … RETURNING).
_MOVE = _store_and_queue(f"DELETE FROM {STAGING} RETURNING {_COLUMNS}, ord")  # noqa: S608
# PostgreSQL, a group commit's messages (issue 14): the rows travel as one array per
# column through unnest. One round trip, one statement compiled once, and a short query
# text that psycopg parses once. As a multi-row VALUES list (14 parameters a row)
# psycopg parsed the text anew for every group, a sixth of the group commit's CPU, and
# the outbox rows took a round trip of their own.
_ARRAY_TYPES = {"occurred_at": "timestamptz", "received_at": "timestamptz",
                "schema_version": "integer"}
_UNNEST = ", ".join(f"CAST(:{name} AS {_ARRAY_TYPES.get(name, 'text')}[])"
                    for name in _COPY_COLUMNS)
_INSERT_UNNEST = _store_and_queue(
    f"SELECT * FROM unnest({_UNNEST}) WITH ORDINALITY AS g({_COLUMNS}, ord)")  # noqa: S608


def _unnest_messages(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    # The ids written. Each column's own bind processing (timestamps to UTC, a naive one
    # refused) is applied here, as the ORM would: text() binds lists as they are.
    dialect = session.get_bind().dialect
    params: dict[str, Any] = {"task": ROUTE_TASK}
    for name in _COPY_COLUMNS:
        values = [row[name] for row in rows]
        convert = Message.__table__.c[name].type.bind_processor(dialect)
        params[name] = [convert(v) for v in values] if convert is not None else values
    return set(session.execute(_INSERT_UNNEST, params).scalars())


def _copy_messages(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    # PostgreSQL: COPY the rows into the staging table over the session's own connection
    # (same transaction), then one statement moves them on; the ids written.
    connection = session.connection()
    table = Message.__table__
    # The columns' own bind processing (timestamps to UTC), where a column has any.
    convert = [(n, fn) for n, fn in enumerate(
        table.c[name].type.bind_processor(connection.dialect) for name in _COPY_COLUMNS)
        if fn is not None]
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor:
        cursor.execute(_STAGING_DDL)
        with cursor.copy(f"COPY {STAGING} ({_COLUMNS}, ord) FROM STDIN") as copy:
            for number, row in enumerate(rows):
                values = [row[name] for name in _COPY_COLUMNS]
                for n, fn in convert:
                    values[n] = fn(values[n])
                values.append(number)
                copy.write_row(values)
    return set(session.execute(_MOVE, {"task": ROUTE_TASK}).scalars())


def log_accepted(*, accepted: Accepted, type_: str, partner_id: str, cid: str) -> None:
    """Log one message's receipt as :func:`store_message` does, under its correlation id."""
    with correlation.bound(cid):
        if accepted.created:
            log.info("message %s accepted: %s from partner %s", accepted.id, type_, partner_id)
        else:
            log.info("message %s sent again by partner %s: nothing stored", accepted.id,
                     partner_id)


def count_rejected(*, ctx: HubContext, partner: Partner, body: Any) -> None:
    """Count a message refused at the door, under its type only when a plugin serves it."""
    given = body.get("type") if isinstance(body, dict) else None
    # A type a partner made up is no label: it could be anything, even a BSN.
    known = isinstance(given, str) and ctx.plugins.catalog.type(given) is not None
    ctx.metrics.message_in(partner=partner.name, type=given if known else "unknown",
                           outcome="rejected")


def enqueue(*, session: Session, message_id: str, now: datetime, task: str = ROUTE_TASK) -> None:
    """Add work for the worker to the caller's transaction."""
    session.add(OutboxEntry(message_id=message_id, task=task, status="pending", attempts=0,
                            next_attempt_at=now, created_at=now, updated_at=now))


def accept_message(*, session: Session, ctx: HubContext, partner: Partner, body: Any,
                   now: datetime) -> Accepted:
    """Validate and store one message in the caller's transaction."""
    try:
        valid = validate_message(ctx=ctx, partner=partner, body=body)
        accepted = store_message(session=session, ctx=ctx, partner=partner, valid=valid,
                                 now=now)
        if accepted.created:
            # A plugin checks what only it knows (a reference to one of its own records);
            # when it refuses, the caller rolls back and nothing of the message stays.
            ctx.plugins.message_received(session=session, ctx=ctx, message=ReceivedMessage(
                id=accepted.id, type=valid.incoming.type,
                source_ref=valid.incoming.source_ref, partner_id=partner.id,
                partner_kind=partner.kind, subject=valid.subject, data=valid.data,
                received_at=now))
    except HubProblem:
        count_rejected(ctx=ctx, partner=partner, body=body)
        raise
    return accepted
