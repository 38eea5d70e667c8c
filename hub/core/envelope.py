"""The shape of an incoming message, before the core turns it into an envelope."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.core.address import Huisnummer, Postcode
from hub.core.bsn import validate_bsn


class SubjectIn(BaseModel):
    """Who a message is about: a BSN, or name and address (creditors rarely have a BSN)."""

    model_config = ConfigDict(extra="forbid")
    bsn: str | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    birthdate: date | None = None
    postcode: Postcode | None = None
    huisnummer: Huisnummer | None = None

    @field_validator("bsn")
    @classmethod
    def _elfproef(cls, value: str | None) -> str | None:
        return None if value is None else validate_bsn(value)

    @model_validator(mode="after")
    def _identifies_someone(self) -> SubjectIn:
        if self.bsn is None and not (self.name and self.postcode and self.huisnummer):
            raise ValueError("give either bsn, or name with postcode and huisnummer")
        return self


class MessageIn(BaseModel):
    """``POST /api/v1/messages``: one message from a partner."""

    model_config = ConfigDict(extra="forbid")
    type: str = Field(min_length=1, max_length=100, examples=["signal.arrears.rent"])
    source_ref: str = Field(min_length=1, max_length=200,
                            description="The partner's own id; resending it is harmless.")
    subject: SubjectIn
    occurred_at: AwareDatetime
    data: dict[str, Any]

    @field_validator("source_ref")
    @classmethod
    def _printable(cls, value: str) -> str:
        # Stored in clear as part of the idempotency key; PostgreSQL refuses NUL in text.
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _in_utc_range(cls, value: datetime) -> datetime:
        # Stored in UTC: an offset that pushes it past year 1 or 9999 cannot be stored.
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is out of range") from None


def subject_from_row(row: dict[str, str] | Any) -> dict[str, str]:
    """The ``subject`` of a message from a creditor's CSV line.

    Reads the columns every creditor export shares (``name``, ``postcode``,
    ``huisnummer``, and optionally ``bsn`` and ``birthdate``) and leaves empty
    cells out, so a line and a single JSON message meet one validation.
    """
    keys = ("name", "postcode", "huisnummer", "bsn", "birthdate")
    return {key: row[key] for key in keys if row.get(key)}
