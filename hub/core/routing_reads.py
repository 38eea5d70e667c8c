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

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RoutingReads:
    """The reads of one routing batch, by key; a key present with None means "looked, none"."""

    #: partner id -> Partner
    partners: dict[str, Any] = field(default_factory=dict)
    #: message id -> its opened payload
    payloads: dict[str, dict] = field(default_factory=dict)
    #: resident subject -> Resident, or None when the registry has no such resident
    residents: dict[str, Any] = field(default_factory=dict)
    #: address key -> the residents registered there
    at_address: dict[str, list] = field(default_factory=dict)
    #: resident subject -> opened identity
    identities: dict[str, dict] = field(default_factory=dict)
    #: household id -> Household
    households: dict[str, Any] = field(default_factory=dict)
    #: household ids locked FOR UPDATE in this transaction (an outreach case may change)
    locked_households: set[str] = field(default_factory=set)
    #: subject -> consent version, for the subjects locked in this transaction
    versions: dict[str, int] = field(default_factory=dict)
    #: subject -> active consents, read under that lock
    consents: dict[str, list] = field(default_factory=dict)
    #: repeat key -> the newest open inbox item with that key, or None
    open_items: dict[str, Any] = field(default_factory=dict)
    #: household id -> its open outreach case whose window runs, or None
    open_cases: dict[str, Any] = field(default_factory=dict)
    #: household id -> how many outreach cases it has had (including new ones)
    case_counts: dict[str, int] = field(default_factory=dict)
    #: message id -> its Withholding, or None
    withholdings: dict[str, Any] = field(default_factory=dict)
    #: consent_decisions rows to insert with one statement at the batch's end
    decisions: list[dict[str, Any]] = field(default_factory=list)
    #: table -> rows nobody reads back in the batch (no id needed): inserted with one
    #: statement per table after the batch's flush, in the order they came
    later: dict[Any, list[dict[str, Any]]] = field(default_factory=dict)

    def insert_later(self, table: Any, row: dict[str, Any]) -> None:
        """Queue ``row`` for ``table``, to be inserted after the batch's one flush."""
        self.later.setdefault(table, []).append(row)
