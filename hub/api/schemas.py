"""Public request and response shapes. Routes never return ORM objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from hub.core.envelope import MessageIn

SenderStatus = Literal["received", "taken_up", "not_taken_up", "closed"]


# --- partners -------------------------------------------------------------------
class MessageCreate(MessageIn):
    """A partner's message (documented here; validated by the core)."""


class MessageReceipt(BaseModel):
    """The hub's receipt for an accepted message."""

    id: str
    status: SenderStatus


class MessageStatus(BaseModel):
    """What the sender may know of its message: a closed list, never why."""

    id: str
    type: str
    source_ref: str
    status: SenderStatus
    received_at: datetime


class BatchReceipt(BaseModel):
    """The hub's receipt for a CSV batch."""

    batch_id: str
    status: str


class BatchLineError(BaseModel):
    """Why one line was refused: the CSV column and the reason, never the value."""

    line: int
    field: str
    reason: str


class BatchPublic(BaseModel):
    """A batch's progress and outcome.

    ``status``: ``running``, ``done``, ``failed`` (an unexpected error stopped it)
    or ``interrupted`` (the hub stopped while importing it). After either, the
    counts are what was stored; send the file again to finish: lines stored
    already count as duplicates.
    """

    batch_id: str
    status: str
    total: int
    accepted: int
    duplicates: int
    rejected: int
    # Data lines of the file read so far, of how many (null: unknown), and their share.
    lines_done: int
    lines_total: int | None
    progress: float | None
    # Every refused line counts here; ``errors`` holds the page asked for.
    errors_total: int
    errors: list[BatchLineError]


# --- regisseur ------------------------------------------------------------------
class InboxItemPublic(BaseModel):
    """An inbox item with only the data its basis allows."""

    id: str
    type: str
    category: str
    summary: str
    source: str
    basis: str
    reason: str = Field(description="Why the regisseur may see this, in Dutch, written "
                        "about the resident (\"De bewoner gaf toestemming …\").")
    status: Literal["new", "taken_up", "closed"]
    triage: bool = Field(description="True when the resident could not be identified.")
    matched_by: str | None = Field(
        description="How the resident was identified: bsn, name+address, "
                    "name+address+birthdate, ambiguous or unmatched.")
    household_id: str | None
    repeats: int = Field(description="Herhaalde meldingen linked to this item.")
    received_at: datetime
    data: dict[str, Any]
    confidential: bool = Field(
        default=False, description="Only for the household's designated regisseur; lists "
        "show a neutral summary and no data; opening it needs a reason.")
    addressed_to: str | None = Field(
        default=None, description="A confidential item's designated regisseur; null while "
        "it waits for the team lead to designate one.")


class OpenConfidential(BaseModel):
    """Why the reader opens a confidential item (stored sealed, audited)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=1000, description="Why you open this item, in your words.")


class InboxPage(BaseModel):
    """One page of a wijk's inbox."""

    total: int
    limit: int
    offset: int
    items: list[InboxItemPublic]


# --- resident -------------------------------------------------------------------
class ConsentCreate(BaseModel):
    """A consent the resident gives: who may receive what, from whom, why, until when."""

    model_config = ConfigDict(extra="forbid")
    recipient: Literal["wijkteam"] = "wijkteam"
    source_kinds: list[str] = Field(default_factory=list, max_length=20)
    source_partners: list[str] = Field(default_factory=list, max_length=50)
    categories: list[str] = Field(min_length=1, max_length=10)
    purpose: str = Field(min_length=1, max_length=500)
    valid_until: AwareDatetime | None = None


class ConsentCreated(BaseModel):
    """The id of a new consent."""

    id: str


class ActedBy(BaseModel):
    """A representative who gave or changed a consent, by capacity (never by identity)."""

    representation_id: str
    capacity: Literal["parent", "guardian", "curator", "mentor", "bewindvoerder"]


