"""The data of a housing corporation's messages besides arrears (those are the core's)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hub.plugin import Address


class Nuisance(BaseModel):
    """``signal.nuisance``: woonoverlast or vervuiling reported at an address."""

    model_config = ConfigDict(extra="forbid")
    description: str = Field(min_length=1, max_length=4000)
    address: Address
    kind: str | None = Field(default=None, pattern="^(overlast|vervuiling)$")


#: Dutch labels for the nuisance report's fields.
NUISANCE_LABELS = {"description": "omschrijving", "address": "adres",
                   "kind": "soort overlast"}
