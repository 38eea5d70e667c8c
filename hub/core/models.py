"""The hub's tables (SQLAlchemy 2.0). Personal data is only ever stored sealed.

Columns ending in ``_sealed`` hold :class:`hub.core.crypto.Cipher` ciphertexts;
``subject`` and ``*_key`` columns hold keyed-hash pseudonyms, never a BSN.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from consent.tables import UTCDateTime

# Deterministic constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _ts() -> Mapped[datetime]:
    return mapped_column(UTCDateTime())


class Partner(Base):
    """An organisation allowed to send messages of its kind's types."""

    __tablename__ = "partners"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    api_key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    endpoint: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _ts()


class Household(Base):
    """The residents at one address: one household, one plan, one regisseur."""

    __tablename__ = "households"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    address_key: Mapped[str] = mapped_column(String(64), unique=True)
    wijk: Mapped[str] = mapped_column(String(64), index=True)
    regisseur: Mapped[str | None] = mapped_column(String(200))


class Resident(Base):
    """A person of the resident registry (the stand-in for the BRP)."""

    __tablename__ = "residents"
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    address_key: Mapped[str] = mapped_column(String(64), index=True)
    # name, birthdate, postcode, huisnummer: needed to match creditors' signals.
    identity_sealed: Mapped[str] = mapped_column(Text)


class Batch(Base):
    """One uploaded CSV file and what became of its lines."""

    __tablename__ = "batches"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), index=True)
    message_type: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    total: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _ts()
    finished_at: Mapped[datetime | None] = _ts()


class BatchError(Base):
    """Why one line of a batch was refused. Names the field, never repeats its value."""

    __tablename__ = "batch_errors"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(500))


class Message(Base):
    """A partner's message as accepted: the canonical envelope, its data sealed."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("source_partner", "source_ref", name="uq_messages_source"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(100), index=True)
    source_partner: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    source_ref: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(64), index=True)
    category: Mapped[str] = mapped_column(String(64))
    # {"subject": {...as given, without BSN}, "data": {...}}
    payload_sealed: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = _ts()
    received_at: Mapped[datetime] = _ts()
    schema_version: Mapped[int] = mapped_column(Integer, default=1)
    # accepted -> held | delivered | linked | closed
    status: Mapped[str] = mapped_column(String(20), index=True)
    wijk: Mapped[str | None] = mapped_column(String(64))
    household_id: Mapped[str | None] = mapped_column(String(36))
    match_method: Mapped[str | None] = mapped_column(String(64))
    item_id: Mapped[str | None] = mapped_column(String(36), index=True)
    request_id: Mapped[str | None] = mapped_column(String(36), index=True)
    batch_id: Mapped[str | None] = mapped_column(String(36), index=True)


class OutboxEntry(Base):
    """Work for the worker: written in the same transaction as what caused it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), index=True)
    task: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))  # pending | done | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = _ts()
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()


class InboxItem(Base):
    """What reached a wijk's inbox, with the basis it reached it on."""

    __tablename__ = "inbox_items"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), unique=True)
    wijk: Mapped[str] = mapped_column(String(64), index=True)
    household_id: Mapped[str | None] = mapped_column(String(36), index=True)
    subject: Mapped[str | None] = mapped_column(String(64), index=True)
    triage: Mapped[bool] = mapped_column(Boolean, default=False)
    type: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(64))
    source_partner: Mapped[str] = mapped_column(String(36))
    basis: Mapped[str] = mapped_column(String(20))
    basis_ref: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[list[str] | None] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # new | taken_up | closed
    taken_up: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when a later read finds no basis any more (revoked, expired): the
    # regisseur no longer sees it; the disclosure record keeps that they once did.
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    repeat_key: Mapped[str | None] = mapped_column(String(64), index=True)
    measure: Mapped[str | None] = mapped_column(String(40))
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()


class Disclosure(Base):
    """That data about a resident reached a recipient: the resident's own record of it."""

    __tablename__ = "disclosures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    message_id: Mapped[str] = mapped_column(String(36))
    item_id: Mapped[str] = mapped_column(String(36))
    message_type: Mapped[str] = mapped_column(String(100))
    source_partner: Mapped[str] = mapped_column(String(36))
    recipient: Mapped[str] = mapped_column(String(100))
    basis: Mapped[str] = mapped_column(String(20))
    basis_ref: Mapped[str | None] = mapped_column(String(64))
    fields: Mapped[list[str] | None] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = _ts()
