"""The consent registry: the one entry point the hub uses for stored consent.

Every function takes the caller's SQLAlchemy ``Session`` and never commits:
the caller owns the transaction, so a consent change, the stored message
and its outbox rows commit or roll back together.

Concurrency: a grant, a revocation and an answer to a request first lock
the subject's row in ``consent_subjects`` (:func:`lock_subject`) and bump
its version. The hub takes the same lock before deciding on a message, so
a decision never interleaves with a revocation for the same resident.

The functions live in :mod:`consent.grants` (grants and their version
history), :mod:`consent.requests` and :mod:`consent.representation` (who may
act for whom); decisions are stored here.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ARRAY, String, any_, bindparam, select
from sqlalchemy.orm import Session

from consent.bulk import insert_many
from consent.errors import ConsentError, ConsentNotFound, NotFound, RequestNotFound
from consent.grants import (
    UNCHANGED,
    change,
    check_subject,
    consents_for,
    expire_due,
    get_grant,
    grant,
    grant_record,
    list_grants,
    list_versions,
    lock_subject,
    revoke,
    subjects_with_expired,
)
from consent.model import BasisKind, ConsentGrant, Decision, Outcome
from consent.records import (
    Capacity,
    Change,
    ConsentRequest,
    ConsentVersion,
    GrantRecord,
    GrantStatus,
    Representation,
    RequestStatus,
)
from consent.representation import (
    NotPermitted,
    RepresentationNotFound,
    add_representation,
    capacity_allows,
    end_representation,
    find_representation,
    get_representation,
    list_representations,
    may_act_for,
)
from consent.requests import (
    REQUEST_PURPOSE,
    answered_no,
    approve_request,
    deny_request,
    get_request,
    list_requests,
    open_request,
)
from consent.tables import consent_decisions, consent_grants, consent_subjects

__all__ = [
    "REQUEST_PURPOSE",
    "UNCHANGED",
    "Capacity",
    "Change",
    "ConsentError",
    "ConsentNotFound",
    "ConsentRequest",
    "ConsentVersion",
    "GrantRecord",
    "GrantStatus",
    "NotFound",
    "NotPermitted",
    "Representation",
    "RepresentationNotFound",
    "RequestNotFound",
    "RequestStatus",
    "add_representation",
    "answered_no",
    "approve_request",
    "capacity_allows",
    "change",
    "consents_for",
    "consents_for_many",
    "decision_row",
    "decisions_for",
    "deny_request",
    "end_representation",
    "expire_due",
    "find_representation",
    "get_grant",
    "get_representation",
    "get_request",
    "grant",
    "list_grants",
    "list_representations",
    "list_requests",
    "list_versions",
    "lock_subject",
    "lock_subjects",
    "may_act_for",
    "open_request",
    "record_decision",
    "record_decisions",
    "revoke",
    "subjects_with_expired",
]


def decision_row(*, id: str, message_id: str, subject: str | None,
                 decision: Decision) -> dict[str, Any]:
    """The ``consent_decisions`` row ``id`` that stores ``decision`` (for :func:`record_decisions`).

    The caller names the row: the hub gives time-ordered ids to the tables that
    grow with every message (``hub.core.ids.new_uuid7``).
    """
    return {
        "id": id,
        "message_id": message_id,
        "subject": subject,
        "outcome": Outcome(decision.outcome).value,
        "basis": BasisKind(decision.basis).value,
        "basis_ref": decision.basis_ref,
        "fields": None if decision.fields is None else list(decision.fields),
        "reason": decision.reason,
        "retention_days": decision.retention_days,
        "decided_at": decision.decided_at,
    }


def record_decision(
    *, session: Session, id: str, message_id: str, subject: str | None,
    decision: Decision
) -> None:
    """Store a decision as row ``id`` with its basis, fields and reason, in the caller's
    transaction."""
    record_decisions(session=session, rows=[
        decision_row(id=id, message_id=message_id, subject=subject, decision=decision)])


def record_decisions(*, session: Session, rows: list[dict[str, Any]]) -> None:
    """Store many :func:`decision_row` rows with one statement, in the caller's transaction."""
    if rows:
        insert_many(session, consent_decisions, rows)


