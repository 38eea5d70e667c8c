"""Evides, the water company: water-bill arrears, one by one or as a CSV batch.

Like rent arrears, water arrears may reach the wijkteam without consent,
minimised, on the statutory basis of early debt signalling (Wgs); with the
resident's consent in full. Which basis applies is the policy file's to say
(``consent/default_policy.toml``), not this plugin's. Batches go through the
core's batch machinery (``hub.core.batch``): this plugin only maps a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from hub import hookimpl
from hub.core.types import CsvFormat, MessageType
from plugins.evides.schemas import ARREARS_CSV_HEADER, WaterArrears

KIND = "evides"
ARREARS = "signal.arrears.water"


def _euro(amount: str) -> str:
    whole, _, cents = f"{Decimal(amount):.2f}".partition(".")
    return f"€ {int(whole):,}".replace(",", ".") + f",{cents}"


def arrears_summary(data: Mapping[str, Any]) -> str:
    """The inbox line in Dutch: "Achterstand waterrekening van € 1.250,00 (3 maanden)"."""
    months = data.get("months")
    return f"Achterstand waterrekening van {_euro(data['amount_eur'])}" + (
        f" ({months} maanden)" if months else "")


def row_to_message(row: Mapping[str, str]) -> dict[str, Any]:
    """One line of Evides' arrears export as the JSON of ``POST /api/v1/messages``."""
    subject: dict[str, Any] = {"name": row["name"] or None, "postcode": row["postcode"] or None,
                               "huisnummer": row["huisnummer"] or None}
    if row.get("bsn"):
        subject["bsn"] = row["bsn"]
    if row.get("birthdate"):
        subject["birthdate"] = row["birthdate"]
    return {
        "type": ARREARS,
        "source_ref": row["source_ref"],
        "subject": {k: v for k, v in subject.items() if v is not None},
        "data": {
            "amount_eur": row["amount_eur"],
            "months": row["months"],
            "since": row["since"],
            "customer_ref": row["customer_ref"],
            "address": {"postcode": row["postcode"], "huisnummer": row["huisnummer"]},
        },
    }


@hookimpl
def wijkhub_message_types() -> list[MessageType]:
    """Water-bill arrears, sent by Evides."""
    return [
        MessageType(
            name=ARREARS,
            partner_kinds=(KIND,),
            category="financieel",
            data_model=WaterArrears,
            topic="achterstand op de waterrekening",
            summary=arrears_summary,
            repeat_key=lambda data: data.get("customer_ref"),
            repeat_measure=lambda data: Decimal(data["amount_eur"]),
        ),
    ]


@hookimpl
def wijkhub_csv_formats() -> list[CsvFormat]:
    """Evides' arrears export: one line per customer in arrears."""
    return [CsvFormat(message_type=ARREARS, partner_kinds=(KIND,),
                      header=ARREARS_CSV_HEADER, to_message=row_to_message)]
