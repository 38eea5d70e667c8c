"""The decision cache: hits without queries, never stale, bounded, invalidated on demand."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import bindparam, delete, event, update
from sqlalchemy.orm import Session

from consent import bulk, registry
from consent.cache import ConsentCache, subject_version
from consent.engine import decide
from consent.model import Outcome
from consent.policy import load_policy
from consent.tables import consent_grants, consent_subjects, consent_versions
from tests.consent.factories import T0, facts

POLICY = load_policy()
NUISANCE = facts(type="signal.nuisance", category="wonen")


def _grant(session: Session, subject: str = "p-1", **overrides):
    values = {"recipient": "wijkteam", "source_kinds": ["woningcorporatie"],
              "source_partners": [], "categories": ["wonen"], "purpose": "hulp",
              "valid_until": None, "now": T0, "provenance": {"method": "portal"}}
    values.update(overrides)
    return registry.grant(session=session, subject=subject, **values)


def _decide(cache: ConsentCache, session: Session, subject: str = "p-1"):
    """The worker's decision path: lock the subject, its consents through the cache, decide."""
    version = registry.lock_subject(session=session, subject=subject)
    grants = cache.consents(session=session, subject=subject, version=version)
    return decide(facts=NUISANCE, consents=grants, policy=POLICY, now=T0 + timedelta(hours=1))


def _count_queries(session: Session) -> list[str]:
    seen: list[str] = []
    event.listen(session.get_bind(), "before_cursor_execute",
                 lambda conn, cursor, statement, *a: seen.append(statement))
    return seen


def test_a_hit_reads_only_the_version(session):
    g = _grant(session)
    session.commit()
    cache = ConsentCache()
    assert _decide(cache, session).basis_ref == g.id
    session.commit()
    queries = _count_queries(session)
    assert _decide(cache, session).basis_ref == g.id
    assert (cache.hits, cache.misses) == (1, 1)
    assert not any("consent_grants" in q for q in queries)


def test_a_hit_really_comes_from_memory(session):
    # Rows removed behind the registry's back (no version bump) still decide the same:
    # proof that the second decision did not read them.
    _grant(session)
    session.commit()
    cache = ConsentCache()
    assert _decide(cache, session).outcome is Outcome.DELIVER_FULL
    session.commit()
    session.execute(delete(consent_versions))  # their history points at the grants
    session.execute(delete(consent_grants))
    session.commit()
    assert _decide(cache, session).outcome is Outcome.DELIVER_FULL


def test_a_revocation_is_honoured_at_once_with_the_cache_on(session):
    g = _grant(session)
    session.commit()
    cache = ConsentCache()
    assert _decide(cache, session).outcome is Outcome.DELIVER_FULL
    session.commit()
    registry.revoke(session=session, subject="p-1", consent_id=g.id, now=T0 + timedelta(minutes=5))
    session.commit()
    assert _decide(cache, session).outcome is Outcome.HOLD


def test_a_revocation_elsewhere_reaches_every_cache(session):
    # Two processes, two caches, one database: the version is the only message between them.
    g = _grant(session)
    session.commit()
    mine, theirs = ConsentCache(), ConsentCache()
    assert _decide(mine, session).outcome is Outcome.DELIVER_FULL
    session.commit()
    registry.revoke(session=session, subject="p-1", consent_id=g.id, now=T0)
    assert _decide(theirs, session).outcome is Outcome.HOLD
    session.commit()
    assert _decide(mine, session).outcome is Outcome.HOLD


def test_a_rolled_back_grant_is_never_remembered(session):
    cache = ConsentCache()
    registry.lock_subject(session=session, subject="p-1")
    session.commit()
    _grant(session, categories=["wonen"])  # version 1, in this transaction only
    assert _decide(cache, session).outcome is Outcome.DELIVER_FULL
    session.rollback()
    # A different grant now takes version 1 for real.
    _grant(session, categories=["financieel"])
    session.commit()
    assert subject_version(session=session, subject="p-1") == 1
    assert _decide(cache, session).outcome is Outcome.HOLD


