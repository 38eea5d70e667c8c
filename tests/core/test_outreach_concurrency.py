"""Two workers routing signals about one household at once still make one outreach case.

On PostgreSQL: worker A routes a rent signal about Fatima and keeps its transaction
open; worker B routes a water signal about Youssef (same household, another
resident, so the consent registry's subject lock does not serialise them). B must
wait for A, then join A's case instead of opening a second one.

The audit chain's head (A records a disclosure) would serialise the two as well, so
the test switches that recording off: then only ``join_case``'s lock on the
household makes B wait (without it, B opens a second case and the test fails).
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text

from hub.core.outreach_models import OutreachCase, OutreachSignal
from hub.core.router import route_message
from tests.plugins.evides.test_evides import water
from tests.utils.builders import arrears, partner, person, register

pytestmark = [pytest.mark.postgres,
              pytest.mark.parametrize("database_url", ["postgres"], indirect=True)]
FATIMA = person(95, name="Fatima Amrani", postcode="3317AB", huisnummer="12")
YOUSSEF = person(96, name="Youssef Amrani", postcode="3317AB", huisnummer="12")


def _waiting_on_a_lock(ctx) -> int:
    with ctx.engine.connect() as conn:
        return conn.execute(text(
            "select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
            "and datname = current_database()")).scalar_one()


def test_a_second_worker_waits_and_joins_the_first_workers_case(ctx, client, monkeypatch):
    # Without the audit chain's head lock in the way, only join_case's own lock on the
    # household can make B wait (the audit is not what this test is about).
    monkeypatch.setattr("hub.core.router.record_disclosure", lambda *a, **k: None)
    register(ctx, FATIMA, YOUSSEF)
    _, woonbron = partner(ctx)
    _, evides = partner(ctx, "Evides", kind="evides")
    rent = client.post("/api/v1/messages", json=arrears(FATIMA, ref="R-1"),
                       headers=woonbron).json()["id"]
    water_id = client.post("/api/v1/messages", json=water(YOUSSEF, ref="W-1"),
                           headers=evides).json()["id"]
    results: dict[str, object] = {}

    def worker_b() -> None:
        try:
            with ctx.sessions() as session, session.begin():
                results["b"] = route_message(session=session, ctx=ctx, message_id=water_id,
                                             now=ctx.clock())
        except Exception as exc:  # reported by the assertion below
            results["b"] = exc

    with ctx.sessions() as a:
        assert route_message(session=a, ctx=ctx, message_id=rent, now=ctx.clock()) == \
            "delivered"
        b = threading.Thread(target=worker_b)
        b.start()
        # Wait for the condition, not for a time: B is blocked on A's household lock.
        while _waiting_on_a_lock(ctx) == 0:
            assert b.is_alive(), f"worker B finished without waiting: {results.get('b')}"
        a.commit()
    b.join()
    assert results["b"] == "delivered"
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutreachCase)) == 1
        assert session.scalar(select(func.count()).select_from(OutreachSignal)) == 2
