"""``hub household …`` and ``hub withholdings …``: designated regisseurs and withheld reports.

``hub household assign --bsn BSN --user NAME`` makes NAME the designated
regisseur of the household the resident with that BSN belongs to (issue 7).
The BSN is only validated (python-stdnum's elfproef) and turned into the
pseudonym the registry is keyed by: it is never printed, logged or stored.
Output is JSON: the household id, its wijk and its regisseur before and now.
"""

from __future__ import annotations

import argparse
import json

from hub.cli.common import CommandError, add_command, add_group, hub_context


def cmd_assign(args: argparse.Namespace) -> int:
    """Designate the regisseur of a resident's household and print the household."""
    from hub.core.audit import cli_actor
    from hub.core.bsn import validate_bsn
    from hub.core.errors import HubProblem
    from hub.core.households import designate, household_of_subject, valid_user

    try:
        bsn = validate_bsn(args.bsn)
    except ValueError as exc:
        raise CommandError(f"--bsn {exc}") from None
    try:
        user = valid_user(args.user, "--user")
    except HubProblem as exc:
        raise CommandError(exc.detail) from None
    ctx = hub_context()
    subject = ctx.pseudonyms.subject(bsn)
    with ctx.sessions() as session, session.begin():
        household = household_of_subject(session=session, subject=subject)
        if household is None:
            raise CommandError("--bsn: no resident with this BSN in the registry "
                               "(hub residents import)")
        done = designate(session=session, ctx=ctx, household=household, user=user,
                         now=ctx.clock(), **cli_actor())
    print(json.dumps({"household_id": done.household_id, "wijk": done.wijk,
                      "regisseur": done.regisseur, "previous": done.previous,
                      "moved_items": done.moved_items}))
    return 0


def cmd_withheld(args: argparse.Namespace) -> int:
    """List withholdings (ids, dates, reason codes; no resident, no content) as JSON."""
    from hub.api.withholdings import _public
    from hub.core.withholding import list_withholdings

    ctx = hub_context()
    now = ctx.clock()
    if args.wijk is not None and args.wijk not in ctx.wijkmap.wijken:
        raise CommandError(f"--wijk: unknown wijk {args.wijk!r}")
    with ctx.sessions() as session:
        total, rows = list_withholdings(session=session, wijk=args.wijk, status=args.status,
                                        now=now, limit=10_000, offset=0)
        items = [_public(r, now).model_dump(mode="json") for r in rows]
    print(json.dumps({"total": total, "items": items}))
    return 0


def register(sub) -> None:
    """Add this module's commands to the ``hub`` grammar."""
    group = add_group(sub, "household", "households and their designated regisseur")
    assign = add_command(group, "assign", cmd_assign,
                         "designate the regisseur of a resident's household")
    assign.add_argument("--bsn", required=True, help="a resident of the household")
    assign.add_argument("--user", required=True, help="the regisseur's user id")
    wgroup = add_group(sub, "withholdings", "reports kept out of residents' overviews")
    lst = add_command(wgroup, "list", cmd_withheld, "withholdings to review, due first")
    lst.add_argument("--status", default="active",
                     choices=["active", "review_due", "ended", "all"])
    lst.add_argument("--wijk", default=None, help="one wijk only")
