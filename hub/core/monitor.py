"""The monthly monitor of early signalling (issue 16): counts only, small cells suppressed.

Per month, per wijk and per partner kind (plus ``alle`` for all kinds together):
signals received, unique households, households signalled for the first time,
households with combined signals, contact attempts by kind, households reached,
help accepted, referred to debt help, and the median days from the first signal
to the first attempt. The columns follow the Divosa Monitor Vroegsignalering
Schulden's indicators as far as public material describes them (docs/monitor.md).

Nothing here identifies a household: only counts leave this module, and every
count under :data:`THRESHOLD` is shown as ``"<5"`` (also a median over fewer than
five cases), so a small wijk or a rare partner cannot single anyone out.
"""

from __future__ import annotations

import csv
import io
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.core.errors import invalid
from hub.core.outreach import KINDS, REACHED
from hub.core.outreach_models import OutreachAttempt, OutreachCase, OutreachSignal

THRESHOLD = 5
SUPPRESSED = "<5"
ALL_KINDS = "alle"
_AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

#: The columns, in order. docs/monitor.md maps each to the Divosa indicator it follows.
COLUMNS = ("month", "wijk", "partner_kind", "signals_received", "households",
           "households_first_signal", "households_combined_signals",
           *(f"attempts_{kind}" for kind in KINDS), "households_reached",
           "households_help_accepted", "households_referred_debt_help",
           "median_days_to_first_attempt")


@dataclass(frozen=True)
class Month:
    """A calendar month in Dutch time, as the half-open UTC interval [start, end)."""

    label: str
    start: datetime
    end: datetime
    first_day: date
    last_day: date


def parse_month(value: str) -> Month:
    """``2026-11`` as a :class:`Month`; a 422 naming ``month`` for anything else."""
    match = _MONTH.fullmatch(value or "")
    if not match:
        raise invalid("month", "must be a month like 2026-11")
    year, month = int(match[1]), int(match[2])
    nxt = (year + 1, 1) if month == 12 else (year, month + 1)
    start = datetime(year, month, 1, tzinfo=_AMSTERDAM)
    end = datetime(*nxt, 1, tzinfo=_AMSTERDAM)
    return Month(label=value, start=start.astimezone(UTC), end=end.astimezone(UTC),
                 first_day=start.date(), last_day=date.fromordinal(end.date().toordinal() - 1))


def suppress(value: int | float | None, basis: int | None = None) -> int | float | str | None:
    """A count as it may be published: under five becomes ``"<5"``. For a median,
    ``basis`` is the number of cases it is taken over."""
    n = value if basis is None else basis
    if n is None:
        return None
    if n < THRESHOLD:
        return SUPPRESSED
    return value


def monthly_counts(*, session: Session, month: Month) -> list[dict[str, Any]]:
    """The unsuppressed counts per (wijk, partner kind) for ``month``; use :func:`export`
    for anything that leaves the hub."""
    signals = list(session.scalars(select(OutreachSignal).where(
        OutreachSignal.received_at >= month.start, OutreachSignal.received_at < month.end)))
    attempts = list(session.scalars(select(OutreachAttempt).where(
        OutreachAttempt.attempted_on >= month.first_day,
        OutreachAttempt.attempted_on <= month.last_day)))
    case_ids = {s.case_id for s in signals} | {a.case_id for a in attempts}
    cases = {c.id: c for c in session.scalars(select(OutreachCase).where(or_(
        OutreachCase.id.in_(case_ids),
        (OutreachCase.opened_at >= month.start) & (OutreachCase.opened_at < month.end),
        (OutreachCase.closed_at >= month.start) & (OutreachCase.closed_at < month.end))))}
    kinds_of: dict[str, set[str]] = defaultdict(set)
    for link in session.scalars(select(OutreachSignal).where(
            OutreachSignal.case_id.in_(list(cases)))):
        kinds_of[link.case_id].add(link.partner_kind)

    first_attempt: dict[str, date] = {}
    for case_id, on in session.execute(select(OutreachAttempt.case_id,
                                              OutreachAttempt.attempted_on)
                                       .where(OutreachAttempt.case_id.in_(list(cases)))):
        first_attempt[case_id] = min(on, first_attempt.get(case_id, on))

    groups = sorted({(c.wijk, k) for c in cases.values() for k in kinds_of[c.id]}
                    | {(c.wijk, ALL_KINDS) for c in cases.values()})
    rows = []
    for wijk, kind in groups:
        def in_group(case_id: str, wijk: str = wijk, kind: str = kind) -> bool:
            case = cases[case_id]
            return case.wijk == wijk and (kind == ALL_KINDS or kind in kinds_of[case_id])

        sig = [s for s in signals if in_group(s.case_id)
               and (kind == ALL_KINDS or s.partner_kind == kind)]
        sig_cases = {s.case_id for s in sig}
        att = [a for a in attempts if in_group(a.case_id)]
        households = {cases[c].household_id for c in sig_cases}
        first = {cases[c].household_id for c in sig_cases if cases[c].first_for_household
                 and month.start <= cases[c].opened_at < month.end}
        combined = {cases[c].household_id for c in sig_cases if len(kinds_of[c]) > 1}

        def households_with(results: frozenset[str], att: list = att) -> int:
            hit = {cases[a.case_id].household_id for a in att if a.result in results}
            hit |= {c.household_id for c in cases.values() if in_group(c.id)
                    and c.outcome in results and c.closed_at
                    and month.start <= c.closed_at < month.end}
            return len(hit)

        # From the day of the first signal to the day of the first attempt (as dated by
        # the regisseur, not when it was typed in), over the cases opened this month.
        days = [(first_attempt[c.id] - c.opened_at.astimezone(_AMSTERDAM).date()).days
                for c in cases.values() if in_group(c.id) and c.id in first_attempt
                and month.start <= c.opened_at < month.end]
        row: dict[str, Any] = {
            "month": month.label, "wijk": wijk, "partner_kind": kind,
            "signals_received": len(sig), "households": len(households),
            "households_first_signal": len(first),
            "households_combined_signals": len(combined)}
        for attempt_kind in KINDS:
            row[f"attempts_{attempt_kind}"] = sum(1 for a in att if a.kind == attempt_kind)
        row["households_reached"] = households_with(REACHED)
        row["households_help_accepted"] = households_with(frozenset({"help_accepted"}))
        row["households_referred_debt_help"] = households_with(
            frozenset({"referred_debt_help"}))
        row["median_days_to_first_attempt"] = (round(statistics.median(days), 1)
                                               if days else None)
        row["_median_basis"] = len(days)
        rows.append(row)
    return rows


def export(*, session: Session, month: Month) -> list[dict[str, Any]]:
    """The month's rows as they may be published: every count under five is ``"<5"``."""
    out = []
    for row in monthly_counts(session=session, month=month):
        basis = row.pop("_median_basis")
        published = {k: (suppress(v) if isinstance(v, int) and k not in ("month",) else v)
                     for k, v in row.items()}
        published["median_days_to_first_attempt"] = suppress(
            row["median_days_to_first_attempt"], basis) if basis else None
        out.append(published)
    return out


def as_csv(rows: list[dict[str, Any]]) -> str:
    """The rows as CSV with a header line (the :data:`COLUMNS`)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in COLUMNS})
    return buffer.getvalue()
