"""The audit log (NEN 7513): every disclosure, read, consent change and admin action.

Each event says who (``actor``), in which role, did what (``action``) to whose
data (``subject``, the resident's pseudonym), which data (``data``: ids and
field names, never values), when, on which basis, from which system and
address. Events are written by :func:`record_event` in the caller's
transaction, so an action and its event commit together or not at all.

The log is a hash chain: each row's ``hash`` is SHA-256 over a canonical
encoding of the row including the previous row's hash, and the newest link
(``audit_head``) is signed with the hub's Ed25519 audit key. :func:`verify`
finds a changed, removed, reordered or cut-off row.

Linking happens at commit (issue 14): :func:`record_event` only queues the
event on the session; a ``before_commit`` hook links everything the
transaction queued in memory, inserts it with one statement, and updates and
signs the head once. The head row is locked (``SELECT ... FOR UPDATE``; on
SQLite every write transaction is already exclusive) only for that last step,
so several workers never fork the chain, yet they no longer wait on each
other for the whole of a routing transaction. See docs/audit.md.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event, insert, select, text, update
from sqlalchemy.orm import Session, SessionTransaction

from consent.bulk import execute_many
from hub.core.keys import KeyError_, KeyRing
from hub.core.models import AuditEvent, AuditHead
from hub.core.store import insert_if_absent, is_postgres

if TYPE_CHECKING:
    from hub.core.context import HubContext

GENESIS = "0" * 64
_HEAD_ID = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Set per request by hub.api.audit's middleware: the caller's address and our component.
current_client: ContextVar[str | None] = ContextVar("audit_client", default=None)
current_system: ContextVar[str] = ContextVar("audit_system", default="hub")


@dataclass(frozen=True)
class Event:
    """An event to append: everything but its place in the chain."""

    action: str
    actor: str
    role: str
    subject: str | None = None
    data: dict[str, Any] | None = None
    basis: str | None = None
    system: str | None = None
    client: str | None = None
    at: datetime | None = field(default=None, compare=False)


def canonical(*, seq: int, at: datetime, actor: str, role: str, action: str,
              subject: str | None, data: Any, basis: str | None, system: str,
              client: str | None, prev_hash: str) -> bytes:
    """The bytes a row's hash covers: every field, in a fixed order and encoding."""
    return json.dumps({
        "seq": seq, "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor, "role": role, "action": action, "subject": subject, "data": data,
        "basis": basis, "system": system, "client": client, "prev_hash": prev_hash,
    }, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def row_hash(row: AuditEvent) -> str:
    """SHA-256 of a stored row, as :func:`canonical` encodes it."""
    return hashlib.sha256(canonical(
        seq=row.seq, at=row.at, actor=row.actor, role=row.role, action=row.action,
        subject=row.subject, data=row.data, basis=row.basis, system=row.system,
        client=row.client, prev_hash=row.prev_hash)).hexdigest()


def _head_message(seq: int, hash_: str) -> bytes:
    return f"wijkhub-audit-head:{seq}:{hash_}".encode()


def _signing_key(ring: KeyRing) -> Ed25519PrivateKey:
    if ring.audit_key is None:
        raise KeyError_("the key ring has no audit_key")
    return _private_key(ring.audit_key)


@functools.lru_cache(maxsize=4)
def _private_key(raw: bytes) -> Ed25519PrivateKey:
    # Loaded once per key, not at every commit (issue 14: a tenth of the head's signing).
    # Keyed by the raw bytes the ring holds anyway; a rotated key is a new entry.
    return Ed25519PrivateKey.from_private_bytes(raw)


def sign_head(ring: KeyRing, seq: int, hash_: str) -> str:
    """The Ed25519 signature (hex) over the chain head."""
    return _signing_key(ring).sign(_head_message(seq, hash_)).hex()


def head_signature_valid(ring: KeyRing, head: AuditHead) -> bool:
    """Whether the head's signature is the audit key's over its sequence number and hash."""
    try:
        _signing_key(ring).public_key().verify(bytes.fromhex(head.signature),
                                               _head_message(head.seq, head.hash))
    except (InvalidSignature, ValueError):
        return False
    return True


_HEAD = AuditHead.__table__
_EVENTS = AuditEvent.__table__
_LOCK_HEAD = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == _HEAD_ID).with_for_update()
_INSERT_EVENTS = insert(_EVENTS)
_UPDATE_HEAD = update(_HEAD).where(_HEAD.c.id == _HEAD_ID)
_COLUMNS = ("seq", "at", "actor", "role", "action", "subject", "data", "basis", "system",
            "client", "prev_hash", "hash")
