"""Evides, the water company: water-bill arrears, one by one or as a CSV batch.

Like rent arrears, water arrears may reach the wijkteam without consent,
minimised, on the statutory basis of early debt signalling (Wgs); with the
resident's consent in full. Which basis applies is the policy file's to say
(``consent/default_policy.toml``), not this plugin's. The shape, the CSV line
and the status back are the core's (``hub.plugin.ArrearsKind``).

Evides hears back what became of a signal (``feedback.arrears.water``), pushed
to the endpoint it was registered with (``hub partner add --endpoint``) through
the core's outbound delivery (retries, dead letters): ``taken_up`` when the
regisseur takes it up, ``not_taken_up`` when the resident refused, ``closed``
when the regisseur closes it (``closed`` without an earlier ``taken_up`` means
it was not taken up). Nothing else: no reason, no closing note, nothing about
consent; a partner without an endpoint follows ``GET /api/v1/messages/{id}``.
"""

from __future__ import annotations

from hub.plugin import (
    ArrearsKind,
    ArrearsSignal,
    CsvFormat,
    ItemStatusEvent,
    MessageType,
    OutboundEnvelope,
    OutboundMessage,
    OutboundRequest,
    PartnerInfo,
    hookimpl,
)

ARREARS = "signal.arrears.water"
FEEDBACK = "feedback.arrears.water"
WATER = ArrearsKind(
    kind="evides",
    reference="customer_ref",
    signals=(ArrearsSignal(type=ARREARS, title="Achterstand waterrekening",
                           topic="achterstand op de waterrekening"),),
    feedback=FEEDBACK,
    labels={"customer_ref": "klantnummer"},
    # The export was published without contact columns; a single JSON message may carry them.
    contact_columns=False,
)
KIND = WATER.kind
#: Dutch labels for every field this plugin's messages expose.
LABELS = WATER.all_labels


@hookimpl
def wijkhub_message_types() -> list[MessageType]:
    """Water-bill arrears, sent by Evides, and its status back."""
    return WATER.message_types()


@hookimpl
def wijkhub_csv_formats() -> list[CsvFormat]:
    """Evides' arrears export: one line per customer in arrears."""
    return WATER.csv_formats()


@hookimpl
def wijkhub_item_status_changed(event: ItemStatusEvent) -> list[OutboundMessage]:
    """Tell Evides when one of its signals was taken up, refused or closed (see module doc)."""
    return WATER.status_changed(event)


@hookimpl
def wijkhub_outbound_request(envelope: OutboundEnvelope,
                             partner: PartnerInfo) -> OutboundRequest | None:
    """``POST {endpoint}/arrears/{source_ref}/feedback`` with the status; None for others."""
    return WATER.outbound_request(envelope, partner)
