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
    text,
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
    endpoint: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _ts()
    # Pinned proofs of possession (issue 5): when set, an API key alone is not enough.
    # signing_key: the partner's Ed25519 public key (base64 of its 32 raw bytes);
    # cert_sha256: the SHA-256 fingerprint (hex) of its TLS client certificate.
    signing_key: Mapped[str | None] = mapped_column(String(64))
    cert_sha256: Mapped[str | None] = mapped_column(String(64))


class PartnerKey(Base):
    """One API key of a partner, stored only as an argon2 hash; looked up by its public id.

    A partner has more than one key while a rotation overlaps: the old key
    stops at ``expires_at``; a revoked key stops at once.
    """

    __tablename__ = "partner_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _ts()
    expires_at: Mapped[datetime | None] = _ts()
    revoked_at: Mapped[datetime | None] = _ts()


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
    # Only the residents still without a name key (migration 0022, partial on both
    # stores): empty once every start's key_all_legacy_names ran, so that start-up
    # question reads no table. PostgreSQL's WHERE is the migration's alone: naming it
    # here would load SQLAlchemy's PostgreSQL dialect in every command on SQLite.
    __table_args__ = (Index("ix_residents_unkeyed_name", "subject",
                            sqlite_where=text("name_key IS NULL")),)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    address_key: Mapped[str] = mapped_column(String(64), index=True)
    # name, birthdate, postcode, huisnummer (street, place when the registry has them):
    # needed to match creditors' signals.
    identity_sealed: Mapped[str] = mapped_column(Text)
    # A keyed hash of the normalised name (Pseudonymizer.name_key): matching skips the
    # residents at an address whose name differs without opening their identity.
    # None only until the first start after migration 0021 (key_all_legacy_names).
    name_key: Mapped[str | None] = mapped_column(String(64))


class SearchToken(Base):
    """One searchable word of a resident's registry entry, as a keyed hash (issue 17, item 1).

    ``token`` is :meth:`hub.core.crypto.Pseudonymizer.search_token` of a normalised
    name part, street word, place, postcode, house number or postcode + house number:
    the caseload is searched without opening any sealed identity, and without the
    key a token says nothing. ``kind`` is ``name`` or ``address``: a name matches only
    for a resident the viewer may name (hub.core.caseload).
    """

    __tablename__ = "search_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)


class Batch(Base):
    """One uploaded CSV file and what became of its lines.

    The counts and ``lines_done`` commit with each chunk's messages, so they are
    always exactly what is stored, also while the batch runs or after a crash.
    """

    __tablename__ = "batches"
    # One batch per partner and file: the same file imported again continues it.
    __table_args__ = (Index("ux_batches_partner_checksum", "partner_id", "source_checksum",
                            unique=True),)
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
    # The file's last line (physical, header = 1) whose chunk committed.
    lines_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The file's physical lines (header included), counted before the import: progress.
    lines_total: Mapped[int | None] = mapped_column(Integer)
    # SHA-256 of the file, for imports that resume (hub batch import); None for the API.
    source_checksum: Mapped[str | None] = mapped_column(String(64))
    # When the last chunk committed: a running batch that stopped moving was interrupted.
    updated_at: Mapped[datetime | None] = _ts()


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
    __table_args__ = (UniqueConstraint("source_partner", "source_ref", name="uq_messages_source"),
                      # Only the messages whose reference is still in clear (migration
                      # 0022, partial on both stores, see Resident): empty once
                      # seal_all_legacy_refs ran; no message table scan at every start.
                      Index("ix_messages_unsealed_ref", "id",
                            sqlite_where=text("source_ref_sealed IS NULL")))
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(100), index=True)
    source_partner: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    # A keyed hash of (partner, the partner's reference), never the reference itself
    # (issue 13, item 10): a partner may use a BSN as its reference. hub.core.source_refs.
    source_ref: Mapped[str] = mapped_column(String(200))
    # The partner's reference, sealed (context "source-ref:<id>"), to answer with it.
    source_ref_sealed: Mapped[str | None] = mapped_column(Text)
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
    # The X-Correlation-ID of the request that brought it: routing logs under it too.
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    # Set when retention removed the data (payload_sealed is then empty): the row
    # stays as an audit stub, and keeps a resent source_ref from being delivered again.
    purged_at: Mapped[datetime | None] = _ts()


