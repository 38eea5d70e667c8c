"""``hub representatives …``: who may act for a resident, in which capacity.

A regisseur or operator records a representation from the court decision or
the proof of parental authority (``--reference``), under their own name
(``--recorded-by``). Output is JSON with pseudonyms never shown: the id, the
capacity and the period.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime

from hub.cli.common import CommandError, add_command, add_group, hub_context


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{name} must be a date or time like 2026-03-03T09:00+01:00") from None
    if parsed.tzinfo is None:
        raise CommandError(f"{name} must include a time zone, e.g. 2026-03-03T00:00+01:00")
    return parsed


def _public(r) -> dict:
    return {"id": r.id, "capacity": r.capacity.value, "valid_from": r.valid_from.isoformat(),
            "valid_until": r.valid_until.isoformat() if r.valid_until else None,
            "ended_at": r.ended_at.isoformat() if r.ended_at else None,
            "recorded_by": r.recorded_by, "reference": r.reference}


def cmd_add(args: argparse.Namespace) -> int:
    """Record a representation and print it."""
    from consent.errors import ConsentError
    from hub.core.representatives import add_representative

    ctx = hub_context()
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        try:
            rep = add_representative(
                session=session, ctx=ctx, bsn=args.bsn, representative_bsn=args.representative_bsn,
                capacity=args.capacity, valid_from=_when(args.valid_from, "--from") or now,
                valid_until=_when(args.valid_until, "--until"), recorded_by=args.recorded_by,
                reference=args.reference, now=now)
        except ConsentError as exc:
            raise CommandError(f"{exc.field}: {exc.reason}") from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    print(json.dumps(_public(rep)))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """List the representations of a resident, ended ones too."""
    from consent import registry
    from hub.core.bsn import validate_bsn

    ctx = hub_context()
    try:
        subject = ctx.pseudonyms.subject(validate_bsn(args.bsn))
    except ValueError as exc:
        raise CommandError(f"--bsn {exc}") from None
    with ctx.sessions() as session:
        reps = registry.list_representations(session=session, subject=subject)
    print(json.dumps([_public(r) for r in reps]))
    return 0


def cmd_end(args: argparse.Namespace) -> int:
    """End a representation now; it stays on record."""
    from consent import registry

    ctx = hub_context()
    with ctx.sessions() as session, session.begin():
        try:
            rep = registry.end_representation(session=session, representation_id=args.id,
                                              now=ctx.clock())
        except registry.RepresentationNotFound:
            raise CommandError(f"no representation with id {args.id!r}") from None
    print(json.dumps(_public(rep)))
    return 0


def register(sub) -> None:
    """Add this module's commands to the ``hub`` grammar."""
    group = add_group(sub, "representatives", "who may act for a resident")
    add = add_command(group, "add", cmd_add, "record a representative of a resident")
    add.add_argument("--bsn", required=True, help="the resident who is represented")
    add.add_argument("--representative-bsn", required=True)
    add.add_argument("--capacity", required=True,
                     choices=["parent", "guardian", "curator", "mentor", "bewindvoerder"])
    add.add_argument("--from", dest="valid_from", default=None, help="default: now")
    add.add_argument("--until", dest="valid_until", default=None,
                     help="default: open-ended (a parent or guardian: until the resident is 18)")
    add.add_argument("--recorded-by", required=True, help="the professional recording it")
    add.add_argument("--reference", required=True,
                     help="the court decision or document it rests on")
    lst = add_command(group, "list", cmd_list, "list a resident's representatives")
    lst.add_argument("--bsn", required=True)
    end = add_command(group, "end", cmd_end, "end a representation now")
    end.add_argument("id")
