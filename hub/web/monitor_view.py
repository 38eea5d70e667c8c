"""The monitor's section on ``/beheer`` (issue 16): the month's counts and a bar chart.

The same numbers as ``hub monitor export`` (:func:`hub.core.monitor.export`), already
suppressed: a count under five shows as "<5" and its bar is drawn as a stub, so the
chart cannot be read more precisely than the table. Inline SVG, no scripts, no CDN.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from hub.core.errors import HubProblem
from hub.core.monitor import ALL_KINDS, SUPPRESSED, Month, export, parse_month

CHART_W, ROW_H, LABEL_W, PAD = 720, 34, 190, 8
#: The columns the section shows, with the Dutch heading an operator reads.
SHOWN = (("signals_received", "signalen"), ("households", "huishoudens"),
         ("households_first_signal", "voor het eerst"),
         ("households_combined_signals", "gecombineerd"),
         ("households_reached", "bereikt"), ("households_help_accepted", "hulp aanvaard"),
         ("households_referred_debt_help", "naar schuldhulp"),
         ("median_days_to_first_attempt", "dagen tot eerste poging (mediaan)"))


def chosen_month(value: str | None, now: datetime) -> Month:
    """The month asked for (``?maand=2026-11``), or the current one when none or invalid."""
    try:
        return parse_month(value or "")
    except HubProblem:
        return parse_month(f"{now.year:04d}-{now.month:02d}")


def section(*, session: Session, ctx: Any, month: Month) -> dict[str, Any]:
    """Rows per wijk (all partner kinds together), rows per partner kind, and the chart."""
    rows = export(session=session, month=month)
    for row in rows:
        row["wijk_name"] = ctx.wijkmap.name(row["wijk"])
    wijken = [r for r in rows if r["partner_kind"] == ALL_KINDS]
    kinds = [r for r in rows if r["partner_kind"] != ALL_KINDS]
    numbers = [r["households"] for r in wijken if isinstance(r["households"], int)]
    top = max([*numbers, 1])
    bars = []
    for index, row in enumerate(wijken):
        value = row["households"]
        width = (CHART_W - LABEL_W - 2 * PAD) * value / top if isinstance(value, int) else 6
        bars.append({"y": PAD + index * ROW_H, "w": round(width, 1), "label": row["wijk_name"],
                     "text": str(value), "suppressed": value == SUPPRESSED})
    return {"month": month.label, "wijken": wijken, "kinds": kinds, "columns": SHOWN,
            "chart": {"w": CHART_W, "h": max(1, len(wijken)) * ROW_H + 2 * PAD,
                      "label_w": LABEL_W, "row_h": ROW_H, "bars": bars}}