# On PostgreSQL a batch's rows travel as one JSON document (json_to_recordset), and the
# head moves in the same statement (a data-modifying WITH runs exactly once): one round
# trip, and one fixed statement that is compiled once. A multi-row VALUES list is a new
# statement for every batch size, and compiling it cost 18 % of routing. One array per
# column (unnest) was fixed too, but psycopg dumps a text array value by value in Python,
# escaping every quote of the events' JSON data with a regular expression: ~14 % of a
# routing worker's cProfile on PostgreSQL (issue 14). One json.dumps of the batch is C.
_APPEND_PG = text("""
WITH appended AS (
    INSERT INTO audit_events (seq, at, actor, role, action, subject, data, basis, system,
                              client, prev_hash, hash)
    SELECT seq, at, actor, role, action, subject, data, basis, system, client, prev_hash, hash
    FROM json_to_recordset(CAST(:rows AS json)) AS r(
        seq integer, at timestamptz, actor text, role text, action text, subject text,
        data json, basis text, system text, client text, prev_hash text, hash text))
UPDATE audit_head SET seq = :head_seq, hash = :head_hash, signature = :head_signature,
                      updated_at = :head_updated_at
WHERE id = :head_id""")
# session.info key: the events each open (sub)transaction queued, in recording order.
_PENDING = "wijkhub.audit.pending"


@dataclass
class _Pending:
    ctx: HubContext
    rows: dict[SessionTransaction, list[dict[str, Any]]] = field(default_factory=dict)


def _lock_head(session: Session) -> tuple[int, str]:
    """The head's (seq, hash), locked until the transaction ends; made on the first append."""
    head = session.execute(_LOCK_HEAD).first()
    if head is None:
        # The first append ever; ON CONFLICT lets two first appends race safely.
        insert_if_absent(session, _HEAD, {
            "id": _HEAD_ID, "seq": 0, "hash": GENESIS, "signature": "", "updated_at": _EPOCH})
        head = session.execute(_LOCK_HEAD).first()
    return head.seq, head.hash


def _hash_of(row: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(
        seq=row["seq"], at=row["at"], actor=row["actor"], role=row["role"],
        action=row["action"], subject=row["subject"], data=row["data"], basis=row["basis"],
        system=row["system"], client=row["client"], prev_hash=row["prev_hash"])).hexdigest()


def append_rows(session: Session, *, ctx: HubContext, rows: list[dict[str, Any]]) -> list[int]:
    """Link ``rows`` onto the chain now, in the caller's transaction; their sequence numbers.

    One head lock, one multi-row INSERT, one head UPDATE (on PostgreSQL both in
    one statement) and one Ed25519 signature, however many rows: the head is
    held only from here to the commit.
    """
    if not rows:
        return []
    seq, prev = _lock_head(session)
    linked = []
    for row in rows:
        seq += 1
        row = {**row, "seq": seq, "prev_hash": prev}
        row["hash"] = prev = _hash_of(row)
        linked.append(row)
    head = {"seq": seq, "hash": prev, "signature": sign_head(ctx.keys, seq, prev),
            "updated_at": ctx.clock()}
    if is_postgres(session):
        # Every round trip here is one that all other appenders wait for. A JSON null
        # becomes SQL NULL in json_to_recordset, as the JSON column stores None
        # (none_as_null). The time as the column type would bind it (a naive timestamp is
        # refused, not guessed), in ISO form with its offset, to the microsecond.
        at_type = _EVENTS.c.at.type
        document = json.dumps([
            {**{c: row[c] for c in _COLUMNS},
             "at": at_type.process_bind_param(row["at"], None).isoformat()}
            for row in linked])
        session.execute(_APPEND_PG, {"rows": document, "head_id": _HEAD_ID,
                                     **{f"head_{k}": v for k, v in head.items()}})
    else:
        execute_many(session, _INSERT_EVENTS, linked)
        session.execute(_UPDATE_HEAD, head)
    return [row["seq"] for row in linked]


