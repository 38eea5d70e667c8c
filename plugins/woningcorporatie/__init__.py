"""Housing corporations (e.g. Woonbron): rent arrears and nuisance signals.

Rent arrears may reach the wijkteam without consent, minimised, on the
statutory basis of early debt signalling; nuisance only with consent. Which
basis applies is the policy file's to say, not this plugin's.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from hub import hookimpl
from hub.core.envelope import subject_from_row
from hub.core.money import euro
from hub.core.plan_sharing import plan_agreement_type
from hub.core.types import CsvFormat, MessageType
from plugins.woningcorporatie.schemas import ARREARS_CSV_HEADER, Nuisance, RentArrears

KIND = "woningcorporatie"


def _arrears_summary(data: Mapping[str, Any]) -> str:
    months = data.get("months")
    return f"Huurachterstand van {euro(data['amount_eur'])}" + (
        f" ({months} maanden)" if months else "")


def _row_to_message(row: Mapping[str, str]) -> dict[str, Any]:
    return {
        "type": "signal.arrears.rent",
        "source_ref": row["source_ref"],
        "subject": subject_from_row(row),
        "data": {
            "amount_eur": row["amount_eur"],
            "months": row["months"],
            "since": row["since"],
            "tenancy_ref": row["tenancy_ref"],
            "address": {"postcode": row["postcode"], "huisnummer": row["huisnummer"]},
        },
    }


@hookimpl
def wijkhub_message_types() -> list[MessageType]:
    """Rent arrears and nuisance, sent by housing corporations; plan agreements to them."""
    return [
        MessageType(
            name="signal.arrears.rent",
            partner_kinds=(KIND,),
            category="financieel",
            data_model=RentArrears,
            topic="huurachterstand",
            summary=_arrears_summary,
            repeat_key=lambda data: data.get("tenancy_ref"),
            repeat_measure=lambda data: Decimal(data["amount_eur"]),
        ),
        MessageType(
            name="signal.nuisance",
            partner_kinds=(KIND,),
            category="wonen",
            data_model=Nuisance,
            topic="woonoverlast",
            summary=lambda data: "Melding van woonoverlast",
        ),
        # An agreement of a household plan the corporation does (a payment plan for the
        # arrears), sent only with the resident's consent (issue 17).
        plan_agreement_type((KIND,)),
    ]


@hookimpl
def wijkhub_csv_formats() -> list[CsvFormat]:
    """The monthly arrears export: one line per tenant in arrears."""
    return [CsvFormat(message_type="signal.arrears.rent", partner_kinds=(KIND,),
                      header=ARREARS_CSV_HEADER, to_message=_row_to_message)]
