"""What routing one batch of messages reads, fetched once with ``IN`` lists (issue 14).

The router (:func:`hub.core.router.route_messages`) fills a :class:`RoutingReads`
before it routes the first message of a batch: one select per table for the
whole batch instead of one per message. The functions routing calls
(:func:`hub.core.residents.match_subject`, :func:`hub.core.outreach.join_case`,
:func:`hub.core.withholding.withhold_on_delivery`, ...) look here first and fall
back to their own query on a miss, keeping what they read and what they write
(a new inbox item, a new outreach case): the batch is routed with autoflush off
and flushed once at its end, so a second message of the same resident or the
same repeat key finds the first one's item here, not in the database.

A batch of one message is routed the same way: there is one code path. The
object lives for one transaction; nothing in it may be kept beyond its end.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any


@dataclass
class RoutingReads:
    """The reads of one routing batch, by key; a key present with None means "looked, none"."""

    #: partner id -> Partner
    partners: dict[str, Any] = field(default_factory=dict)
    #: message id -> its opened payload
    payloads: dict[str, dict] = field(default_factory=dict)
    #: message id -> its Match, as prefetch resolved it (the residents do not change
    #: within the batch's transaction: routing takes it from here, not again)
    matches: dict[str, Any] = field(default_factory=dict)
    #: message id -> (repeat key, measure), as prefetch computed it
    repeats: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    #: resident subject -> its ``residents`` row (a plain row, not an entity), or None
    #: when the registry has no such resident
    residents: dict[str, Any] = field(default_factory=dict)
    #: AddressLookup (address key, name key) -> the rows of the residents registered
    #: there who may bear that name (hub.core.residents.prefetch_residents)
    at_address: dict[Any, list] = field(default_factory=dict)
    #: resident subject -> opened identity
    identities: dict[str, dict] = field(default_factory=dict)
    #: household id -> its ``households`` row (a plain row, not an entity)
    households: dict[str, Any] = field(default_factory=dict)
    #: household ids locked FOR UPDATE in this transaction (an outreach case may change)
    locked_households: set[str] = field(default_factory=set)
    #: subject -> consent version, for the subjects locked in this transaction
    versions: dict[str, int] = field(default_factory=dict)
    #: subject -> active consents, read under that lock
    consents: dict[str, list] = field(default_factory=dict)
    #: repeat key -> the newest open inbox item with that key, or None
    open_items: dict[str, Any] = field(default_factory=dict)
    #: household id -> its open outreach case whose window runs (a plain CaseRow), or None
    open_cases: dict[str, Any] = field(default_factory=dict)
    #: household id -> how many outreach cases it has had (including new ones)
    case_counts: dict[str, int] = field(default_factory=dict)
    #: message id -> its Withholding, or None
    withholdings: dict[str, Any] = field(default_factory=dict)
    #: inbox items this batch delivered, inserted with one statement at the batch's end
    new_items: list[NewItem] = field(default_factory=list)
    #: new item id -> its measure in clear, until the batch's end seals them all at once
    measures: dict[str, Any] = field(default_factory=dict)
    #: consent_decisions rows to insert with one statement at the batch's end
    decisions: list[dict[str, Any]] = field(default_factory=list)
    #: table -> rows nobody reads back in the batch (no id needed): inserted with one
    #: statement per table after the batch's flush, in the order they came
    later: dict[Any, list[dict[str, Any]]] = field(default_factory=dict)

    def insert_later(self, table: Any, row: dict[str, Any]) -> None:
        """Queue ``row`` for ``table``, to be inserted after the batch's one flush."""
        self.later.setdefault(table, []).append(row)


@dataclass(slots=True)
class NewItem:
    """An inbox item the batch delivers: a plain row, not an ORM object (issue 14).

    Building and flushing an ``InboxItem`` entity per message was the largest
    single cost of routing; nothing in the batch needs the ORM for a new item (it
    is read back only through :class:`RoutingReads`), so it is kept as this row and
    inserted with the batch's other rows in one statement (:meth:`row`). Its
    attributes are ``inbox_items``' columns, so code that reads an item (the audit
    record, the withholding, the outreach case) takes either.
    """

    id: str
    message_id: str
    wijk: str
    household_id: str | None
    subject: str | None
    triage: bool
    type: str
    category: str
    source_partner: str
    basis: str
    basis_ref: str | None
    fields: list[str] | None
    reason: str
    status: str
    taken_up: bool
    hidden: bool
    repeat_key: str | None
    measure: str | None
    repeats: int
    delivered_at: datetime
    updated_at: datetime
    confidential: bool = False
    addressed_to: str | None = None

    def row(self) -> dict[str, Any]:
        """The ``inbox_items`` row, column by column."""
        return {name: getattr(self, name) for name in _ITEM_COLUMNS}


_ITEM_COLUMNS = tuple(f.name for f in fields(NewItem))
