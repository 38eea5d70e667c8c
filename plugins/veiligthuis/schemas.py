"""The data of Veilig Thuis' messages: reports about domestic violence and child abuse."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.core.address import Address


class Contact(BaseModel):
    """Who at Veilig Thuis handles the case."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=200)


class SafetyReport(BaseModel):
    """``safety.report`` from Veilig Thuis: a hand-over of a case to the wijkteam, or a
    request to the wijkteam, after a report about domestic violence or child abuse."""

    model_config = ConfigDict(extra="forbid")
    # handover: Veilig Thuis hands the case over (overdracht); request: asks the
    # wijkteam to act or to give information (verzoek).
    kind: Literal["handover", "request"]
    concern: Literal["domestic_violence", "child_abuse", "elder_abuse"]
    # Veilig Thuis' own case number: what the regisseur quotes when calling back.
    case_ref: str = Field(min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$")
    description: str = Field(min_length=1, max_length=8000)
    address: Address | None = None
    contact: Contact | None = None
