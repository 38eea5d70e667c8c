"""The messages a routing batch works on, as plain rows: read with one Core select, their
outcome written with one Core executemany (issue 14).

Routing reads a dozen columns of each message and writes seven. As ORM entities
the messages cost an identity-map object each, instrumented attribute access and,
at the flush, a comparison of every attribute with its loaded value to build one
UPDATE per message (the unit of work's largest part of a batch). Nothing in the
batch needs the ORM for them: routing knows exactly what it changes. So they are
loaded as :class:`RoutedMessage` (locked ``FOR UPDATE`` on PostgreSQL, as the
entities were) and :func:`write_outcomes` stores the routed ones with one
statement. Code that reads a message (facts, status events, outreach, withholding)
takes either an entity or this row: the attributes have the columns' names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from consent.bulk import execute_many
from hub.core.models import Message
from hub.core.store import in_list, is_postgres

#: The columns routing may change; :func:`write_outcomes` writes these.
OUTCOME_COLUMNS = ("status", "subject", "household_id", "wijk", "match_method", "item_id",
                   "request_id")


@dataclass(slots=True)
class RoutedMessage:
    """One ``messages`` row as routing reads and changes it (no ORM state).

    ``routed`` says the batch decided it, so :func:`write_outcomes` writes it; a
    message that was finished already when loaded (a redelivery) stays untouched.
    """

    id: str
    type: str
    source_partner: str
    source_ref: str
    source_ref_sealed: str | None
    subject: str | None
    category: str
    payload_sealed: str
    received_at: datetime
    status: str
    wijk: str | None
    household_id: str | None
    match_method: str | None
    item_id: str | None
    request_id: str | None
    correlation_id: str | None
    routed: bool = False


_TABLE = Message.__table__
_READ = tuple(f.name for f in fields(RoutedMessage) if f.name != "routed")
# Built once per dialect, the ids one parameter (hub.core.store.in_list), not an IN list
# whose every value SQLAlchemy coerces again for each batch (issue 14). On PostgreSQL the
# rows are locked.
_SELECT = {postgres: select(*(_TABLE.c[name] for name in _READ))
           .where(in_list(_TABLE.c.id, "ids", postgres=postgres)).order_by(_TABLE.c.id)
           for postgres in (False, True)}
_SELECT[True] = _SELECT[True].with_for_update()
# Bind names unlike the columns' (SQLAlchemy reserves those for SET): one fixed statement,
# compiled once, sent with one parameter set per message.
_UPDATE = (update(_TABLE).where(_TABLE.c.id == bindparam("b_id"))
           .values({_TABLE.c[name]: bindparam(f"b_{name}") for name in OUTCOME_COLUMNS}))


def load_messages(session: Session, ids: Iterable[str]) -> dict[str, RoutedMessage]:
    """The messages with these ids, by id, read with one select in id order.

    On PostgreSQL the rows are locked (``FOR UPDATE``, in id order: two workers with
    overlapping batches cannot deadlock on them) until the caller's transaction ends;
    on SQLite the write transaction is exclusive already. Ids with no row are absent.
    """
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {row.id: RoutedMessage(*row)
            for row in session.execute(_SELECT[is_postgres(session)], {"ids": wanted})}


def write_outcomes(session: Session, messages: Iterable[RoutedMessage]) -> int:
    """Store the routed messages' :data:`OUTCOME_COLUMNS` with one executemany UPDATE, in
    the caller's transaction; returns how many rows it wrote (messages not ``routed``
    are left out)."""
    rows = [{"b_id": m.id, **{f"b_{name}": getattr(m, name) for name in OUTCOME_COLUMNS}}
            for m in messages if m.routed]
    if rows:
        execute_many(session, _UPDATE, rows)
    return len(rows)
