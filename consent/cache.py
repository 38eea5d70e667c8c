"""The decision cache: a resident's active consents, kept per (subject, consent version).

A decision needs the subject's consents. Reading them is one query on the
(subject, status) index, but it still costs a round trip per message; the cache
keeps the result in memory, bounded (LRU), so a decision costs the subject lock
(a primary-key lookup, needed anyway) and the pure engine.

Never stale: every grant, revocation and answer bumps
``consent_subjects.version`` in the same transaction (:mod:`consent.grants`),
and an entry is used only for exactly the version the caller has just read
under the subject's lock. Another process's revocation therefore invalidates
this process's entry too, without any message between them.
:meth:`ConsentCache.invalidate` drops an entry eagerly (engineer A's consent
fanout), which saves memory, not correctness.

An entry is only ever filled from what the database had committed: a session
that has written a consent table in its open transaction reads past the cache,
so a grant that is later rolled back can never be remembered under a version
number that a different, committed grant will take.
"""

from __future__ import annotations

import threading

from cachetools import LRUCache
from sqlalchemy import select
from sqlalchemy.orm import Session

from consent.grants import consents_for
from consent.model import ConsentGrant
from consent.registry import consents_for_many
from consent.tables import consent_subjects
from consent.written import has_written

__all__ = ["ConsentCache", "subject_version"]


def subject_version(*, session: Session, subject: str) -> int:
    """The subject's committed consent version without locking (0 if never changed).

    For reads that need not serialise with a change (the inbox's re-check):
    read the version first, then the consents, so a change committed in
    between leaves an entry under the old, never-again-current version.
    """
    version = session.execute(
        select(consent_subjects.c.version).where(consent_subjects.c.subject == subject)
    ).scalar_one_or_none()
    return 0 if version is None else version


class ConsentCache:
    """A bounded, thread-safe LRU of each subject's active consents and their version."""

    def __init__(self, maxsize: int = 10_000) -> None:
        if maxsize < 0:
            raise ValueError("maxsize must be 0 (off) or more")
        self.maxsize = maxsize
        self._entries: LRUCache[str, tuple[int, tuple[ConsentGrant, ...]]] | None = (
            LRUCache(maxsize=maxsize) if maxsize else None)
        # The worker thread and the request threads share one cache.
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        with self._lock:
            return 0 if self._entries is None else len(self._entries)

    def consents(self, *, session: Session, subject: str,
                 version: int | None = None) -> list[ConsentGrant]:
        """The subject's active consents as of ``version``, as ``registry.consents_for`` gives.

        Pass the version :func:`consent.grants.lock_subject` returned (the
        decision path holds that lock). Without one, the committed version is
        read first (:func:`subject_version`).
        """
        if version is None:
            version = subject_version(session=session, subject=subject)
        if self._entries is not None:
            with self._lock:
                entry = self._entries.get(subject)
                if entry is not None and entry[0] == version:
                    self.hits += 1
                    return list(entry[1])
                self.misses += 1
        else:
            self.misses += 1
        grants = consents_for(session=session, subject=subject)
        if self._entries is not None and not has_written(session):
            with self._lock:
                current = self._entries.get(subject)
                # Never replace a newer version with an older one (a slow reader).
                if current is None or current[0] <= version:
                    self._entries[subject] = (version, tuple(grants))
        return grants

    def consents_many(self, *, session: Session,
                      versions: dict[str, int]) -> dict[str, list[ConsentGrant]]:
        """:meth:`consents` for many residents at once: ``versions`` maps each subject to
        the version :func:`consent.registry.lock_subjects` returned.

        The entries held for exactly that version are used; the others are read with
        one query (:func:`consent.registry.consents_for_many`) and kept, as
        :meth:`consents` keeps them.
        """
        found: dict[str, list[ConsentGrant]] = {}
        missing: list[str] = []
        with self._lock:
            for subject, version in versions.items():
                entry = self._entries.get(subject) if self._entries is not None else None
                if entry is not None and entry[0] == version:
                    self.hits += 1
                    found[subject] = list(entry[1])
                else:
                    self.misses += 1
                    missing.append(subject)
        if not missing:
            return found
        read = consents_for_many(session=session, subjects=missing)
        found.update(read)
        if self._entries is not None and not has_written(session):
            with self._lock:
                for subject in missing:
                    current = self._entries.get(subject)
                    if current is None or current[0] <= versions[subject]:
                        self._entries[subject] = (versions[subject], tuple(read[subject]))
        return found

    def invalidate(self, subject: str) -> None:
        """Forget the subject's entry (safe to call for a subject not cached)."""
        if self._entries is not None:
            with self._lock:
                self._entries.pop(subject, None)

    def clear(self) -> None:
        """Forget every entry."""
        if self._entries is not None:
            with self._lock:
                self._entries.clear()
