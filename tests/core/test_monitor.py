"""The monitor's month and suppression rules, and its command's refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.cli import main
from hub.core.errors import HubProblem
from hub.core.monitor import as_csv, parse_month, suppress


def test_a_month_is_a_dutch_calendar_month():
    month = parse_month("2026-11")
    # Midnight in Amsterdam (CET, UTC+1) on 1 November and 1 December.
    assert month.start == datetime(2026, 10, 31, 23, tzinfo=UTC)
    assert month.end == datetime(2026, 11, 30, 23, tzinfo=UTC)
    assert (month.first_day.day, month.last_day.day) == (1, 30)
    assert parse_month("2026-12").last_day.isoformat() == "2026-12-31"


@pytest.mark.parametrize("value", ["2026-13", "2026-1", "november", "", "2026-11-01"])
def test_anything_but_a_month_is_refused_naming_month(value):
    with pytest.raises(HubProblem) as info:
        parse_month(value)
    assert info.value.problems[0].field == "month"


def test_cells_under_five_are_suppressed_and_a_median_by_its_basis():
    assert [suppress(n) for n in (0, 1, 4, 5, 17)] == ["<5", "<5", "<5", 5, 17]
    assert suppress(2.5, basis=4) == "<5" and suppress(2.5, basis=5) == 2.5


def test_the_csv_has_the_documented_header_even_when_empty():
    header = as_csv([]).splitlines()[0]
    assert header.startswith("month,wijk,partner_kind,signals_received,households,")
    assert header.endswith("households_referred_debt_help,median_days_to_first_attempt")


def test_the_command_refuses_a_bad_month(capsys):
    assert main(["monitor", "export", "--month", "2026-13"]) == 2
    assert "--month must be a month like 2026-11" in capsys.readouterr().err
