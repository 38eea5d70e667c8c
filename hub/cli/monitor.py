"""``hub monitor export``: the month's early-signalling counts (issue 16), CSV or JSON."""

from __future__ import annotations

import argparse
import json

from hub.cli.common import CommandError, add_command, add_group, hub_context


def cmd_monitor_export(args: argparse.Namespace) -> int:
    """Print the month's counts per wijk and partner kind; counts under five print ``<5``."""
    from hub.core.errors import HubProblem
    from hub.core.monitor import as_csv, export, parse_month

    try:
        month = parse_month(args.month)
    except HubProblem as exc:
        raise CommandError(f"--month {exc.problems[0].reason}") from None
    ctx = hub_context()
    with ctx.sessions() as session:
        rows = export(session=session, month=month)
    if args.format == "json":
        print(json.dumps({"month": month.label, "suppressed_below": 5, "rows": rows},
                         ensure_ascii=False, indent=2))
    else:
        print(as_csv(rows), end="")
    return 0


def register(sub) -> None:
    """Add this module's commands to the ``hub`` grammar."""
    monitor = add_group(sub, "monitor", "the monthly monitor of early signalling")
    export = add_command(monitor, "export", cmd_monitor_export,
                         "counts per wijk and partner kind for one month (cells under 5: <5)")
    export.add_argument("--month", required=True, help="the month, like 2026-11")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