def _current_transaction(session: Session) -> SessionTransaction:
    if not session.in_transaction():
        session.begin()
    return session.get_nested_transaction() or session.get_transaction()


def record_events(session: Session, *, ctx: HubContext, events: Iterable[Event]) -> int:
    """Queue events in the caller's transaction; they join the chain when it commits.

    Returns how many were queued. The events commit with the action they
    record, or vanish with its rollback (a savepoint's too); however many a
    transaction queues, its commit costs one head update and one signature.
    """
    now = ctx.clock()
    rows = [{
        "at": e.at or now, "actor": e.actor, "role": e.role, "action": e.action,
        "subject": e.subject, "data": e.data, "basis": e.basis,
        "system": e.system or current_system.get(),
        "client": e.client if e.client is not None else current_client.get()}
        for e in events]
    if rows:
        pending = session.info.get(_PENDING)
        if pending is None:
            pending = session.info[_PENDING] = _Pending(ctx)
        pending.rows.setdefault(_current_transaction(session), []).extend(rows)
    return len(rows)


@event.listens_for(Session, "before_commit")
def _append_on_commit(session: Session) -> None:
    pending: _Pending | None = session.info.get(_PENDING)
    if pending is None or not pending.rows:
        return
    nested = session.get_nested_transaction()
    if nested is not None:
        # A savepoint released: its events now belong to the transaction around it.
        rows = pending.rows.pop(nested, None)
        if rows:
            pending.rows.setdefault(nested.parent, []).extend(rows)
        return
    rows = pending.rows.pop(session.get_transaction(), None)
    if rows:
        # Flush the action first, so the head is the last lock this transaction takes
        # (no deadlock) and is held for the commit alone.
        session.flush()
        append_rows(session, ctx=pending.ctx, rows=rows)


@event.listens_for(Session, "after_transaction_end")
def _drop_rolled_back(session: Session, transaction: SessionTransaction) -> None:
    # Committed rows were taken by _append_on_commit; what is left here was rolled back.
    pending: _Pending | None = session.info.get(_PENDING)
    if pending is not None:
        pending.rows.pop(transaction, None)
        if transaction.parent is None:
            session.info.pop(_PENDING, None)


def record_event(session: Session, *, ctx: HubContext, action: str, actor: str, role: str,
                 subject: str | None = None, data: dict[str, Any] | None = None,
                 basis: str | None = None, system: str | None = None,
                 client: str | None = None) -> None:
    """Record one event in the caller's transaction: it joins the chain at the commit.

    ``actor`` is a user id, a partner id or a component, never a BSN; ``subject``
    the resident's pseudonym; ``data`` ids and field names only. ``system`` and
    ``client`` default to what the current request set (see ``hub.api.audit``).
    """
    record_events(session, ctx=ctx, events=[Event(
        action=action, actor=actor, role=role, subject=subject, data=data, basis=basis,
        system=system, client=client)])


def as_actor(principal: Any) -> dict[str, str]:
    """``actor`` and ``role`` for a staff member or resident (their pseudonym, never a BSN)."""
    if principal.role == "resident":
        return {"actor": principal.subject, "role": "resident"}
    return {"actor": principal.user, "role": principal.role}


