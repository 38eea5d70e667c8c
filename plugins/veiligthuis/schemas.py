"""The data of Veilig Thuis' messages: reports about domestic violence and child abuse."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.plugin import (
    Address,
    IdField,
)

KIND = "veiligthuis"
# The regisseur's report to Veilig Thuis (plugins.veiligthuis.outbound sends it).
OUTBOUND_TYPE = "safety.report.wijkteam"


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


class Reporter(BaseModel):
    """How Veilig Thuis reaches the reporting regisseur."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=200)


class WijkteamReport(BaseModel):
    """``safety.report.wijkteam``: the regisseur reports to Veilig Thuis (meldcode, step 5)."""

    model_config = ConfigDict(extra="forbid")
    concern: Literal["domestic_violence", "child_abuse", "elder_abuse"]
    description: str = Field(min_length=1, max_length=8000,
                             description="What the regisseur saw or heard, and since when.")
    # Acute or structural unsafety: Veilig Thuis acts the same day.
    acute: bool = False
    # Step 3 of the meldcode: talk with the resident first, unless that endangers someone.
    resident_informed: bool
    not_informed_reason: str | None = Field(default=None, min_length=1, max_length=1000)
    reporter: Reporter
    # Veilig Thuis' case number when this answers one of its own reports.
    case_ref: str | None = Field(default=None, min_length=1, max_length=100,
                                 pattern=r"^[\x21-\x7e]+$")

    @model_validator(mode="after")
    def _why_not_informed(self) -> WijkteamReport:
        if not self.resident_informed and self.not_informed_reason is None:
            raise ValueError("not_informed_reason is required when the resident was not "
                             "informed")
        if self.resident_informed and self.not_informed_reason is not None:
            raise ValueError("not_informed_reason is only for a resident who was not informed")
        return self


class ReportedPerson(BaseModel):
    """Whom the report is about, as the resident registry knows them (no BSN)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    birthdate: str | None = Field(default=None, max_length=10)
    postcode: str | None = Field(default=None, max_length=7)
    huisnummer: str | None = Field(default=None, max_length=20)


class OutgoingReport(WijkteamReport):
    """What the hub stores (sealed) and sends: the report and the person it is about."""

    person: ReportedPerson


class ReportCreate(BaseModel):
    """``POST /api/v1/veiligthuis/reports``: the regisseur's report to Veilig Thuis."""

    model_config = ConfigDict(extra="forbid")
    ref: str = Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$",
                     description="Your own id for this report: sending it again is harmless.")
    bsn: str = Field(min_length=1, max_length=20,
                     description="The resident the report is about; never stored.")
    related_item_id: IdField | None = Field(
        default=None,
        description="The inbox item (a Veilig Thuis report) this answers, if any.")
    partner_id: IdField | None = Field(
        default=None,
        description="Which Veilig Thuis, when the hub knows more than one.")
    report: WijkteamReport


class ReportStatus(BaseModel):
    """Where a report to Veilig Thuis stands."""

    id: str
    ref: str
    status: Literal["queued", "delivered", "failed"]
    attempts: int
    receipt: str | None = Field(description="Veilig Thuis' own reference, once delivered.")
    delivered_at: datetime | None
    last_error: str | None = Field(description="e.g. HTTP 503; never message data.")