class OutboxEntry(Base):
    """Work for the worker: written in the same transaction as what caused it."""

    __tablename__ = "outbox"
    # Queue order from the index: the due rows are read in id order, not sorted (0020).
    __table_args__ = (Index("ix_outbox_queue", "status", "id", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # An inbound message (task "route") or an outbound one (task "deliver"): no
    # foreign key, the task says which table the id is in.
    message_id: Mapped[str] = mapped_column(String(36), index=True)
    task: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))  # pending | done | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = _ts()
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()


class OutboundMessageRow(Base):
    """A message the hub sends to a partner (a status back, a referral, a Wmo request).

    The partner dedupes on ``id`` (sent as the Idempotency-Key); the hub dedupes a
    plugin's or a regisseur's repeat on (partner, type, ref).
    """

    __tablename__ = "outbound_messages"
    __table_args__ = (UniqueConstraint("partner_id", "type", "ref",
                                       name="uq_outbound_messages_partner_type_ref"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(100), index=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), index=True)
    ref: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(64), index=True)
    household_id: Mapped[str | None] = mapped_column(String(36), index=True)
    related_message_id: Mapped[str | None] = mapped_column(String(36), index=True)
    payload_sealed: Mapped[str] = mapped_column(Text)
    # queued | delivered | failed | withheld (a plan share whose consent ended, issue 17)
    status: Mapped[str] = mapped_column(String(20), index=True)
    receipt: Mapped[str | None] = mapped_column(String(200))
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()
    delivered_at: Mapped[datetime | None] = _ts()


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
    # Sealed (Cipher, context "measure:<message_id>"): the amount is message data.
    measure: Mapped[str | None] = mapped_column(Text)
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()
    # A confidential item (a type with a safety basis, e.g. a Veilig Thuis report) is
    # addressed to one user: the household's designated regisseur. None while the
    # household has none: then only the wijk's team leads see it, to assign one (issue 7).
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    addressed_to: Mapped[str | None] = mapped_column(String(200), index=True)


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


