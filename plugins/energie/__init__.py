"""Energy suppliers: energy-bill arrears and the end-of-supply notice, single or as a batch.

Since 2021 an energy supplier must signal payment arrears to the municipality
(Wet gemeentelijke schuldhulpverlening), and it must tell it before it stops
supplying a household (Regeling afsluitbeleid voor kleinverbruikers): the
*end-of-supply notice* is the most urgent signal a regisseur gets, so its inbox
line ends with the date the supply stops. Both may reach the wijkteam without
consent, minimised to the fields the Besluit gemeentelijke schuldhulpverlening
allows; with the resident's consent in full. Which basis applies is the policy
file's to say (``consent/default_policy.toml``), not this plugin's.

One CSV batch format serves both: a line whose ``end_of_supply_date`` is filled
is an end-of-supply notice, any other line an arrears signal. The supplier hears
back ``taken_up``, ``not_taken_up`` or ``closed`` (``feedback.arrears.energy``)
at ``POST {endpoint}/arrears/{source_ref}/feedback``, like Evides. Everything but
this description is the core's (``hub.plugin.ArrearsKind``).
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

ARREARS = "signal.arrears.energy"
END_OF_SUPPLY = "signal.end_of_supply.energy"
FEEDBACK = "feedback.arrears.energy"
ENERGY = ArrearsKind(
    kind="energie",
    reference="customer_ref",
    signals=(
        ArrearsSignal(type=ARREARS, title="Achterstand energierekening",
                      topic="achterstand op de energierekening"),
        ArrearsSignal(type=END_OF_SUPPLY, title="Dringend: energie wordt afgesloten, achterstand",
                      topic="afsluiting van gas of stroom",
                      deadline="end_of_supply_date", deadline_text="levering stopt op"),
    ),
    feedback=FEEDBACK,
    labels={"customer_ref": "klantnummer",
            "end_of_supply_date": "datum waarop de levering stopt"},
)
#: Dutch labels for every field this plugin's messages expose.
LABELS = ENERGY.all_labels


@hookimpl
def wijkhub_message_types() -> list[MessageType]:
    """Energy arrears and the end-of-supply notice, and their status back."""
    return ENERGY.message_types()


@hookimpl
def wijkhub_csv_formats() -> list[CsvFormat]:
    """The supplier's export: one line per customer in arrears or about to be cut off."""
    return ENERGY.csv_formats()


@hookimpl
def wijkhub_item_status_changed(event: ItemStatusEvent) -> list[OutboundMessage]:
    """Tell the supplier when one of its signals was taken up, refused or closed."""
    return ENERGY.status_changed(event)


@hookimpl
def wijkhub_outbound_request(envelope: OutboundEnvelope,
                             partner: PartnerInfo) -> OutboundRequest | None:
    """``POST {endpoint}/arrears/{source_ref}/feedback`` with the status; None for others."""
    return ENERGY.outbound_request(envelope, partner)
