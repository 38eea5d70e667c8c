"""The plugin's own table: Wmo requests and where they stand (migration 0008).

Declared on the hub's metadata, so the one migration chain and its model check
(``tests/core/test_migrations.py``) cover it like any other table.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.plugin import Base, UTCDateTime, register_sealed


class WmoRequest(Base):
    """A regisseur's request for a maatwerkvoorziening, and what the desk did with it.

    ``subject`` is the resident's pseudonym; the BSN, the reason and the plan are in
    ``data_sealed`` (context ``wmo_request:<id>``). ``status`` is what the desk said:
    submitted (the hub accepted it for the desk) → in_behandeling → besluit; whether
    it reached the desk is the outbound message's status (``message_id``).
    """

    __tablename__ = "wmo_requests"
    __table_args__ = (UniqueConstraint("created_by", "idempotency_key",
                                       name="uq_wmo_requests_idempotency"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    household_id: Mapped[str] = mapped_column(String(36), index=True)
    wijk: Mapped[str] = mapped_column(String(64), index=True)
    desk_partner: Mapped[str] = mapped_column(ForeignKey("partners.id"), index=True)
    provision: Mapped[str] = mapped_column(String(2))  # iWmo 3.2 product category code
    urgency: Mapped[str] = mapped_column(String(10))
    data_sealed: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    # The Wmo 2015's terms run from these: 6 weeks from the melding (art. 2.3.2),
    # 2 weeks from the aanvraag (art. 2.3.5).
    melding_date: Mapped[date] = mapped_column(Date)
    aanvraag_date: Mapped[date | None] = mapped_column(Date)
    onderzoek_due: Mapped[date] = mapped_column(Date)
    besluit_due: Mapped[date | None] = mapped_column(Date)
    desk_reference: Mapped[str | None] = mapped_column(String(100))
    # The outbound wmo.request message, the desk's status message and its decision.
    message_id: Mapped[str | None] = mapped_column(String(36))
    status_message_id: Mapped[str | None] = mapped_column(String(36))
    decision_message_id: Mapped[str | None] = mapped_column(String(36), index=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set by the terms check (`hub wmo check-terms`): which term it flagged, and when.
    flagged_term: Mapped[str | None] = mapped_column(String(20))
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


# Key rotation re-seals this column too (hub keys rotate / reencrypt).
register_sealed(WmoRequest.__table__.c.id, WmoRequest.__table__.c.data_sealed, "wmo_request")
