"""Builders for outreach tests: two temporary creditor plugins and a policy that lists them.

The energy supplier and health insurer plugins are being written in another branch;
until they land, these stand in for them (types ``test.arrears.*``, so they never
clash with the real ones). They declare what an arrears plugin declares: category
``financieel``, an amount, and the resident's lawful contact details (top-level
``phone`` and ``email``, the shared arrears shape of the partners' branch).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from hub import hookimpl
from hub.core.address import Address
from hub.core.contact import Email, Phone
from hub.core.money import AmountEur, euro
from hub.core.types import MessageType
from tests.utils.builders import Person

ENERGY, HEALTH, END_OF_SUPPLY = "test.arrears.energy", "test.arrears.health", \
    "test.energy.end_of_supply"
REPO = Path(__file__).resolve().parents[2]


class CreditorArrears(BaseModel):
    """The shape every arrears signal shares (amount, since, address, contact)."""

    model_config = ConfigDict(extra="forbid")
    amount_eur: AmountEur
    since: date
    address: Address
    phone: Phone | None = None
    email: Email | None = None


class StandInCreditors:
    """An energy supplier and a health insurer, as their plugins will declare them."""

    @hookimpl
    def wijkhub_message_types(self) -> list[MessageType]:
        return [
            MessageType(name=ENERGY, partner_kinds=("energieleverancier",),
                        category="financieel", data_model=CreditorArrears,
                        topic="een achterstand bij de energieleverancier",
                        summary=lambda d: f"Energieachterstand van {euro(d['amount_eur'])}"),
            MessageType(name=END_OF_SUPPLY, partner_kinds=("energieleverancier",),
                        category="financieel", data_model=CreditorArrears,
                        topic="een aankondiging van afsluiting",
                        summary=lambda d: "Afsluiting van energie aangekondigd",
                        outreach_priority=10),
            MessageType(name=HEALTH, partner_kinds=("zorgverzekeraar",),
                        category="financieel", data_model=CreditorArrears,
                        topic="een achterstand bij de zorgverzekeraar",
                        summary=lambda d: f"Premieachterstand van {euro(d['amount_eur'])}"),
        ]


def policy_with_test_creditors(tmp_path: Path) -> Path:
    """The default policy plus the test creditors' types under the Wgs (with contact)."""
    text = (REPO / "consent" / "default_policy.toml").read_text(encoding="utf-8")
    for name in (ENERGY, END_OF_SUPPLY, HEALTH):
        text += (f'\n[types."{name}"]\ncategory = "financieel"\nstatute = "wgs"\n'
                 'minimal_fields = ["name", "address", "creditor", "amount_eur", "since", '
                 '"phone", "email"]\n')
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def creditor_signal(who: Person, *, type_: str, ref: str, amount: str = "150.00",
                    **data: Any) -> dict[str, Any]:
    """An arrears signal of one of the test creditors about ``who``."""
    return {"type": type_, "source_ref": ref,
            "subject": {"name": who.name, "postcode": who.postcode,
                        "huisnummer": who.huisnummer},
            "occurred_at": "2026-11-20T08:00:00+00:00",
            "data": {"amount_eur": amount, "since": "2026-09-01",
                     "address": {"postcode": who.postcode, "huisnummer": who.huisnummer},
                     **data}}
