"""Counts made with a session are made when its transaction commits, never when it rolls back."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from hub.core.metrics import HubMetrics

LABELS = {"task": "route", "error": "RuntimeError"}


def _failures(metrics: HubMetrics) -> float:
    return metrics.registry.get_sample_value("wijkhub_task_failures_total", LABELS) or 0.0


def test_counted_at_commit_not_before():
    metrics, engine = HubMetrics(), create_engine("sqlite://")
    with Session(engine) as session, session.begin():
        metrics.task_failed(**LABELS, session=session)
        assert _failures(metrics) == 0
    assert _failures(metrics) == 1


def test_a_rolled_back_transaction_counts_nothing_and_leaves_nothing_behind():
    metrics, engine = HubMetrics(), create_engine("sqlite://")
    with Session(engine) as session:
        session.execute(text("SELECT 1"))
        metrics.task_failed(**LABELS, session=session)
        session.rollback()
        session.execute(text("SELECT 1"))
        session.commit()  # the next transaction of the same session does not revive it
    assert _failures(metrics) == 0


def test_a_savepoint_rolled_back_keeps_the_outer_transactions_counts():
    metrics, engine = HubMetrics(), create_engine("sqlite://")
    with Session(engine) as session, session.begin():
        metrics.task_failed(**LABELS, session=session)
        try:
            with session.begin_nested():
                session.execute(text("SELECT 1"))
                raise ValueError("one batch line failed")
        except ValueError:
            pass
    assert _failures(metrics) == 1


def test_without_a_session_it_counts_at_once():
    metrics = HubMetrics()
    metrics.task_failed(**LABELS)
    assert _failures(metrics) == 1


def test_a_routed_batch_asks_for_each_label_set_once_and_counts_every_message(monkeypatch):
    # Issue 14: labels() (a lock and a check of every value) ran three times per message.
    from datetime import UTC, datetime

    from prometheus_client.metrics import MetricWrapperBase

    asked: list[tuple] = []
    real = MetricWrapperBase.labels

    def spy(self, *values, **kw):
        asked.append(values)
        return real(self, *values, **kw)

    monkeypatch.setattr(MetricWrapperBase, "labels", spy)
    metrics, engine = HubMetrics(), create_engine("sqlite://")
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with Session(engine) as session, session.begin():
        for _ in range(50):
            metrics.decided(type="t", basis="statute", outcome="deliver", session=session)
            metrics.reached_inbox(partner="p", type="t", basis="statute", outcome="delivered",
                                  received_at=now, now=now, session=session)
    assert len(asked) == 3
    sample = metrics.registry.get_sample_value
    assert sample("wijkhub_decisions_total",
                  {"type": "t", "basis": "statute", "outcome": "deliver"}) == 50
    assert sample("wijkhub_messages_out_total", {"partner": "p", "type": "t",
                                                 "basis": "statute", "outcome": "delivered"}) == 50
    assert sample("wijkhub_receipt_to_inbox_seconds_count", {"type": "t", "basis": "statute"}) == 50
