"""The data of a housing corporation's messages."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from hub.core.address import Address

ARREARS_CSV_HEADER = ("source_ref", "name", "birthdate", "postcode", "huisnummer", "bsn",
                      "amount_eur", "months", "since", "tenancy_ref")


def _decimal_string(value: str) -> str:
    # A string, not a float: money must not pass through binary floating point.
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError("must be an amount in euros like 1234.50") from None
    if not amount.is_finite() or amount <= 0 or amount >= Decimal("10000000"):
        raise ValueError("must be a positive amount below 10,000,000 euros")
    if amount.as_tuple().exponent < -2:
        raise ValueError("must have at most two decimals")
    return f"{amount:.2f}"


AmountEur = Annotated[str, Field(min_length=1, max_length=20), AfterValidator(_decimal_string)]


class Contact(BaseModel):
    """How the corporation can be reached about this tenant."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=200)


class RentArrears(BaseModel):
    """``signal.arrears.rent``: a tenant is behind on rent."""

    model_config = ConfigDict(extra="forbid")
    amount_eur: AmountEur
    months: int = Field(ge=1, le=240)
    since: date
    tenancy_ref: str = Field(min_length=1, max_length=100)
    address: Address
    contact: Contact | None = None


class Nuisance(BaseModel):
    """``signal.nuisance``: woonoverlast or vervuiling reported at an address."""

    model_config = ConfigDict(extra="forbid")
    description: str = Field(min_length=1, max_length=4000)
    address: Address
    kind: str | None = Field(default=None, pattern="^(overlast|vervuiling)$")
