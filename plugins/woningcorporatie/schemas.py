"""The data of a housing corporation's messages."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from hub.core.address import Address
from hub.core.money import AmountEur, CreditorContact

ARREARS_CSV_HEADER = ("source_ref", "name", "birthdate", "postcode", "huisnummer", "bsn",
                      "amount_eur", "months", "since", "tenancy_ref")


class RentArrears(BaseModel):
    """``signal.arrears.rent``: a tenant is behind on rent."""

    model_config = ConfigDict(extra="forbid")
    amount_eur: AmountEur
    months: int = Field(ge=1, le=240)
    since: date
    tenancy_ref: str = Field(min_length=1, max_length=100)
    address: Address
    contact: CreditorContact | None = None


class Nuisance(BaseModel):
    """``signal.nuisance``: woonoverlast or vervuiling reported at an address."""

    model_config = ConfigDict(extra="forbid")
    description: str = Field(min_length=1, max_length=4000)
    address: Address
    kind: str | None = Field(default=None, pattern="^(overlast|vervuiling)$")