class ConsentPublic(BaseModel):
    """A consent as the resident sees it."""

    id: str
    recipient: str
    source_kinds: list[str]
    source_partners: list[str]
    categories: list[str]
    purpose: str
    status: str = Field(description="active, revoked, expired or refused.")
    valid_from: datetime
    valid_until: datetime | None
    revoked_at: datetime | None
    provenance: dict[str, Any]
    version: int = Field(1, description="Version number; every change makes a new one.")
    changed_at: datetime | None = None
    acted_by: ActedBy | None = Field(
        None, description="Set when a representative made the current version.")
    explanation: str = Field("", description="What this consent means, in Dutch.")


class ConsentChange(BaseModel):
    """A change of an active consent: only the fields given change (a new version)."""

    model_config = ConfigDict(extra="forbid")
    source_kinds: list[str] | None = Field(default=None, max_length=20)
    source_partners: list[str] | None = Field(default=None, max_length=50)
    categories: list[str] | None = Field(default=None, min_length=1, max_length=10)
    purpose: str | None = Field(default=None, min_length=1, max_length=500)
    valid_until: AwareDatetime | None = Field(
        default=None, description="A new end; null (given explicitly) means no end date.")


class ConsentVersionPublic(BaseModel):
    """One version of a consent: its whole state after one change."""

    version: int
    change: Literal["granted", "changed", "revoked", "expired", "refused"]
    changed_at: datetime
    status: str
    recipient: str
    source_kinds: list[str]
    source_partners: list[str]
    categories: list[str]
    purpose: str
    valid_from: datetime
    valid_until: datetime | None
    revoked_at: datetime | None
    provenance: dict[str, Any]
    acted_by: ActedBy | None


class RepresentationPublic(BaseModel):
    """A representation: who may act for whom, in which capacity, for which period."""

    id: str
    capacity: Literal["parent", "guardian", "curator", "mentor", "bewindvoerder"]
    categories: list[str] = Field(description="The data categories this capacity covers.")
    valid_from: datetime
    valid_until: datetime | None
    ended_at: datetime | None
    active: bool
    reference: str


class MyRepresentations(BaseModel):
    """Whom I represent (use ``on_behalf_of=<id>``), and who represents me."""

    represents: list[RepresentationPublic]
    represented_by: list[RepresentationPublic]


class KnownItemPublic(BaseModel):
    """One message the hub holds about the resident: field names, never values."""

    id: str
    type: str
    topic: str
    category: str
    source: str
    received_at: datetime
    status: Literal["shown", "no_longer_shown", "held", "closed", "linked", "purged",
                    "accepted"]
    status_text: str = Field(description="The status in Dutch.")
    fields: list[str] = Field(description="Names of the fields the hub holds.")
    shown_fields: list[str] | None = Field(
        description="Fields the wijkteam sees now: null means all, [] nothing.")
    basis: str | None = Field(description="consent, statute or safety while shown; else null.")
    explanation: str = Field(description="What happened to it and why, in Dutch.")
    summary: str | None = Field(default=None, description=(
        "What it says, in Dutch, where it is the resident's own (e.g. \"Besluit Wmo: "
        "huishoudelijke hulp toegekend\"); null for everything else."))


class ConsentRequestPublic(BaseModel):
    """A question to the resident: may this be shared?"""

    id: str
    text: str
    source: str
    category: str
    status: str
    created_at: datetime
    expires_at: datetime
    purpose: str | None = Field(default=None, description=(
        "plan.share: the question is whether an agreement of the household plan may go "
        "to a partner (issue 17); null: whether a partner's message may reach the wijkteam."))


class DisclosurePublic(BaseModel):
    """That something about the resident reached someone, when, and on which basis."""

    message_type: str
    source: str
    recipient: str
    basis: str
    fields: list[str] | None
    reason: str
    at: datetime
    still_shown: bool = Field(True, description="False once the recipient no longer sees it.")
    explanation: str = Field("", description="Why it was shared and whether it still is, "
                                             "in Dutch.")
