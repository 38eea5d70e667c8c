"""Builders for outreach tests: early signals of the real energy and health-insurer kinds.

The energy supplier (``plugins/energie``, kind ``energie``) and the health insurer
(``plugins/fixedcosts/kinds/zorgverzekeraar.toml``, kind ``zorgverzekeraar``) are
built-in partners on the shared arrears core (``hub/core/arrears.py``); the shipped
policy lists their types under the Wgs with the resident's contact details.
"""

from __future__ import annotations

from typing import Any

from tests.utils.builders import Person

ENERGY = "signal.arrears.energy"
END_OF_SUPPLY = "signal.end_of_supply.energy"
HEALTH = "signal.arrears.health_insurance"
#: The partner's own contract number field of each type.
_REFERENCE = {ENERGY: "customer_ref", END_OF_SUPPLY: "customer_ref", HEALTH: "policy_ref"}


def creditor_signal(who: Person, *, type_: str, ref: str, amount: str = "150.00",
                    **data: Any) -> dict[str, Any]:
    """An arrears signal (or end-of-supply notice) of the energy supplier or the health
    insurer about ``who``; ``data`` adds or overrides fields (``phone``, ``email``)."""
    body: dict[str, Any] = {
        "amount_eur": amount, "months": 3, "since": "2026-09-01",
        _REFERENCE[type_]: f"C-{ref}",
        "address": {"postcode": who.postcode, "huisnummer": who.huisnummer}}
    if type_ == END_OF_SUPPLY:
        body["end_of_supply_date"] = "2026-12-15"
    return {"type": type_, "source_ref": ref,
            "subject": {"name": who.name, "postcode": who.postcode,
                        "huisnummer": who.huisnummer},
            "occurred_at": "2026-11-20T08:00:00+00:00", "data": {**body, **data}}
