"""``hub wmo check-terms``: flag Wmo requests whose legal term is about to run out."""

from __future__ import annotations

import argparse
import json

from hub.plugin import add_command, add_group, hub_context


def cmd_check_terms(args: argparse.Namespace) -> int:
    """Run the terms check once and print what it found as JSON (counts only)."""
    from plugins.sdd.config import WmoSettings
    from plugins.sdd.service import check_terms

    ctx = hub_context()
    warn_days = args.warn_days if args.warn_days is not None else WmoSettings().warn_days
    try:
        with ctx.sessions() as session:
            report = check_terms(session=session, ctx=ctx, now=ctx.clock(), warn_days=warn_days)
            session.commit()
    finally:
        ctx.dispose()
    print(json.dumps(report.as_json(), sort_keys=True))
    return 0


def register(sub) -> None:
    """Add ``hub wmo`` to the ``hub`` grammar."""
    wmo = add_group(sub, "wmo", "the Wmo desk: requests and their legal terms")
    check = add_command(wmo, "check-terms", cmd_check_terms,
                        "flag requests whose Wmo term runs out within the warning window "
                        "(schedule it, e.g. hourly)")
    check.add_argument("--warn-days", type=int, default=None, choices=range(0, 31),
                       metavar="N", help="working days before the term ends "
                                         "(default HUB_WMO_WARN_DAYS, 3)")
