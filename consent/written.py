"""Which sessions have written a consent table in their open transaction.

The decision cache (:mod:`consent.cache`) keeps only what the database had
committed: a session that has written a consent table in its open transaction
reads past it, so a grant that is later rolled back can never be remembered
under a version number that a different, committed grant will take. Every
write through ``Session.execute`` is noted by the Session's own event; a write
that bypasses it (:mod:`consent.bulk`'s executemany) calls :func:`note_write`.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from consent.tables import consent_grants, consent_requests, consent_subjects

__all__ = ["has_written", "note_write"]

_WRITTEN = "consent_cache.written"
_CONSENT_TABLES = frozenset({consent_grants.name, consent_subjects.name, consent_requests.name})


def note_write(session: Session, table: object) -> None:
    """Note that ``session``'s open transaction writes ``table``; from then on, when it is
    a consent table, nothing that transaction reads is kept by the cache."""
    if getattr(table, "name", None) in _CONSENT_TABLES:
        session.info[_WRITTEN] = True


def has_written(session: Session) -> bool:
    """Whether ``session``'s open transaction has written a consent table."""
    return bool(session.info.get(_WRITTEN))


@event.listens_for(Session, "do_orm_execute")
def _note_consent_writes(state: ORMExecuteState) -> None:
    # Registry writes are Core statements through Session.execute, so they pass here.
    if state.is_insert or state.is_update or state.is_delete:
        note_write(state.session, getattr(state.statement, "table", None))


@event.listens_for(Session, "after_transaction_end")
def _forget_writes(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction: committed or rolled back
        session.info.pop(_WRITTEN, None)
