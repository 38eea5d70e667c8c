"""Dutch addresses as partners send them: postcode and huisnummer, normalised."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict
from stdnum.exceptions import ValidationError
from stdnum.nl import postcode as stdnum_postcode

# As the BAG splits it: number (1-99999), an optional letter, an optional addition.
# The addition needs a separator, so 12-1 never collapses into 121.
_HUISNUMMER = re.compile(
    r"^([1-9][0-9]{0,4})(?:\s*([A-Za-z]))?(?:(?:\s*-\s*|\s+)([A-Za-z0-9]{1,4}))?$")


def normalize_postcode(value: str) -> str:
    """``"3311 ab"`` → ``"3311AB"``; raises ValueError for anything that is no Dutch postcode."""
    normal = _postcode(value)
    if normal is None:
        raise ValueError("must be a Dutch postcode: four digits and two letters, like 3311 AB")
    return normal


# A CSV batch checks the same few postcodes again and again (python-stdnum takes some
# 40 µs a call): the answers are remembered. Bounded, and a postcode is no secret.
@lru_cache(maxsize=8192)
def _postcode(value: str) -> str | None:
    # python-stdnum also knows the letter pairs PostNL never issues (SA, SD, SS).
    try:
        return stdnum_postcode.validate(value).replace(" ", "")
    except ValidationError:
        return None


def normalize_huisnummer(value: str) -> str:
    """``"12 a"`` → ``"12A"``, ``"12 - 1"`` → ``"12-1"``; ValueError if it is no house number."""
    match = _HUISNUMMER.match(value.strip())
    if not match:
        raise ValueError(
            "must be a house number, optionally with a letter or addition, like 12, 12A or 12-1")
    number, letter, addition = match.groups()
    return number + (letter or "").upper() + (f"-{addition.upper()}" if addition else "")


Postcode = Annotated[str, AfterValidator(normalize_postcode)]
Huisnummer = Annotated[str, AfterValidator(normalize_huisnummer)]


class Address(BaseModel):
    """Postcode and huisnummer: enough to find a household and its wijk."""

    model_config = ConfigDict(extra="forbid")
    postcode: Postcode
    huisnummer: Huisnummer
