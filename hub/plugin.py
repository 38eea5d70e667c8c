"""The public surface for partner plugins: everything a plugin may use, in one module.

A plugin imports from here and from nowhere else in the hub; an import-linter
contract in CI holds every built-in plugin to it (``[tool.importlinter]`` in
``pyproject.toml``, ``tests/test_plugin_surface.py``). What is not here is the
app's private business and may change without notice.

Quick start
===========

A plugin is a Python module with functions marked ``@hookimpl``, found through
the ``wijkhub.plugins`` entry-point group. In your ``pyproject.toml``::

    [project.entry-points."wijkhub.plugins"]
    mypartner = "mypartner.plugin"

and in ``mypartner/plugin.py``, an arrears partner in three lines::

    from hub.plugin import ArrearsKind, ArrearsSignal, hookimpl

    KIND = ArrearsKind(kind="mypartner", reference="customer_ref", feedback=None,
                       signals=(ArrearsSignal(type="signal.arrears.phone",
                                              title="Achterstand telefoonrekening",
                                              topic="achterstand op de telefoonrekening"),))

    @hookimpl
    def wijkhub_message_types():
        return KIND.message_types()

Any other partner declares :class:`MessageType` with its own pydantic
``data_model``. The hooks, with what each promises, are in
:mod:`hub.core.hookspecs`; ``hub plugins`` lists what is loaded. An arrears
partner needs no Python at all when it is described in a TOML file
(``docs/plugins.md``).

What is here
============

- markers: :data:`hookimpl`;
- declarations and what the core hands back: :class:`MessageType`,
  :class:`CsvFormat`, :class:`PartnerInfo`, :class:`ItemStatusEvent`,
  :class:`OutboundEnvelope`, :class:`OutboundMessage`, :class:`OutboundRequest`,
  :class:`ReceivedMessage`, :class:`HubContext`;
- arrears partners (Wgs): :class:`ArrearsKind`, :class:`ArrearsSignal`,
  :class:`ArrearsData`, :class:`ArrearsFeedback`, :class:`CreditorContact`,
  :data:`Phone`, :data:`Email`, and :func:`load_kind_files` for kinds described
  in TOML files;
- field types and helpers: :data:`AmountEur`, :func:`euro`, :class:`Address`,
  :func:`validate_bsn`, :func:`format_date`, :func:`subject_from_row`;
- errors: :class:`HubProblem`, :class:`FieldProblem`, :func:`invalid`,
  and FHIR's :class:`FhirRefused`, :class:`Issue`;
- routes: the dependencies :data:`ContextDep`, :data:`SessionDep`,
  :data:`PartnerDep`, :data:`RegisseurDep`, :data:`InboxReaderDep`;
- outbound: :mod:`outbound` (``outbound.send`` stores and queues a message to a
  partner, ``outbound.status`` reads what became of it);
- CLI: :func:`add_command`, :func:`add_group`, :func:`hub_context`;
- the store, for plugins with tables of their own or that read residents:
  :class:`Base`, :data:`UTCDateTime`, :func:`register_sealed` and the models and
  services under "store" below. Use them inside the session the core gives you;
  never commit in a hook.
"""

from __future__ import annotations

from consent.explain import format_date
from consent.fhir import FhirRefused, Issue, operation_outcome, parse_json
from consent.model import DEFAULT_RECIPIENT, ConsentGrant
from consent.tables import UTCDateTime
from hub import hookimpl
from hub.api.deps import ContextDep, InboxReaderDep, PartnerDep, RegisseurDep, SessionDep
from hub.cli.common import add_command, add_group, hub_context
from hub.core import outbound
from hub.core.address import Address
from hub.core.arrears import (
    ArrearsData,
    ArrearsFeedback,
    ArrearsKind,
    ArrearsSignal,
    CreditorContact,
    Email,
    KindFileError,
    Phone,
    load_kind_file,
    load_kind_files,
)
from hub.core.audit import Event, as_actor, record_event, record_events
from hub.core.bsn import validate_bsn
from hub.core.context import HubContext
from hub.core.envelope import subject_from_row
from hub.core.errors import FieldProblem, HubProblem, invalid
from hub.core.households import household_of_subject
from hub.core.identity import Principal
from hub.core.ingest import accept_message, count_rejected
from hub.core.models import (
    AuditEvent,
    Base,
    Message,
    Partner,
    Resident,
)
from hub.core.money import AmountEur, euro
from hub.core.reads import get_item, outbound_message, sender_item
from hub.core.reencrypt import register_sealed
from hub.core.residents import resident_identity
from hub.core.store import insert_if_absent
from hub.core.types import (
    CsvFormat,
    ItemStatusEvent,
    MessageType,
    OutboundEnvelope,
    OutboundMessage,
    OutboundRequest,
    PartnerInfo,
    ReceivedMessage,
)
from hub.core.withholding import withhold

__all__ = [
    # consent, audit
    "DEFAULT_RECIPIENT",
    # field types and helpers
    "Address",
    "AmountEur",
    # arrears partners
    "ArrearsData",
    "ArrearsFeedback",
    "ArrearsKind",
    "ArrearsSignal",
    # store
    "AuditEvent",
    "Base",
    "ConsentGrant",
    # routes
    "ContextDep",
    "CreditorContact",
    # declarations and what the core hands back
    "CsvFormat",
    "Email",
    "Event",
    # errors, FHIR
    "FhirRefused",
    "FieldProblem",
    "HubContext",
    "HubProblem",
    "InboxReaderDep",
    "Issue",
    "ItemStatusEvent",
    "KindFileError",
    "Message",
    "MessageType",
    "OutboundEnvelope",
    "OutboundMessage",
    "OutboundRequest",
    "Partner",
    "PartnerDep",
    "PartnerInfo",
    "Phone",
    "Principal",
    "ReceivedMessage",
    "RegisseurDep",
    "Resident",
    "SessionDep",
    "UTCDateTime",
    "accept_message",
    # CLI
    "add_command",
    "add_group",
    "as_actor",
    "count_rejected",
    "euro",
    "format_date",
    "get_item",
    # markers
    "hookimpl",
    "household_of_subject",
    "hub_context",
    "insert_if_absent",
    "invalid",
    "load_kind_file",
    "load_kind_files",
    "operation_outcome",
    # outbound
    "outbound",
    "outbound_message",
    "parse_json",
    "record_event",
    "record_events",
    "register_sealed",
    "resident_identity",
    "sender_item",
    "subject_from_row",
    "validate_bsn",
    "withhold",
]
