"""``hub audit …``: proving afterwards what happened to residents' data."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hub.cli.common import CommandError, add_command, add_group, hub_context


def _saved_head(path: Path | None) -> tuple[int, str] | None:
    if path is None:
        return None
    try:
        doc = json.loads(path.read_text())
        return int(doc["seq"]), str(doc["hash"])
    except (ValueError, KeyError, TypeError):
        raise CommandError(f"{path}: not a head saved by 'hub audit head'") from None


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Walk the audit chain: exit 0 when intact, 1 naming the first bad row."""
    from hub.core.audit import verify

    saved = _saved_head(args.saved_head)
    ctx = hub_context()
    with ctx.sessions() as session:
        verdict = verify(session, ctx.keys, saved_head=saved)
    if verdict.intact:
        print(f"audit log intact: {verdict.count} events, head {verdict.head_seq} signed")
        return 0
    where = f" at row {verdict.first_bad}" if verdict.first_bad is not None else ""
    print(f"audit log broken{where}: {verdict.reason}", file=sys.stderr)
    return 1


def cmd_audit_head(_args: argparse.Namespace) -> int:
    """Print the signed chain head and its public key, to keep outside the database."""
    from hub.core.audit import export_head

    ctx = hub_context()
    with ctx.sessions() as session:
        print(json.dumps(export_head(session, ctx.keys)))
    return 0


def register(sub) -> None:
    """Add this module's commands to the ``hub`` grammar."""
    audit = add_group(sub, "audit", "the audit log")
    verify = add_command(audit, "verify", cmd_audit_verify,
                         "check the hash chain and its signed head; name the first bad row")
    verify.add_argument("--saved-head", type=Path, default=None,
                        help="a head printed earlier by 'hub audit head': it must still be there")
    add_command(audit, "head", cmd_audit_head,
                "print the signed chain head, to keep outside the database")
