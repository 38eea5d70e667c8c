"""What a plugin declares (message types, CSV formats) and what the core hands it back."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, get_args

if TYPE_CHECKING:
    import httpx

from pydantic import BaseModel


def _no_key(_data: Mapping[str, Any]) -> str | None:
    return None


_UW = re.compile(r"\b[Uu]w\b")


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

    ``inbound`` types are sent by a partner to the hub (``partner_kinds`` may send
    them); ``outbound`` types are sent by the hub to a partner (``partner_kinds``
    may receive them). A type may be both (a safety report goes either way).
    """

    name: str
    partner_kinds: tuple[str, ...]
    category: str
    data_model: type[BaseModel]
    topic: str
    summary: Callable[[Mapping[str, Any]], str] = field(default=lambda data: "")
    repeat_key: Callable[[Mapping[str, Any]], str | None] = _no_key
    repeat_measure: Callable[[Mapping[str, Any]], Decimal | None] = _no_measure
    inbound: bool = True
    outbound: bool = False
    # A summary the resident may read as their own (GET /api/v1/me/data), e.g. a decision
    # on their own application. None: the resident sees field names only, never values.
    resident_summary: Callable[[Mapping[str, Any]], str] | None = None
    # How urgent an outreach case with this signal is (issue 16): the worklist puts the
    # highest first. 0 for an ordinary arrears signal; an energy end-of-supply notice
    # sets more. A type with a priority joins outreach cases whatever its category.
    outreach_priority: int = 0
    # The Dutch word for every field of ``data_model`` (nested ones too) that the core
    # does not name itself (consent.explain.core_field_words): residents and regisseurs
    # read "nummer van de aanvraag", never "request_id" (issue 13, item 15).
    labels: Mapping[str, str] = field(default_factory=dict)
    # The noun phrase the regisseur reads (filters, item pages, the household's plan):
    # ``topic`` is written to the resident ("het besluit op uw Wmo-aanvraag"), and a
    # regisseur reading "uw" thinks it is about them (issue 15, item 13). None: the
    # core derives it from ``topic`` (see ``staff_wording``).
    staff_topic: str | None = None

    @property
    def staff_wording(self) -> str:
        """The topic as the regisseur reads it: ``staff_topic``, or ``topic`` with the
        resident's "uw" made neutral ("het besluit op de aanvraag"), never addressed to
        the reader as if it were theirs."""
        if self.staff_topic:
            return self.staff_topic
        return _UW.sub(lambda m: "De" if m.group(0)[0] == "U" else "de", self.topic)


def exposed_fields(model: type[BaseModel]) -> set[str]:
    """Every field name a message's data can show: the model's fields and those of the
    models nested in them (an address's postcode, a volume's unit)."""
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(name)
        for nested in _models_in(info.annotation):
            names |= exposed_fields(nested)
    return names


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


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
class PartnerInfo:
    """A partner as a plugin may know it: no credentials."""

    id: str
    name: str
    kind: str
    endpoint: str | None


@dataclass(frozen=True)
class OutboundEnvelope:
    """One message the hub sends to a partner, its data opened for the plugin that shapes it.

    ``id`` is stable across retries: it is the ``Idempotency-Key`` the partner sees.
    """

    id: str
    type: str
    ref: str
    partner_id: str
    partner_kind: str
    subject: str | None
    household_id: str | None
    data: Mapping[str, Any]
    related_message_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class OutboundRequest:
    """The HTTP request a plugin wants made for one outbound message.

    ``path`` is appended to the partner's endpoint. ``receipt`` reads the partner's
    own reference from its answer (None: the core looks for ``id`` in a JSON body
    or a ``Location`` header).
    """

    method: str = "POST"
    path: str = ""
    json: Any = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    receipt: Callable[[httpx.Response], str | None] | None = None


@dataclass(frozen=True)
class OutboundMessage:
    """A message a plugin asks the core to send to a partner (e.g. a status back)."""

    partner_id: str
    message_type: str
    data: Mapping[str, Any]
    ref: str


@dataclass(frozen=True, init=False)
class ItemStatusEvent:
    """A change in what became of an inbound message, told to the plugin that serves its type.

    ``status`` is ``held`` (waiting for the resident's consent), ``delivered``
    (in the regisseur's inbox), ``refused`` (the resident said no), ``taken_up``
    or ``closed``; ``note`` is the regisseur's closing summary, if any. ``data`` is
    the message's own data as the partner sent it.

    ``source_ref`` is the partner's own reference, in clear. The core keeps it
    sealed and opens it the first time a plugin reads the attribute, not before
    (issue 14): most plugins answer most statuses without it, and an AES-GCM open
    per routed message was a third of routing's decryptions. The core passes
    ``open_source_ref`` (called at most once); others may pass ``source_ref``.
    It is left out of ``repr`` and equality.
    """

    status: str
    message_id: str
    message_type: str
    source_partner: PartnerInfo
    data: Mapping[str, Any]
    subject: str | None
    household_id: str | None
    note: str | None = None

    def __init__(self, *, status: str, message_id: str, message_type: str,
                 source_partner: PartnerInfo, data: Mapping[str, Any], subject: str | None,
                 household_id: str | None, note: str | None = None,
                 source_ref: str | None = None,
                 open_source_ref: Callable[[], str] | None = None) -> None:
        """Exactly one of ``source_ref`` (in clear) and ``open_source_ref`` is given."""
        if (source_ref is None) == (open_source_ref is None):
            raise TypeError("give source_ref or open_source_ref, not both or neither")
        for name, value in (("status", status), ("message_id", message_id),
                            ("message_type", message_type),
                            ("source_partner", source_partner), ("data", data),
                            ("subject", subject), ("household_id", household_id),
                            ("note", note)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_source_ref", source_ref)
        object.__setattr__(self, "_open_source_ref", open_source_ref)

    @property
    def source_ref(self) -> str:
        """The partner's own reference of the message, in clear (opened on first read)."""
        if self._source_ref is None:
            object.__setattr__(self, "_source_ref", self._open_source_ref())
            object.__setattr__(self, "_open_source_ref", None)
        return self._source_ref


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
