"""The Wmo desk's data: the regisseur's request, the desk's status and its decision.

Product categories are those of the iWmo standard, release 3.2 (element
``ProductCategorie``, two positions), so a desk's own system can take them as
they are. See docs/wmo.md for the mapping and the versions followed.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from hub.plugin import validate_bsn

# iWmo 3.2, ProductCategorie: code → the name the standard gives it.
IWMO_CATEGORIES: dict[str, str] = {
    "01": "Hulp bij het huishouden",
    "02": "Begeleiding",
    "03": "Persoonlijke verzorging",
    "04": "Kortdurend verblijf",
    "05": "Woondiensten",
    "06": "Overige ondersteuning gericht op het individu of huishouden/gezin",
    "07": "Dagbesteding",
    "08": "Vervoerdiensten",
    "09": "Overige groepsgerichte ondersteuning",
    "10": "Overige maatwerkarrangementen",
    "11": "Rolstoelen",
    "12": "Vervoervoorzieningen",
    "13": "Woonvoorzieningen",
    "14": "Overige hulpmiddelen",
    "15": "Beschermd wonen",
    "16": "Opvang",
    "17": "Spoedopvang",
    "18": "Overige beschermd wonen en opvang",
}

# Plain names a regisseur's system may send instead of the code. Transport is the
# collective service (regiotaxi, 08); an own vehicle such as a scootmobiel is 12.
PROVISION_ALIASES: dict[str, str] = {
    "household_help": "01",
    "support": "02",
    "begeleiding": "02",
    "personal_care": "03",
    "short_stay": "04",
    "day_activities": "07",
    "transport": "08",
    "wheelchair": "11",
    "transport_aid": "12",
    "home_adaptation": "13",
    "other_aid": "14",
}

# How the category reads inside a Dutch sentence ("Besluit Wmo: <noun> toegekend").
_NOUNS: dict[str, str] = {
    "01": "huishoudelijke hulp",
    "02": "begeleiding",
    "03": "persoonlijke verzorging",
    "04": "kortdurend verblijf",
    "05": "woondiensten",
    "06": "ondersteuning thuis",
    "07": "dagbesteding",
    "08": "vervoer",
    "09": "groepsondersteuning",
    "10": "maatwerkarrangement",
    "11": "rolstoel",
    "12": "vervoersvoorziening",
    "13": "woningaanpassing",
    "14": "hulpmiddel",
    "15": "beschermd wonen",
    "16": "opvang",
    "17": "spoedopvang",
    "18": "beschermd wonen of opvang",
}

OUTCOME_WORDS = {"granted": "toegekend", "refused": "afgewezen",
                 "partly_granted": "gedeeltelijk toegekend"}


def category_noun(code: str | None) -> str:
    """The Dutch noun for an iWmo category, for sentences; "voorziening" when unknown."""
    return _NOUNS.get(code or "", "voorziening")


def _provision(value: object) -> object:
    # An iWmo code ("01", or 1) or one of the plain names; anything else is refused below.
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:02d}"
    if isinstance(value, str):
        key = value.strip().lower()
        return PROVISION_ALIASES.get(key, key)
    return value


def _category(value: str) -> str:
    if value not in IWMO_CATEGORIES:
        raise ValueError("must be an iWmo product category code (01 to 18) or one of "
                         + ", ".join(sorted(PROVISION_ALIASES)))
    return value


Category = Annotated[str, BeforeValidator(_provision), Field(max_length=40),
                     AfterValidator(_category)]


def _printable(value: str) -> str:
    # Free text is stored sealed, but a NUL byte is no text: refuse it at the door.
    if any(ord(c) < 32 and c not in "\n\r\t" for c in value) or "\x7f" in value:
        raise ValueError("must not contain control characters")
    return value


Text = Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(_printable)]
Ref = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_printable)]


RequestId = Annotated[str, Field(min_length=1, max_length=64,
                                 description="The hub's id of the Wmo request."),
                     AfterValidator(_printable)]


def _bsn(value: str) -> str:
    return validate_bsn(value)


class WmoRequestIn(BaseModel):
    """``POST /api/v1/wmo/requests``: a regisseur asks the desk for a maatwerkvoorziening."""

    model_config = ConfigDict(extra="forbid")
    bsn: Annotated[str, Field(min_length=1, max_length=20, description=(
        "The resident the provision is for; validated with the elfproef, never stored "
        "in clear.")), AfterValidator(_bsn)]
    provision: Category = Field(description=(
        "iWmo 3.2 product category code (01-18), or household_help, support, personal_care, "
        "short_stay, day_activities, transport, wheelchair, transport_aid, home_adaptation, "
        "other_aid."), examples=["01"])
    reason: Text = Field(description="Why the resident needs it (sent to the desk, sealed).")
    urgency: Literal["normal", "urgent"] = "normal"
    plan_ref: Ref | None = Field(default=None,
                                 description="The household plan this request belongs to.")
    melding_date: date | None = Field(default=None, description=(
        "When the need was reported to the municipality (the Wmo's melding); today if "
        "not given. Starts the 6-week investigation term."))
    aanvraag_date: date | None = Field(default=None, description=(
        "When the resident applied (the aanvraag), if they did; starts the 2-week "
        "decision term."))
    desk: Ref | None = Field(default=None, description=(
        "The desk (partner name or id) when more than one Wmo desk is registered."))

    @model_validator(mode="after")
    def _dates_in_order(self) -> WmoRequestIn:
        if (self.aanvraag_date and self.melding_date
                and self.aanvraag_date < self.melding_date):
            raise ValueError("aanvraag_date must not be before melding_date")
        return self


class Volume(BaseModel):
    """How much was granted, as iWmo's Omvang: an amount, its unit and its frequency."""

    model_config = ConfigDict(extra="forbid")
    amount: int = Field(ge=1, le=100_000)
    unit: Literal["minuut", "uur", "dagdeel", "etmaal", "stuks", "euro"]
    frequency: Literal["dag", "week", "maand", "jaar", "totaal"]


class WmoDecision(BaseModel):
    """``wmo.decision``: the desk's beschikking on a request the hub delivered."""

    model_config = ConfigDict(extra="forbid")
    request_id: RequestId
    outcome: Literal["granted", "refused", "partly_granted"]
    product_category: Category | None = None
    product_code: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{5}$",
                                       description="iWmo product code (5 positions).")] | None \
        = None
    product_name: Ref | None = None
    volume: Volume | None = None
    start_date: date | None = None
    end_date: date | None = None
    desk_reference: Ref
    reason: Text

    @model_validator(mode="after")
    def _coherent(self) -> WmoDecision:
        if self.outcome != "refused":
            missing = [f for f in ("product_category", "start_date")
                       if getattr(self, f) is None]
            if missing:
                raise ValueError(f"a grant must name {' and '.join(missing)}")
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date")
        return self


class WmoStatus(BaseModel):
    """``wmo.status``: the desk says it is working on a request (in behandeling)."""

    model_config = ConfigDict(extra="forbid")
    request_id: RequestId
    status: Literal["in_behandeling"]
    desk_reference: Ref | None = None
    aanvraag_date: date | None = Field(default=None, description=(
        "When the desk received the resident's aanvraag: starts the 2-week decision term."))


class WmoRequestData(BaseModel):
    """``wmo.request``: what the hub sends to the desk's endpoint."""

    model_config = ConfigDict(extra="forbid")
    request_id: str
    bsn: str
    provision: str
    provision_name: str
    reason: str
    urgency: Literal["normal", "urgent"]
    plan_ref: str | None = None
    melding_date: date
    aanvraag_date: date | None = None
    wijk: str
    regisseur: str
