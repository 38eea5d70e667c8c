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
  partner, ``outbound.status`` reads what became of it), and
  :class:`PermanentDeliveryError` for a request that must not be retried;
- outreach (issue 16): :mod:`outreach` (``outreach.get_case`` reads one case as a
  viewer may see it, ``outreach.contact_of`` its lawful contact details) and
  :func:`is_mobile` (whether a valid :data:`Phone` can receive a text);
- CLI: :func:`add_command`, :func:`add_group`, :func:`hub_context`;
- the store, for plugins with tables of their own or that read residents:
  :class:`Base`, :data:`UTCDateTime`, :func:`register_sealed` and the models and
  services under "store" below. Use them inside the session the core gives you;
  never commit in a hook.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from hub import hookimpl

# Each name loads its module on first use (PEP 562), so that a plugin imports only what it
# uses: a ``hub`` command that serves no HTTP does not pay for FastAPI's or the API's
# imports because a plugin names ``MessageType`` (issue 18). The imports for type checkers
# and import-linter are the same as an eager surface's (below).
if TYPE_CHECKING:
    from consent.explain import format_date
    from consent.fhir import FhirRefused, Issue, operation_outcome, parse_json
    from consent.model import DEFAULT_RECIPIENT, ConsentGrant
    from consent.tables import UTCDateTime
    from hub.api.deps import (
        ContextDep,
        IdPath,
        InboxReaderDep,
        PartnerDep,
        RegisseurDep,
        SessionDep,
    )
    from hub.cli.common import add_command, add_group, hub_context
    from hub.core import outbound, outreach
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
        is_mobile,
        load_kind_file,
        load_kind_files,
    )
    from hub.core.audit import Event, as_actor, record_event, record_events
    from hub.core.bsn import validate_bsn
    from hub.core.context import HubContext
    from hub.core.dutch import count
    from hub.core.envelope import subject_from_row
    from hub.core.errors import FieldProblem, HubProblem, invalid
    from hub.core.households import household_of_subject
    from hub.core.identity import Principal
    from hub.core.ids import IdField
    from hub.core.ingest import accept_message, count_rejected
    from hub.core.models import (
        AuditEvent,
        Base,
        Message,
        Partner,
        Resident,
    )
    from hub.core.money import AmountEur, euro
    from hub.core.outbound import PermanentDeliveryError
    from hub.core.reads import get_item, outbound_message, sender_item
    from hub.core.reencrypt import register_sealed
    from hub.core.residents import resident_identity
    from hub.core.source_refs import open_ref
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

#: Name -> the module it comes from ("module:" for a module itself).
_SOURCES = {
    "Address": "hub.core.address",
    "AmountEur": "hub.core.money",
    "ArrearsData": "hub.core.arrears",
    "ArrearsFeedback": "hub.core.arrears",
    "ArrearsKind": "hub.core.arrears",
    "ArrearsSignal": "hub.core.arrears",
    "AuditEvent": "hub.core.models",
    "Base": "hub.core.models",
    "ConsentGrant": "consent.model",
    "ContextDep": "hub.api.deps",
    "CreditorContact": "hub.core.arrears",
    "CsvFormat": "hub.core.types",
    "DEFAULT_RECIPIENT": "consent.model",
    "Email": "hub.core.arrears",
    "Event": "hub.core.audit",
    "FhirRefused": "consent.fhir",
    "FieldProblem": "hub.core.errors",
    "HubContext": "hub.core.context",
    "HubProblem": "hub.core.errors",
    "IdField": "hub.core.ids",
    "IdPath": "hub.api.deps",
    "InboxReaderDep": "hub.api.deps",
    "Issue": "consent.fhir",
    "ItemStatusEvent": "hub.core.types",
    "KindFileError": "hub.core.arrears",
    "Message": "hub.core.models",
    "MessageType": "hub.core.types",
    "OutboundEnvelope": "hub.core.types",
    "OutboundMessage": "hub.core.types",
    "OutboundRequest": "hub.core.types",
    "Partner": "hub.core.models",
    "PartnerDep": "hub.api.deps",
    "PartnerInfo": "hub.core.types",
    "PermanentDeliveryError": "hub.core.outbound",
    "Phone": "hub.core.arrears",
    "Principal": "hub.core.identity",
    "ReceivedMessage": "hub.core.types",
    "RegisseurDep": "hub.api.deps",
    "Resident": "hub.core.models",
    "SessionDep": "hub.api.deps",
    "UTCDateTime": "consent.tables",
    "accept_message": "hub.core.ingest",
    "add_command": "hub.cli.common",
    "add_group": "hub.cli.common",
    "as_actor": "hub.core.audit",
    "count": "hub.core.dutch",
    "count_rejected": "hub.core.ingest",
    "euro": "hub.core.money",
    "format_date": "consent.explain",
    "get_item": "hub.core.reads",
    "household_of_subject": "hub.core.households",
    "hub_context": "hub.cli.common",
    "insert_if_absent": "hub.core.store",
    "invalid": "hub.core.errors",
    "is_mobile": "hub.core.arrears",
    "load_kind_file": "hub.core.arrears",
    "load_kind_files": "hub.core.arrears",
    "open_ref": "hub.core.source_refs",
    "operation_outcome": "consent.fhir",
    "outbound": "hub.core.outbound:",
    "outbound_message": "hub.core.reads",
    "outreach": "hub.core.outreach:",
    "parse_json": "consent.fhir",
    "record_event": "hub.core.audit",
    "record_events": "hub.core.audit",
    "register_sealed": "hub.core.reencrypt",
    "resident_identity": "hub.core.residents",
    "sender_item": "hub.core.reads",
    "subject_from_row": "hub.core.envelope",
    "validate_bsn": "hub.core.bsn",
    "withhold": "hub.core.withholding",
}


def __getattr__(name: str) -> object:
    """The surface's ``name``, imported from its module on first use."""
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module_name, colon, _ = source.partition(":")
    module = importlib.import_module(module_name)
    value = module if colon else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
    "IdField",
    "IdPath",
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
    "PermanentDeliveryError",
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
    "count",
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
    "is_mobile",
    "load_kind_file",
    "load_kind_files",
    "open_ref",
    "operation_outcome",
    # outbound
    "outbound",
    "outbound_message",
    "outreach",
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
