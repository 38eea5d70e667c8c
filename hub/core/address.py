"""Dutch addresses as partners send them: postcode and huisnummer, normalised."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

_POSTCODE = re.compile(r"^([1-9][0-9]{3}) ?([A-Za-z]{2})$")
_HUISNUMMER = re.compile(r"^[1-9][0-9]{0,4}(?:[ -]?[A-Za-z0-9]{1,4})?$")


def normalize_postcode(value: str) -> str:
    """``"3311 ab"`` → ``"3311AB"``; raises ValueError for anything that is no Dutch postcode."""
    match = _POSTCODE.match(value.strip())
    if not match:
        raise ValueError("must be a Dutch postcode: four digits and two letters, like 3311 AB")
    return f"{match.group(1)}{match.group(2).upper()}"


def normalize_huisnummer(value: str) -> str:
    """``"12 a"`` → ``"12A"``; raises ValueError for anything that is no house number."""
    cleaned = value.strip()
    if not _HUISNUMMER.match(cleaned):
        raise ValueError("must be a house number, optionally with an addition, like 12 or 12A")
    return re.sub(r"[ -]", "", cleaned).upper()


Postcode = Annotated[str, AfterValidator(normalize_postcode)]
Huisnummer = Annotated[str, AfterValidator(normalize_huisnummer)]


class Address(BaseModel):
    """Postcode and huisnummer: enough to find a household and its wijk."""

    model_config = ConfigDict(extra="forbid")
    postcode: Postcode
    huisnummer: Huisnummer
