"""Plain-Dutch texts: dates, categories, lists and the request question."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consent import explain
from consent.model import CATEGORIES

MONTHS = [
    "januari", "februari", "maart", "april", "mei", "juni",
    "juli", "augustus", "september", "oktober", "november", "december",
]  # fmt: skip


@pytest.mark.parametrize("month", range(1, 13))
def test_format_date_writes_dutch_month_names(month):
    when = datetime(2026, month, 15, 12, 0, tzinfo=UTC)
    assert explain.format_date(when) == f"15 {MONTHS[month - 1]} 2026"


def test_format_date_uses_dutch_time():
    # 22:30 UTC on 31 December 2025 is already New Year in the Netherlands.
    assert explain.format_date(datetime(2025, 12, 31, 23, 30, tzinfo=UTC)) == "1 januari 2026"


def test_format_date_at_the_calendars_end_shows_its_own_date():
    # Dutch time would be year 10000, which Python cannot hold: an end date stored
    # before the registry refused those still shows, rather than breaking the page.
    assert explain.format_date(datetime(9999, 12, 31, 23, 30, tzinfo=UTC)) == \
        "31 december 9999"


def test_format_date_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="timezone-aware"):
        explain.format_date(datetime(2026, 3, 3))


def test_every_category_has_resident_words():
    words = {c: explain.describe_category(c) for c in CATEGORIES}
    assert words["financieel"] == "geldzaken"
    assert words["medisch"] == "uw gezondheid"
    assert words["wonen"] == "wonen"
    assert words["werk-inkomen"] == "werk en inkomen"
    # Every category has its own words; none falls back to the raw key
    # unless the key is already plain Dutch.
    assert len(set(words.values())) == len(CATEGORIES)


@pytest.mark.parametrize(
    ("words", "joined"),
    [([], ""), (["naam"], "naam"), (["naam", "adres"], "naam en adres"),
     (["naam", "adres", "bedrag"], "naam, adres en bedrag")],
)  # fmt: skip
def test_join_dutch(words, joined):
    assert explain.join_dutch(words) == joined


def test_unknown_field_name_becomes_words():
    assert explain.describe_field("amount_eur") == "bedrag"
    assert explain.describe_field("meter_reading") == "meter reading"


def test_request_text_says_what_a_yes_covers():
    text = explain.request_text(
        source_name="Evides", topics=["waterachterstand"], category="financieel",
        recipient="wijkteam",
    )  # fmt: skip
    assert text == (
        "Evides wil een melding over waterachterstand delen met uw wijkteam. Mag dat? "
        "Als u ja zegt, geldt dat 1 jaar voor alle meldingen over geldzaken van Evides. "
        "U kunt uw toestemming altijd weer intrekken."
    )


@pytest.mark.parametrize(("days", "words"), [(1, "na 1 dag verwijderd"),
                                             (90, "na 90 dagen verwijderd")])
def test_retention_counts_days_in_singular_and_plural(days, words):
    # Issue 13, item 16: never "na 1 dagen".
    text = explain.disclosure_explanation(
        basis="statute", at=datetime(2026, 3, 3, 12, 0, tzinfo=UTC), recipient="wijkteam",
        fields=["amount_eur"], statute_title="Wgs", retention_days=days)
    assert words in text


def test_count_uses_the_singular_for_one_only():
    from consent.dutch import count

    assert [count(n, "maand", "maanden") for n in (0, 1, 2)] == [
        "0 maanden", "1 maand", "2 maanden"]
