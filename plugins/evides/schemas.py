"""The data of Evides' messages: water-bill arrears, shaped like rent arrears."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from hub.core.address import Address

ARREARS_CSV_HEADER = ("source_ref", "name", "birthdate", "postcode", "huisnummer", "bsn",
                      "amount_eur", "months", "since", "customer_ref")


def _decimal_string(value: str) -> str:
    # A string, not a float: money must not pass through binary floating point. The same
    # rule as the housing corporations' (a plugin never imports another plugin).
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
    """How Evides can be reached about this customer."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=200)


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
    contact: Contact | None = None


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
