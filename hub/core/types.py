"""What a plugin declares: the message types and CSV formats it serves."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel


def _no_key(_data: Mapping[str, Any]) -> str | None:
    return None


def _no_measure(_data: Mapping[str, Any]) -> Decimal | None:
    return None


@dataclass(frozen=True)
class MessageType:
    """A message type a partner kind may send, and how the core treats it.

    ``data_model`` validates ``data``; ``topic`` is the Dutch noun phrase used in
    texts for the resident ("een melding over huurachterstand"). ``repeat_key``
    and ``repeat_measure`` let the core recognise a *herhaalde melding*: the same
    partner, the same key (e.g. the tenancy) and a measure (e.g. the amount) that
    did not grow.
    """

    name: str
    partner_kinds: tuple[str, ...]
    category: str
    data_model: type[BaseModel]
    topic: str
    summary: Callable[[Mapping[str, Any]], str] = field(default=lambda data: "")
    repeat_key: Callable[[Mapping[str, Any]], str | None] = _no_key
    repeat_measure: Callable[[Mapping[str, Any]], Decimal | None] = _no_measure
    # A summary the resident may read as their own (GET /api/v1/me/data), e.g. a decision
    # on their own application. None: the resident sees field names only, never values.
    resident_summary: Callable[[Mapping[str, Any]], str] | None = None


@dataclass(frozen=True)
class CsvFormat:
    """A CSV batch a partner kind may upload; each row becomes one message.

    ``to_message`` turns a row (a dict keyed by the header) into the same JSON
    shape ``POST /api/v1/messages`` takes, so a batch line and a single message
    go through one validation.
    """

    message_type: str
    partner_kinds: tuple[str, ...]
    header: tuple[str, ...]
    to_message: Callable[[Mapping[str, str]], dict[str, Any]]


@dataclass(frozen=True)
class ReceivedMessage:
    """A partner's message just stored by the core (``wijkhub_message_received``).

    ``subject`` is the pseudonym of the BSN the partner gave (None without one);
    ``data`` is the validated data, in the clear: keep it out of logs.
    """

    id: str
    type: str
    source_ref: str
    partner_id: str
    partner_kind: str
    subject: str | None
    data: Mapping[str, Any]
    received_at: datetime
