"""The subject lock on PostgreSQL: a decision and a revocation never interleave."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from consent import registry
from consent.tables import consent_subjects, metadata
from tests.consent.factories import T0

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(postgres_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _grant(session: Session, subject: str = "p-1"):
    return registry.grant(
        session=session,
        subject=subject,
        recipient="wijkteam",
        source_kinds=["woningcorporatie"],
        source_partners=[],
        categories=["financieel"],
        purpose="ondersteuning door het wijkteam",
        valid_until=None,
        now=T0,
        provenance={"method": "portal"},
    )


def _blocked(engine: Engine, subject: str) -> bool:
    """True if another transaction cannot take the subject lock right now."""
    with Session(engine) as other:
        other.execute(text("SET LOCAL lock_timeout = '300ms'"))
        try:
            registry.lock_subject(session=other, subject=subject)
        except OperationalError:
            return True
        return False


def test_lock_is_held_until_commit(pg_engine):
    with Session(pg_engine) as setup:
        _grant(setup)
        setup.commit()
    with Session(pg_engine) as a:
        registry.lock_subject(session=a, subject="p-1")
        assert _blocked(pg_engine, "p-1")
        assert not _blocked(pg_engine, "p-2")  # other residents are not held up
        a.commit()
    assert not _blocked(pg_engine, "p-1")


def test_first_lock_of_a_new_subject_also_serialises(pg_engine):
    with Session(pg_engine) as a:
        assert registry.lock_subject(session=a, subject="p-new") == 0  # row not yet committed
        assert _blocked(pg_engine, "p-new")
        a.commit()
    with Session(pg_engine) as b:
        assert registry.lock_subject(session=b, subject="p-new") == 0
        rows = b.execute(select(consent_subjects).where(consent_subjects.c.subject == "p-new"))
        assert len(rows.all()) == 1


def test_decision_waits_for_revocation_and_sees_it(pg_engine):
    with Session(pg_engine) as setup:
        g = _grant(setup)
        setup.commit()

    seen: dict[str, object] = {}
    locking = threading.Event()

    def decide_side() -> None:
        # What the hub's router does before deciding on a message.
        with Session(pg_engine) as b:
            locking.set()
            seen["version"] = registry.lock_subject(session=b, subject="p-1")
            seen["consents"] = registry.consents_for(session=b, subject="p-1")
            b.commit()

    with Session(pg_engine) as a:
        registry.revoke(session=a, subject="p-1", consent_id=g.id, now=T0 + timedelta(days=1))
        worker = threading.Thread(target=decide_side)
        worker.start()
        locking.wait(5)
        worker.join(0.5)
        assert worker.is_alive(), "the decision must wait for the revocation to commit"
        a.commit()
    worker.join(5)
    assert not worker.is_alive()
    assert seen == {"version": 2, "consents": []}
