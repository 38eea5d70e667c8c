"""The GP plugin's own table: the current state of every referral Task it knows.

One row per Task, both ways: a GP's referral to the wijkteam (``direction``
``in``: the hub is the Task's owner and answers ``GET /fhir/r4/Task``), and a
regisseur's referral to a POH (``out``: the practice owns the Task; the row
follows its status). No BSN and no name is kept here: the patient is the
message's pseudonymous subject, and everything else stays sealed in the message.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.plugin import Base, UTCDateTime


class ReferralTask(Base):
    """A referral's FHIR Task: status, who asked, who owns it, when it last changed."""

    __tablename__ = "huisarts_tasks"
    __table_args__ = (Index("ix_huisarts_tasks_partner_updated", "partner_id", "last_updated"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # in: GP -> wijkteam (the hub holds the Task); out: regisseur -> POH (the practice does)
    direction: Mapped[str] = mapped_column(String(8))
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    # in: messages.id (the GP's referral); out: outbound_messages.id (to the POH). No
    # foreign key, as in the outbox: the direction says which table it names.
    message_id: Mapped[str] = mapped_column(String(36), unique=True)
    service_request_id: Mapped[str] = mapped_column(String(36))
    # The sender's Task identifier ("system|value"), as in messages.source_ref.
    identifier: Mapped[str | None] = mapped_column(String(200))
    # FHIR Task.status: requested | received | accepted | in-progress | completed | rejected
    status: Mapped[str] = mapped_column(String(20), index=True)
    status_reason: Mapped[str | None] = mapped_column(String(500))
    requester: Mapped[str | None] = mapped_column(String(200), index=True)
    owner: Mapped[str] = mapped_column(String(200))
    # The practice's own id of the Task (out: from its answer), to follow its status.
    remote_id: Mapped[str | None] = mapped_column(String(200))
    communication_id: Mapped[str | None] = mapped_column(String(36))
    version: Mapped[int] = mapped_column(Integer, default=1)
    authored_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime())
    # Whether the resident's consent covered the closing summary going back (in only).
    shared_back: Mapped[bool | None] = mapped_column(Boolean)