def test_the_cache_is_a_bounded_lru(session):
    for subject in ("p-1", "p-2", "p-3"):
        _grant(session, subject)
    session.commit()
    cache = ConsentCache(maxsize=2)
    _decide(cache, session, "p-1")
    _decide(cache, session, "p-2")
    _decide(cache, session, "p-1")  # p-1 is now the most recently used
    _decide(cache, session, "p-3")  # evicts p-2
    assert len(cache) == 2
    assert (cache.hits, cache.misses) == (1, 3)
    _decide(cache, session, "p-1")
    _decide(cache, session, "p-2")
    assert (cache.hits, cache.misses) == (2, 4)


def test_invalidate_drops_the_subject(session):
    _grant(session)
    session.commit()
    cache = ConsentCache()
    _decide(cache, session)
    cache.invalidate("p-1")
    cache.invalidate("never-seen")
    assert len(cache) == 0
    _decide(cache, session)
    assert cache.misses == 2


def test_size_zero_switches_it_off(session):
    _grant(session)
    session.commit()
    cache = ConsentCache(maxsize=0)
    _decide(cache, session)
    _decide(cache, session)
    assert (len(cache), cache.hits, cache.misses) == (0, 0, 2)
    with pytest.raises(ValueError):
        ConsentCache(maxsize=-1)


def test_without_a_version_the_committed_one_is_read(session):
    g = _grant(session)
    session.commit()
    cache = ConsentCache()
    assert cache.consents(session=session, subject="p-1") == [g]
    assert cache.consents(session=session, subject="p-1") == [g]
    assert cache.hits == 1
    assert cache.consents(session=session, subject="nobody") == []


def test_a_batch_locks_its_residents_and_reads_the_missing_consents_with_one_query(session):
    g1 = _grant(session, subject="p-1")
    _grant(session, subject="p-2")
    session.commit()
    cache = ConsentCache()
    _decide(cache, session, subject="p-1")  # p-1 is warm, p-2 and p-3 are not
    session.commit()
    queries = _count_queries(session)
    versions = registry.lock_subjects(session=session, subjects=["p-3", "p-2", "p-1"])
    assert set(versions) == {"p-1", "p-2", "p-3"} and versions["p-3"] == 0
    found = cache.consents_many(session=session, versions=versions)
    assert [c.id for c in found["p-1"]] == [g1.id] and found["p-3"] == []
    assert len(found["p-2"]) == 1
    assert (cache.hits, cache.misses) == (1, 3)
    # One read of the grants for the two cold residents, none per resident.
    assert sum("consent_grants" in q for q in queries) == 1
    session.commit()

    # A change bumps the version: the batch's next look-up reads it again, never stale.
    registry.revoke(session=session, subject="p-1", consent_id=g1.id, now=T0)
    session.commit()
    versions = registry.lock_subjects(session=session, subjects=["p-1"])
    assert cache.consents_many(session=session, versions=versions) == {"p-1": []}


def test_a_bulk_write_to_a_consent_table_keeps_the_transaction_out_of_the_cache(session):
    # consent.bulk bypasses Session.execute, so the Session's own event never sees its
    # writes: it must tell the cache itself, or a version it set and then rolled back
    # is remembered with what that transaction read, under a number a real grant takes.
    cache = ConsentCache()
    registry.lock_subject(session=session, subject="p-1")
    session.commit()
    bulk.execute_many(session, update(consent_subjects)
                      .where(consent_subjects.c.subject == bindparam("b_subject"))
                      .values(version=bindparam("b_version")),
                      [{"b_subject": "p-1", "b_version": 1}])
    assert _decide(cache, session).outcome is Outcome.HOLD  # version 1, no grant yet
    session.rollback()
    _grant(session, categories=["wonen"])  # version 1 for real
    session.commit()
    assert _decide(cache, session).outcome is Outcome.DELIVER_FULL