def lock_subjects(*, session: Session, subjects: Iterable[str]) -> dict[str, int]:
    """:func:`lock_subject` for many residents at once; their versions by subject.

    The rows are locked in sorted order by one ``SELECT ... ORDER BY subject FOR
    UPDATE`` (two callers with overlapping sets cannot deadlock on them); the
    missing ones are created (version 0) with one ``INSERT ... ON CONFLICT DO
    NOTHING`` and then locked the same way. Held until the transaction ends.
    """
    wanted = sorted(set(subjects))
    for subject in wanted:
        check_subject(subject)
    if not wanted:
        return {}
    versions = _locked_versions(session, wanted)
    missing = [s for s in wanted if s not in versions]
    if missing:
        dialect = session.get_bind(clause=consent_subjects.select()).dialect.name
        if dialect not in ("postgresql", "sqlite"):
            for subject in missing:
                versions[subject] = lock_subject(session=session, subject=subject)
            return versions
        # The dialect's own INSERT (for ON CONFLICT), imported only by a hub on it.
        insert_ = importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert
        session.execute(insert_(consent_subjects).on_conflict_do_nothing(
            index_elements=["subject"]), [{"subject": s, "version": 0} for s in missing])
        versions.update(_locked_versions(session, missing))
    return versions


def _subject_in(column, postgres: bool):
    # The subjects as one parameter, for statements built once per dialect, not an IN list
    # coerced value by value for every routing batch: on PostgreSQL an array (= ANY), so
    # the text does not change with the number of subjects and the driver parses it once;
    # elsewhere an expanding IN. (The consent package's own hub.core.store.in_list, which
    # it may not import.)
    if postgres:
        return column == any_(bindparam("subjects", type_=ARRAY(String)))
    return column.in_(bindparam("subjects", expanding=True))


def _on_postgres(session: Session) -> bool:
    return session.get_bind(clause=consent_subjects.select()).dialect.name == "postgresql"


_LOCK_VERSIONS = {
    postgres: select(consent_subjects.c.subject, consent_subjects.c.version)
    .where(_subject_in(consent_subjects.c.subject, postgres))
    .order_by(consent_subjects.c.subject).with_for_update()
    for postgres in (False, True)
}
# Built once per dialect too: a routing batch's consent cache misses in one select.
_ACTIVE_GRANTS_OF = {
    postgres: select(consent_grants)
    .where(_subject_in(consent_grants.c.subject, postgres),
           consent_grants.c.status == GrantStatus.ACTIVE.value)
    .order_by(consent_grants.c.granted_at, consent_grants.c.id)
    for postgres in (False, True)
}


def _locked_versions(session: Session, subjects: list[str]) -> dict[str, int]:
    rows = session.execute(_LOCK_VERSIONS[_on_postgres(session)], {"subjects": subjects}).all()
    return {row.subject: row.version for row in rows}


def consents_for_many(*, session: Session, subjects: Iterable[str]
                      ) -> dict[str, list[ConsentGrant]]:
    """:func:`consents_for` for many residents with one query; every subject asked is a key."""
    wanted = sorted(set(subjects))
    found: dict[str, list[ConsentGrant]] = {s: [] for s in wanted}
    if not wanted:
        return found
    rows = session.execute(_ACTIVE_GRANTS_OF[_on_postgres(session)], {"subjects": wanted}).all()
    for row in rows:
        found[row.subject].append(grant_record(row).to_grant())
    return found


def decisions_for(*, session: Session, message_id: str) -> list[Decision]:
    """Return every decision stored for a message, oldest first, as recorded."""
    rows = session.execute(
        select(consent_decisions)
        .where(consent_decisions.c.message_id == message_id)
        .order_by(consent_decisions.c.decided_at, consent_decisions.c.id)
    ).all()
    return [
        Decision(
            outcome=Outcome(r.outcome),
            basis=BasisKind(r.basis),
            basis_ref=r.basis_ref,
            fields=None if r.fields is None else tuple(r.fields),
            reason=r.reason,
            decided_at=r.decided_at,
            retention_days=r.retention_days,
        )
        for r in rows
    ]
