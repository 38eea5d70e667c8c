"""The hooks a Wijkhub plugin can implement.

Every hook is called with keyword arguments by :mod:`hub.core.plugins`, never
directly. A failing implementation of one plugin is reported and skipped; it
does not stop the others.
"""

from __future__ import annotations

import argparse
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
    ReceivedMessage,
)

if TYPE_CHECKING:
    from fastapi import APIRouter
    from sqlalchemy.orm import Session

    from hub.core.context import HubContext


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
def wijkhub_plan_partner_kinds() -> list[str]:
    """Called once at start-up. Return the partner kinds that take part in household plans.

    Every implementation's list is collected. The core declares ``plan.agreement``
    (an agreement of the plan, sent with the resident's consent) for all of these
    kinds together, and accepts their ``plan.progress`` reports; a plugin only
    names its kind (and may shape the request with ``wijkhub_outbound_request``).
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
def wijkhub_item_status_changed(event: ItemStatusEvent, session: Session,
                                ctx: HubContext) -> list[OutboundMessage]:
    """Called in the transaction that changes what became of an inbound message.

    Return the messages to send back (e.g. a status to the sender); each is sent
    through the outbox with retries. Every implementation is called; a plugin
    answers only for its own types. ``session`` is that transaction: a plugin may
    read, and change its own tables, in it (never commit); ``ctx`` is the hub.
    An implementation may take only the arguments it needs (``event`` alone).
    ``event.source_ref`` is opened (decrypted) when first read, within this call:
    read it only when the answer needs it, and not after returning.
    """


@hookspec
def wijkhub_message_received(session: Session, ctx: HubContext,
                             message: ReceivedMessage) -> None:
    """Called once per partner message the core has just stored (never for a resend of
    the same ``source_ref``), in the caller's transaction, before it commits.

    A plugin checks what only it can check (that a reference names one of its own
    records) and updates its own tables in ``session``. Raise
    :class:`hub.core.errors.HubProblem` to refuse the message: the transaction is
    then rolled back and nothing of it is stored. Answer only for your own types.

    Messages arriving together share one transaction (the group commit). When a
    plugin refuses one of them, that transaction is rolled back and the others are
    stored again in a new one: the hook is then called again for them, and only
    what the committed call wrote is kept. Keep the hook to ``session``: no effect
    outside the transaction.
    """


@hookspec
def wijkhub_cli_commands(subparsers: argparse._SubParsersAction) -> None:
    """Called once when the ``hub`` command line is built. Add this plugin's command
    groups to ``subparsers`` (``hub.cli.common.add_group`` / ``add_command``)."""


@hookspec(firstresult=True)
def wijkhub_audit_text(action: str, role: str, actor: str, partner_name: str | None,
                       when: str) -> str | None:
    """Called for each audit event shown to the resident (``GET /api/v1/me/audit``) whose
    action is not the core's. Return one plain-Dutch (B1) sentence for your own actions
    (``when`` is the Dutch date, "3 maart 2026"), or None. Stops at the first answer."""
