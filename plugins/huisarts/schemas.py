"""The data of the GP plugin's messages (validated by the core at ingest and at send)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Text200 = Field(default=None, max_length=200)


class Practitioner(BaseModel):
    """The referring professional: name, role and BIG/UZI/AGB numbers, as far as given."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Text200
    role: str | None = Text200
    big: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    uzi: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    agb: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")


class Organization(BaseModel):
    """The referring practice: name and URA/AGB/UZI numbers, as far as given."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Text200
    ura: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    agb: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")
    uzi: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")


class Requester(BaseModel):
    """Who referred, as the Bundle said it."""

    model_config = ConfigDict(extra="forbid")
    reference: str | None = Text200
    display: str | None = Text200
    identifier: str | None = Text200
    practitioner: Practitioner | None = None
    organization: Organization | None = None


class Coding(BaseModel):
    """One code of the reason (e.g. ICPC-2 P02)."""

    model_config = ConfigDict(extra="forbid")
    system: str | None = Field(default=None, max_length=200)
    code: str = Field(min_length=1, max_length=100)
    display: str | None = Field(default=None, max_length=200)


class GpReferral(BaseModel):
    """``referral.gp``: a GP or POH refers a patient to the Sociaal wijkteam."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)
    reason_codes: list[Coding] = Field(default_factory=list, max_length=10)
    urgency: Literal["routine", "urgent", "asap", "stat"] = "routine"
    requester: Requester
    task_identifier: str = Field(min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=2000)


class ReferralStatus(BaseModel):
    """``referral.status``: the Task's new state, sent back to the referring practice.

    ``task`` is the whole Task as the hub holds it now (a full snapshot, so a late
    retry never sends half a state); ``communication`` the closing summary, only
    when the resident's consent covers sharing it back.
    """

    model_config = ConfigDict(extra="forbid")
    task_id: str = Field(min_length=1, max_length=36)
    task_identifier: str = Field(min_length=1, max_length=200,
                                 description="The practice's own identifier of its Task.")
    status: Literal["received", "accepted", "in-progress", "completed", "rejected"]
    task: dict
    communication: dict | None = None


class PohReferral(BaseModel):
    """``referral.poh``: the regisseur refers a resident to the practice's POH.

    The BSN is how the practice finds its patient; the message is sealed at rest.
    """

    model_config = ConfigDict(extra="forbid")
    bsn: str = Field(min_length=9, max_length=9, pattern=r"^[0-9]{9}$")
    reason: str = Field(min_length=1, max_length=2000)
    urgency: Literal["routine", "urgent", "asap", "stat"] = "routine"
    regisseur: str = Field(min_length=1, max_length=200)
    wijk: str = Field(min_length=1, max_length=64)
