"""A bad message gets every field's problem in one answer (issue 15, item 8)."""

from __future__ import annotations

import pytest

from hub.core.errors import DATETIME_EXPECTED
from tests.utils.builders import arrears, partner, person

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _problems(response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {e["field"]: e["reason"] for e in response.json()["errors"]}


def test_subject_occurred_at_and_data_problems_come_together(ctx, client):
    _, woonbron = partner(ctx)
    body = arrears(person(1), ref="R-1", amount="veel")
    body["subject"] = {"bsn": "123456789"}
    body["occurred_at"] = "2026-11-20"
    body["data"]["months"] = "drie"
    problems = _problems(client.post("/api/v1/messages", json=body, headers=woonbron))
    assert {"occurred_at", "data.amount_eur", "data.months"} <= set(problems)
    assert any(field.startswith("subject") for field in problems), problems
    assert "123456789" not in str(problems)


@pytest.mark.parametrize("value", ["2026-11-20", "2026-11-20T08:00:00", "gisteren", None])
def test_a_timestamp_without_time_zone_says_what_form_is_expected(ctx, client, value):
    _, woonbron = partner(ctx)
    body = arrears(person(2), ref="R-2")
    body["occurred_at"] = value
    problems = _problems(client.post("/api/v1/messages", json=body, headers=woonbron))
    assert problems == {"occurred_at": DATETIME_EXPECTED}
    assert "2026-11-03T09:00:00+01:00" in DATETIME_EXPECTED


def test_only_data_problems_keep_their_title(ctx, client):
    _, woonbron = partner(ctx)
    answer = client.post("/api/v1/messages", json=arrears(person(3), ref="R-3", amount="x"),
                         headers=woonbron)
    assert _problems(answer).keys() == {"data.amount_eur"}
    assert answer.json()["title"] == "Invalid message data"


def test_another_kinds_type_is_still_forbidden(ctx, client):
    _, evides = partner(ctx, "Evides", kind="evides")
    answer = client.post("/api/v1/messages", json=arrears(person(4), ref="R-4"),
                         headers=evides)
    assert answer.status_code == 403
