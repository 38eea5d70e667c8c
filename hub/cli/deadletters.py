"""``hub dead-letters list|replay``: the operator's view of work that failed for good."""

from __future__ import annotations

import argparse
import json

from hub.cli.common import CommandError, add_command, add_group, hub_context


def cmd_list(args: argparse.Namespace) -> int:
    """Print one JSON object per dead letter (ids, reason, attempts; never message data)."""
    from hub.core import deadletters

    ctx = hub_context()
    replayed = {"open": False, "replayed": True, "all": None}[args.status]
    with ctx.sessions() as session:
        rows, total = deadletters.list_dead(session=session, replayed=replayed,
                                            limit=args.limit, offset=0)
    for d in rows:
        print(json.dumps({"id": d.id, "source": d.source, "task": d.task,
                          "message_id": d.message_id, "reason": d.reason,
                          "attempts": d.attempts, "dead_at": d.dead_at.isoformat(),
                          "replayed_at": d.replayed_at and d.replayed_at.isoformat()}))
    print(f"{len(rows)} of {total} dead letters ({args.status})")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Queue dead letters again; each is decided anew against the consent of now."""
    from sqlalchemy import select

    from hub.core import deadletters
    from hub.core.audit import cli_actor, record_event
    from hub.core.models import Message

    ctx = hub_context()
    for dead_id in args.ids:
        with ctx.sessions() as session, session.begin():
            try:
                dead = deadletters.replay(session=session, dead_letter_id=dead_id,
                                          now=ctx.clock())
            except deadletters.ReplayRefused as exc:
                raise CommandError(f"dead letter {dead_id}: {exc}") from None
            if dead is None:
                raise CommandError(f"dead letter {dead_id}: not found")
            subject = (session.scalar(select(Message.subject)
                                      .where(Message.id == dead.message_id))
                       if dead.message_id else None)
            record_event(session, ctx=ctx, action="dead_letter.replay", **cli_actor(),
                         subject=subject, data={"dead_letter_id": dead.id,
                                                "message_id": dead.message_id})
        print(f"dead letter {dead_id}: message {dead.message_id} requeued")
    return 0


def register(sub) -> None:
    """Add this module's commands to the ``hub`` grammar."""
    group = add_group(sub, "dead-letters", "list and replay work that failed for good")
    lst = add_command(group, "list", cmd_list, "list dead letters, oldest first")
    lst.add_argument("--status", choices=("open", "replayed", "all"), default="open")
    lst.add_argument("--limit", type=int, default=100)
    rep = add_command(group, "replay", cmd_replay, "queue dead letters again by id")
    rep.add_argument("ids", nargs="+", type=int, metavar="ID")