class DeadLetter(Base):
    """Work that could not be done, kept for an operator to look at and replay (issue 3).

    One store for both transports: the embedded queue's dead outbox rows and the
    broker's dead-lettered deliveries, including broker messages that did not parse.
    Holds ids and reasons only; an unparseable broker body is kept sealed.
    """

    __tablename__ = "dead_letters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # What died, once: "outbox:<id>" or "broker:<digest>". The unique constraint makes
    # recording a dead letter idempotent when a worker dies before it acks.
    key: Mapped[str] = mapped_column(String(100), unique=True)
    source: Mapped[str] = mapped_column(String(20))  # embedded | rabbitmq
    task: Mapped[str | None] = mapped_column(String(40))
    outbox_id: Mapped[int | None] = mapped_column(Integer)
    message_id: Mapped[str | None] = mapped_column(String(36), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    body_sealed: Mapped[str | None] = mapped_column(Text)
    dead_at: Mapped[datetime] = _ts()
    replayed_at: Mapped[datetime | None] = _ts()


class AuditEvent(Base):
    """One line of the audit log (NEN 7513): who, in which role, did what to whose data.

    Append-only and hash-chained: ``hash`` covers the row and ``prev_hash``, so a
    changed, removed or reordered row breaks the chain (``hub audit verify``).
    ``subject`` is the resident's pseudonym; ``data`` holds ids and field names, never values.
    """

    __tablename__ = "audit_events"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = _ts()
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(64), index=True)
    data: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    basis: Mapped[str | None] = mapped_column(String(100))
    system: Mapped[str] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(100))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The newest link of the audit chain, signed, so a cut-off tail is detected too.

    One row (id 1). Appends lock it, which also serialises them: the chain never forks.
    """

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = _ts()


class ConfidentialRead(Base):
    """One opening of a confidential inbox item, with the reason its reader gave (issue 7).

    The reason is a professional's free text: sealed (context ``read-reason:<id>``),
    never logged. The audit event of the read names this row's id.
    """

    __tablename__ = "confidential_reads"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("inbox_items.id"), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    reason_sealed: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = _ts()


class Withholding(Base):
    """That a message is kept out of the resident's own overview, and until when (issue 7).

    The policy file decides which safety reports are withheld (while that protects a
    child or a victim). Each withholding is reviewed by a team lead by ``review_at``;
    it ends when a team lead ends it or at ``ends_at``. Nothing is deleted: the row
    is the record that, and why, the resident was not shown the report.
    """

    __tablename__ = "withholdings"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # An inbound message (messages.id) or an outbound one (outbound_messages.id): no
    # foreign key, because it may name either table.
    message_id: Mapped[str] = mapped_column(String(36), unique=True)
    item_id: Mapped[str | None] = mapped_column(String(36), index=True)
    subject: Mapped[str | None] = mapped_column(String(64), index=True)
    wijk: Mapped[str | None] = mapped_column(String(64), index=True)
    household_id: Mapped[str | None] = mapped_column(String(36))
    reason_code: Mapped[str] = mapped_column(String(64))
    withheld_by: Mapped[str] = mapped_column(String(200))
    withheld_at: Mapped[datetime] = _ts()
    review_at: Mapped[datetime] = _ts()
    ends_at: Mapped[datetime | None] = _ts()
    ended_at: Mapped[datetime | None] = _ts()
    ended_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None] = _ts()
    reviewed_by: Mapped[str | None] = mapped_column(String(200))


class WebLogin(Base):
    """A logged-in screen session (issue 13, item 13: logging out ends it on the server).

    The session cookie names it by a random id; only that id's SHA-256 is stored, so
    this table gives no one a working cookie. A page opens only while the row exists,
    has not ended and has not expired; ``/uitloggen`` sets ``ended_at``.
    """

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = _ts()
    expires_at: Mapped[datetime] = _ts()
    ended_at: Mapped[datetime | None] = _ts()
class PlanVersion(Base):
    """One version of a household's plan (issue 17). Never updated: a change is a new version.

    ``body_sealed`` (Cipher, context ``plan:<id>``) holds the goals, agreements and
    evaluation date as JSON: the resident's own words are personal data. ``subject``
    is the resident the plan is written with (a pseudonym), whose consent shares it.
    """

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("household_id", "version",
                                       name="uq_plan_versions_household_id"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = _ts()
    created_by: Mapped[str] = mapped_column(String(200))
    created_role: Mapped[str] = mapped_column(String(20))
    body_sealed: Mapped[str] = mapped_column(Text)


class PlanResponse(Base):
    """What a resident (or their representative) said about one version of the plan.

    ``kind`` is agree | comment | suggest; ``text_sealed`` (context
    ``plan-response:<id>``) the comment or suggestion, None for an agreement.
    """

    __tablename__ = "plan_responses"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    plan_version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(64))
    representation_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = _ts()
    text_sealed: Mapped[str | None] = mapped_column(Text)


class PlanProgress(Base):
    """A partner's report on an agreement shared with it (``plan.progress``).

    ``note_sealed`` (context ``plan-progress:<id>``) is the partner's note, if any.
    """

    __tablename__ = "plan_progress"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    household_id: Mapped[str] = mapped_column(ForeignKey("households.id"), index=True)
    agreement_id: Mapped[str] = mapped_column(String(36), index=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    state: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = _ts()
    note_sealed: Mapped[str | None] = mapped_column(Text)
