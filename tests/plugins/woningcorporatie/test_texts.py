"""The housing corporation's inbox lines in Dutch (issue 13, item 16)."""

from __future__ import annotations

import pytest

from hub.core.plugins import load_plugins


@pytest.fixture(scope="module")
def rent():
    """The loaded ``signal.arrears.rent`` type, as the core sees it."""
    return load_plugins().catalog.type("signal.arrears.rent")


def test_one_month_is_singular(rent):
    assert rent.summary({"amount_eur": "95.00", "months": 1}) == \
        "Huurachterstand van € 95,00 (1 maand)"


def test_more_months_are_plural(rent):
    assert rent.summary({"amount_eur": "95.00", "months": 2}) == \
        "Huurachterstand van € 95,00 (2 maanden)"
