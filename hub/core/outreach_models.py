"""The tables of help outreach (issue 16): one case per household, its signals and attempts.

Kept apart from :mod:`hub.core.models` so the outreach feature stays one place;
the tables live on the same metadata (``hub.core.db.all_metadata`` imports this).
Nothing here holds a name, an amount or a contact detail in the clear: the
resident's lawful contact details are sealed (``contact_sealed``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from consent.tables import UTCDateTime
from hub.core.models import Base


class OutreachCase(Base):
    """One household's outreach after early signals of arrears: due date, attempts, outcome."""

    __tablename__ = "outreach_cases"
    __table_args__ = (Index("ix_outreach_cases_wijk_status", "wijk", "status"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    wijk: Mapped[str] = mapped_column(String(64))
    household_id: Mapped[str] = mapped_column(String(36), index=True)
    # The resident the first signal was about (pseudonym), for /mijn and the audit.
    subject: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20))  # open | closed
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Signals arriving before this join the case; later ones open a new one.
    window_ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str | None] = mapped_column(String(40))
    # The highest outreach_priority of its signals' types (an end-of-supply notice first).
    urgency: Mapped[int] = mapped_column(Integer, default=0)
    # No earlier case for this household: counted as "signalled for the first time".
    first_for_household: Mapped[bool] = mapped_column(Boolean, default=True)
    # {"phone": E.164, "email": ...} from a signal that may lawfully carry them;
    # Cipher, context "outreach-contact:<id>". Never logged.
    contact_sealed: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutreachSignal(Base):
    """One inbox item that joined a case: ids and the partner kind, never its data."""

    __tablename__ = "outreach_signals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("outreach_cases.id"), index=True)
    item_id: Mapped[str] = mapped_column(String(36), unique=True)
    message_id: Mapped[str] = mapped_column(String(36))
    type: Mapped[str] = mapped_column(String(100))
    partner_kind: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutreachAttempt(Base):
    """One contact attempt: how, when, and what came of it. No free text."""

    __tablename__ = "outreach_attempts"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("outreach_cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    result: Mapped[str] = mapped_column(String(40))
    attempted_on: Mapped[date] = mapped_column(Date)
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
