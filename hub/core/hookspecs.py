"""The hooks a Wijkhub plugin can implement.

Every hook is called with keyword arguments by :mod:`hub.core.plugins`, never
directly. A failing implementation of one plugin is reported and skipped; it
does not stop the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub import hookspec
from hub.core.types import (
    CsvFormat,
    ItemStatusEvent,
    MessageType,
    OutboundEnvelope,
    OutboundMessage,
    OutboundRequest,
    PartnerInfo,
)

if TYPE_CHECKING:
    from fastapi import APIRouter


@hookspec
def wijkhub_message_types() -> list[MessageType]:
    """Called once at start-up. Return the message types this plugin serves.

    Every implementation's list is collected. A type name may be declared by one
    plugin only; the hub refuses to start on a clash.
    """


@hookspec
def wijkhub_csv_formats() -> list[CsvFormat]:
    """Called once at start-up. Return the CSV batch formats this plugin accepts.

    Every implementation's list is collected. The core parses, validates and
    stores the lines; a format only maps one row onto a message.
    """


@hookspec
def wijkhub_routers() -> list[APIRouter]:
    """Called once when the app is built. Return the FastAPI routers this plugin serves.

    Every implementation's routers are included as they are (their own prefixes).
    They use the core's dependencies (``hub.api.deps``) for identities and sessions.
    """


@hookspec(firstresult=True)
def wijkhub_outbound_request(envelope: OutboundEnvelope,
                             partner: PartnerInfo) -> OutboundRequest | None:
    """Called by the delivery worker for each attempt to send ``envelope`` to ``partner``.

    Return the HTTP request to make, or None when this plugin does not serve that
    type or partner kind. Stops at the first non-None result; with none, the core
    POSTs the envelope as JSON to the partner's endpoint.
    """


@hookspec
def wijkhub_item_status_changed(event: ItemStatusEvent) -> list[OutboundMessage]:
    """Called in the transaction that changes what became of an inbound message.

    Return the messages to send back (e.g. a status to the sender); each is sent
    through the outbox with retries. Every implementation is called; a plugin
    answers only for its own types.
    """
