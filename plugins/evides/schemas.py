"""The data of Evides' messages: water-bill arrears, shaped like rent arrears."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.core.address import Address
from hub.core.money import AmountEur, CreditorContact

ARREARS_CSV_HEADER = ("source_ref", "name", "birthdate", "postcode", "huisnummer", "bsn",
                      "amount_eur", "months", "since", "customer_ref")


class WaterArrears(BaseModel):
    """``signal.arrears.water``: a customer is behind on the water bill.

    ``customer_ref`` is Evides' customer or contract number: a repeat signal for
    the same one whose amount did not grow is a *herhaalde melding*.
    """

    model_config = ConfigDict(extra="forbid")
    amount_eur: AmountEur
    months: int = Field(ge=1, le=240)
    since: date
    customer_ref: str = Field(min_length=1, max_length=100)
    address: Address
    contact: CreditorContact | None = None


class ArrearsFeedback(BaseModel):
    """``feedback.arrears.water`` (hub → Evides): what became of one of its signals.

    A closed list, as VNG's model for early signalling allows a creditor to know:
    ``taken_up`` (the wijkteam started help), ``not_taken_up`` (no help through
    the wijkteam, never why) and ``closed``. Never a reason, a note or anything
    about consent.
    """

    model_config = ConfigDict(extra="forbid")
    source_ref: str = Field(min_length=1, max_length=200)
    status: Literal["taken_up", "not_taken_up", "closed"]
