"""The audit log (NEN 7513): every disclosure, read, consent change and admin action.

Each event says who (``actor``), in which role, did what (``action``) to whose
data (``subject``, the resident's pseudonym), which data (``data``: ids and
field names, never values), when, on which basis, from which system and
address. Events are written by :func:`record_event` in the caller's
transaction, so an action and its event commit together or not at all.

The log is a hash chain: each row's ``hash`` is SHA-256 over a canonical
encoding of the row including the previous row's hash, and the newest link
(``audit_head``) is signed with the hub's Ed25519 audit key. :func:`verify`
finds a changed, removed, reordered or cut-off row. Appends lock the head row
(``SELECT ... FOR UPDATE``; on SQLite every write transaction is already
exclusive), so several workers never fork the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.keys import KeyError_, KeyRing
from hub.core.models import AuditEvent, AuditHead
from hub.core.store import insert_if_absent

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
    return Ed25519PrivateKey.from_private_bytes(ring.audit_key)


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


def _lock_head(session: Session) -> AuditHead:
    # populate_existing: the session may hold the head from an earlier transaction.
    stmt = (select(AuditHead).where(AuditHead.id == _HEAD_ID).with_for_update()
            .execution_options(populate_existing=True))
    head = session.scalar(stmt)
    if head is None:
        # The first append ever; ON CONFLICT lets two first appends race safely.
        insert_if_absent(session, AuditHead.__table__, {
            "id": _HEAD_ID, "seq": 0, "hash": GENESIS, "signature": "", "updated_at": _EPOCH})
        head = session.scalar(stmt)
    return head


def record_events(session: Session, *, ctx: HubContext, events: Iterable[Event]) -> list[int]:
    """Append events to the chain in the caller's transaction; returns their sequence numbers.

    The head is locked first and signed once at the end, so a page of reads costs
    one signature. Commit or roll back with the action the events record.
    """
    events = list(events)
    if not events:
        return []
    head = _lock_head(session)
    now = ctx.clock()
    seqs = []
    for event in events:
        seq = head.seq + 1
        row = AuditEvent(
            seq=seq, at=event.at or now, actor=event.actor, role=event.role,
            action=event.action, subject=event.subject, data=event.data, basis=event.basis,
            system=event.system or current_system.get(),
            client=event.client if event.client is not None else current_client.get(),
            prev_hash=head.hash)
        row.hash = row_hash(row)
        session.add(row)
        head.seq, head.hash = seq, row.hash
        seqs.append(seq)
    head.signature = sign_head(ctx.keys, head.seq, head.hash)
    head.updated_at = now
    session.flush()
    return seqs


def record_event(session: Session, *, ctx: HubContext, action: str, actor: str, role: str,
                 subject: str | None = None, data: dict[str, Any] | None = None,
                 basis: str | None = None, system: str | None = None,
                 client: str | None = None) -> int:
    """Append one event in the caller's transaction; returns its sequence number.

    ``actor`` is a user id, a partner id or a component, never a BSN; ``subject``
    the resident's pseudonym; ``data`` ids and field names only. ``system`` and
    ``client`` default to what the current request set (see ``hub.api.audit``).
    """
    return record_events(session, ctx=ctx, events=[Event(
        action=action, actor=actor, role=role, subject=subject, data=data, basis=basis,
        system=system, client=client)])[0]


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
    head = session.get(AuditHead, _HEAD_ID)
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
    head = session.get(AuditHead, _HEAD_ID)
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


def record_disclosure(session: Session, *, ctx: HubContext, item: Any, partner: Any) -> int:
    """That an inbox item's data went from its partner to the wijkteam (the router calls this)."""
    return record_events(session, ctx=ctx, events=[disclosure_event(item=item,
                                                                    partner=partner)])[0]


def disclosure_event(*, item: Any, partner: Any) -> Event:
    """The event :func:`record_disclosure` appends, for a batch to append with others."""
    return Event(action="disclosure", actor=partner.id, role="partner", system="worker",
                 subject=item.subject, basis=basis_of(item.basis, item.basis_ref),
                 data={"item_id": item.id, "message_id": item.message_id, "type": item.type,
                       "recipient": f"wijkteam:{item.wijk}", "fields": item.fields})


def record_inbox_access(session: Session, *, ctx: HubContext, principal: Any, action: str,
                        views: Iterable[Any]) -> list[int]:
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
