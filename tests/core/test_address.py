"""Dutch postcodes and house numbers, normalised or refused with a clear reason."""

from __future__ import annotations

import pytest

from hub.core.address import normalize_huisnummer, normalize_postcode


@pytest.mark.parametrize(("given", "expected"), [
    ("3311AB", "3311AB"), ("3311 ab", "3311AB"), (" 3317 xz ", "3317XZ")])
def test_postcodes_are_normalised(given, expected):
    assert normalize_postcode(given) == expected


@pytest.mark.parametrize("given", ["0311AB", "3311", "33111AB", "3311 SS", "3311SA", "ABCD12", ""])
def test_impossible_postcodes_are_refused(given):
    # SA, SD and SS are letter pairs PostNL never issues. Asked twice: a remembered
    # answer (the check is cached for batches) is a refusal too.
    for _ in range(2):
        with pytest.raises(ValueError, match="Dutch postcode"):
            normalize_postcode(given)


@pytest.mark.parametrize(("given", "expected"), [
    ("12", "12"), ("12a", "12A"), ("12 a", "12A"), ("12-1", "12-1"), ("12 - 1", "12-1"),
    ("12 1", "12-1"), ("12A-2", "12A-2"), ("12 bis", "12-BIS"), ("99999", "99999")])
def test_house_numbers_are_normalised(given, expected):
    assert normalize_huisnummer(given) == expected


@pytest.mark.parametrize("given", ["0", "a12", "", "123456", "12 abcdef", "012"])
def test_impossible_house_numbers_are_refused(given):
    with pytest.raises(ValueError, match="house number"):
        normalize_huisnummer(given)


def test_an_addition_never_merges_into_the_number():
    assert normalize_huisnummer("12-1") != normalize_huisnummer("121")
