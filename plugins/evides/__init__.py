"""Evides, the water company: water-bill arrears, one by one or as a CSV batch.

Like rent arrears, water arrears may reach the wijkteam without consent,
minimised, on the statutory basis of early debt signalling (Wgs); with the
resident's consent in full. Which basis applies is the policy file's to say
(``consent/default_policy.toml``), not this plugin's. Batches go through the
core's batch machinery (``hub.core.batch``): this plugin only maps a row.

Evides hears back what became of a signal (``feedback.arrears.water``), pushed
to the endpoint it was registered with (``hub partner add --endpoint``) through
the core's outbound delivery (retries, dead letters): ``taken_up`` when the
regisseur takes it up, ``not_taken_up`` when the resident refused, ``closed``
when the regisseur closes it (``closed`` without an earlier ``taken_up`` means
it was not taken up). Nothing else: no reason, no closing note, nothing about
consent; a partner without an endpoint follows ``GET /api/v1/messages/{id}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from hub import hookimpl
from hub.core.dutch import count
from hub.core.envelope import subject_from_row
from hub.core.money import euro
from hub.core.types import (
    CsvFormat,
    ItemStatusEvent,
    MessageType,
    OutboundEnvelope,
    OutboundMessage,
    OutboundRequest,
    PartnerInfo,
)
from plugins.evides.schemas import ARREARS_CSV_HEADER, ArrearsFeedback, WaterArrears

KIND = "evides"
ARREARS = "signal.arrears.water"
FEEDBACK = "feedback.arrears.water"
# What a creditor may hear, per change (VNG): "held" and "delivered" say something
# about consent or nothing new, so they are not told.
_TOLD = {"taken_up": "taken_up", "refused": "not_taken_up", "closed": "closed"}


def arrears_summary(data: Mapping[str, Any]) -> str:
    """The inbox line in Dutch: "Achterstand waterrekening van € 1.250,00 (3 maanden)"."""
    months = data.get("months")
    return f"Achterstand waterrekening van {euro(data['amount_eur'])}" + (
        f" ({count(int(months), 'maand', 'maanden')})" if months else "")


def row_to_message(row: Mapping[str, str]) -> dict[str, Any]:
    """One line of Evides' arrears export as the JSON of ``POST /api/v1/messages``."""
    return {
        "type": ARREARS,
        "source_ref": row["source_ref"],
        "subject": subject_from_row(row),
        "data": {
            "amount_eur": row["amount_eur"],
            "months": row["months"],
            "since": row["since"],
            "customer_ref": row["customer_ref"],
            "address": {"postcode": row["postcode"], "huisnummer": row["huisnummer"]},
        },
    }


# Dutch words for the fields of this plugin's messages (the core names the rest:
# name, address, amount, since, months, contact).
LABELS = {
    "customer_ref": "klantnummer bij het waterbedrijf",
    "source_ref": "kenmerk van de melding",
    "status": "stand van zaken",
}

@hookimpl
def wijkhub_message_types() -> list[MessageType]:
    """Water-bill arrears, sent by Evides."""
    return [
        MessageType(
            name=ARREARS,
            partner_kinds=(KIND,),
            category="financieel",
            data_model=WaterArrears, labels=LABELS,
            topic="achterstand op de waterrekening",
            summary=arrears_summary,
            repeat_key=lambda data: data.get("customer_ref"),
            repeat_measure=lambda data: Decimal(data["amount_eur"]),
        ),
        MessageType(
            name=FEEDBACK,
            partner_kinds=(KIND,),
            category="financieel",
            data_model=ArrearsFeedback, labels=LABELS,
            topic="terugkoppeling over een achterstand op de waterrekening",
            inbound=False,
            outbound=True,
        ),
    ]


@hookimpl
def wijkhub_csv_formats() -> list[CsvFormat]:
    """Evides' arrears export: one line per customer in arrears."""
    return [CsvFormat(message_type=ARREARS, partner_kinds=(KIND,),
                      header=ARREARS_CSV_HEADER, to_message=row_to_message)]


@hookimpl
def wijkhub_item_status_changed(event: ItemStatusEvent) -> list[OutboundMessage]:
    """Tell Evides when one of its signals was taken up, refused or closed (see module doc)."""
    told = _TOLD.get(event.status)
    if event.message_type != ARREARS or event.source_partner.kind != KIND or told is None:
        return []
    if not event.source_partner.endpoint:
        return []  # registered without an endpoint: it asks GET /api/v1/messages/{id}
    return [OutboundMessage(partner_id=event.source_partner.id, message_type=FEEDBACK,
                            data={"source_ref": event.source_ref, "status": told},
                            ref=f"{event.message_id}:{told}")]


@hookimpl
def wijkhub_outbound_request(envelope: OutboundEnvelope,
                             partner: PartnerInfo) -> OutboundRequest | None:
    """``POST {endpoint}/arrears/{source_ref}/feedback`` with the status; None for others."""
    if envelope.type != FEEDBACK or partner.kind != KIND:
        return None
    ref = envelope.data["source_ref"]
    return OutboundRequest(
        path=f"/arrears/{quote(ref, safe='')}/feedback",
        json={"source_ref": ref, "status": envelope.data["status"],
              "hub_message_id": envelope.related_message_id,
              "sent_at": envelope.created_at.isoformat()})