def cli_actor() -> dict[str, str]:
    """``actor``, ``role``, ``system`` and ``client`` for a ``hub`` command run by an operator."""
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {"actor": user, "role": "admin", "system": "cli", "client": socket.gethostname()}


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify` found: intact (``first_bad`` None) or the first bad row and why."""

    count: int
    head_seq: int
    first_bad: int | None = None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        """True when every row and the signed head check out."""
        return self.first_bad is None and self.reason is None


def export_head(session: Session, ring: KeyRing) -> dict[str, Any]:
    """The signed head and the public key that checks it, to keep outside the database."""
    head = session.get(AuditHead, _HEAD_ID, populate_existing=True)
    public = _signing_key(ring).public_key().public_bytes_raw().hex()
    if head is None:
        return {"seq": 0, "hash": GENESIS, "signature": "", "public_key": public}
    return {"seq": head.seq, "hash": head.hash, "signature": head.signature,
            "public_key": public}


def verify(session: Session, ring: KeyRing, *, batch: int = 1000,
           saved_head: tuple[int, str] | None = None) -> Verdict:
    """Walk the chain from row 1 and check every link and the signed head.

    ``saved_head`` is a (seq, hash) kept outside the database (``hub audit head``):
    the log must still hold that row unchanged, which catches a log emptied or
    rolled back together with its head.
    """
    expected, prev, count = 1, GENESIS, 0
    rows = session.execute(select(AuditEvent).order_by(AuditEvent.seq)
                           .execution_options(yield_per=batch)).scalars()
    for row in rows:
        if row.seq != expected:
            return Verdict(count, 0, expected, f"row {expected} is missing (deleted)")
        if row.prev_hash != prev:
            return Verdict(count, 0, row.seq, f"row {row.seq} does not link to the row before "
                                              "it (reordered or inserted)")
        if row_hash(row) != row.hash:
            return Verdict(count, 0, row.seq, f"row {row.seq} does not match its hash "
                                              "(changed or reordered)")
        if saved_head is not None and row.seq == saved_head[0] and row.hash != saved_head[1]:
            return Verdict(count, 0, row.seq, f"row {row.seq} differs from the saved head")
        prev, expected, count = row.hash, expected + 1, count + 1
    last = expected - 1
    if saved_head is not None and saved_head[0] > last:
        return Verdict(count, 0, last + 1, f"rows {last + 1} to {saved_head[0]} are missing "
                                           "(the log ends before the saved head)")
    head = session.get(AuditHead, _HEAD_ID, populate_existing=True)
    if head is None:
        if last == 0:
            return Verdict(0, 0)
        return Verdict(count, 0, None, "the signed chain head is missing")
    if head.seq > last:
        return Verdict(count, head.seq, last + 1,
                       f"rows {last + 1} to {head.seq} are missing (the end was cut off)")
    if head.seq < last:
        return Verdict(count, head.seq, head.seq + 1,
                       f"row {head.seq + 1} is not covered by the signed chain head")
    if head.hash != prev:
        return Verdict(count, head.seq, last, f"the chain head does not match row {last}")
    if last > 0 and not head_signature_valid(ring, head):
        return Verdict(count, head.seq, None, "the chain head's signature is not valid")
    return Verdict(count, head.seq)


def basis_of(basis: str, basis_ref: str | None) -> str:
    """The ``basis`` field of an event: ``consent:<id>``, ``statute:wgs``, ..."""
    return f"{basis}:{basis_ref}" if basis_ref else basis


def record_disclosure(session: Session, *, ctx: HubContext, item: Any, partner: Any) -> None:
    """That an inbox item's data went from its partner to the wijkteam (the router calls this)."""
    record_event(session, ctx=ctx, action="disclosure", actor=partner.id, role="partner",
                 system="worker", subject=item.subject,
                 basis=basis_of(item.basis, item.basis_ref),
                 data={"item_id": item.id, "message_id": item.message_id, "type": item.type,
                       "recipient": f"wijkteam:{item.wijk}", "fields": item.fields})


def record_inbox_access(session: Session, *, ctx: HubContext, principal: Any, action: str,
                        views: Iterable[Any]) -> int:
    """One event per inbox item shown to a regisseur, naming the fields they saw.

    ``action`` is ``read`` (one item), ``read.list`` (a page of the inbox),
    ``inbox.take_up`` or ``inbox.close``.
    """
    who = as_actor(principal)
    return record_events(session, ctx=ctx, events=[Event(
        action=action, subject=view.item.subject,
        basis=basis_of(view.item.basis, view.item.basis_ref),
        data={"item_id": view.item.id, "type": view.item.type,
              "fields": sorted(view.data)}, **who) for view in views])
