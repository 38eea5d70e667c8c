"""Amounts of money in messages: how partners send them and how texts show them.

Every creditor plugin (rent, water, energy, health insurance) takes an amount the
same way, so the rule lives in the core rather than in one plugin the others would
have to copy (a plugin never imports another plugin). The rest of an arrears
signal's shape, contact details included, is in :mod:`hub.core.arrears`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import AfterValidator, Field


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


#: A positive amount in euros below ten million, as a decimal string with two decimals.
AmountEur = Annotated[str, Field(min_length=1, max_length=20), AfterValidator(_decimal_string)]


def euro(amount: str | Decimal) -> str:
    """An amount as a Dutch reader writes it: ``€ 1.250,00``."""
    whole, _, cents = f"{Decimal(amount):.2f}".partition(".")
    return f"€ {int(whole):,}".replace(",", ".") + f",{cents}"
