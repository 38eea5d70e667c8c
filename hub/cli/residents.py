"""``hub residents …``: the registry the hub matches signals against."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hub.cli.common import CommandError, add_command, add_group, hub_context


def cmd_residents_import(args: argparse.Namespace) -> int:
    """Import residents from a CSV file; report lines refused by number and field."""
    from hub.core.audit import cli_actor, record_event
    from hub.core.residents import import_residents

    ctx = hub_context()
    with open(args.file, encoding="utf-8-sig", newline="") as fh, \
            ctx.sessions() as session, session.begin():
        try:
            result = import_residents(session=session, ctx=ctx, stream=fh)
        except ValueError as exc:
            raise CommandError(f"{args.file}: {exc}") from None
        record_event(session, ctx=ctx, action="admin.residents.import", **cli_actor(),
                     data={"imported": result.imported, "updated": result.updated,
                           "rejected": len(result.errors)})
    for line, field, reason in result.errors:
        print(f"line {line}: {field} {reason}", file=sys.stderr)
    print(json.dumps({"imported": result.imported, "updated": result.updated,
                      "rejected": len(result.errors)}))
    return 0 if not result.errors else 1


def register(sub) -> None:
    """Add this module's commands to the ``hub`` grammar."""
    residents = add_group(sub, "residents", "the resident registry")
    rimp = add_command(residents, "import", cmd_residents_import,
                       "import residents (bsn,name,birthdate,postcode,huisnummer)")
    rimp.add_argument("file", type=Path)
