"""``hub retention run``: remove statute-based data past its retention limit, and report it."""

from __future__ import annotations

import argparse
import json

from hub.cli.common import add_command, add_group, hub_context


def cmd_retention_run(args: argparse.Namespace) -> int:
    """Run retention once and print a JSON report of what was removed per message type."""
    from hub.core.retention import run_retention

    ctx = hub_context()
    with ctx.sessions() as session:
        report = run_retention(session=session, ctx=ctx, now=ctx.clock(), dry_run=args.dry_run)
        if not args.dry_run:
            session.commit()
    print(json.dumps(report.as_json(), sort_keys=True))
    return 0


def register(sub) -> None:
    """Add this module's commands to the ``hub`` grammar."""
    retention = add_group(sub, "retention", "remove data past its retention limit")
    run = add_command(retention, "run", cmd_retention_run,
                      "reduce statute-based items past the policy's limit to audit stubs")
    run.add_argument("--dry-run", action="store_true",
                     help="report what would be removed; change nothing")
