"""``hub token …``: bearer tokens from the development issuer (refused in production)."""

from __future__ import annotations

import argparse

from hub.cli.common import CommandError, add_command, hub_context
from hub.settings import Settings


def cmd_token(args: argparse.Namespace) -> int:
    """Print a development bearer token for a regisseur, team lead, resident or operator."""
    from hub.core.bsn import validate_bsn
    from hub.core.identity import issue_token

    settings = Settings()
    # Checked before anything is built: outside development this command touches nothing.
    if settings.env == "production":
        raise CommandError("development tokens need HUB_ENV=development (one machine, never "
                           "real residents); in production staff and residents log in "
                           "through HUB_OIDC_ISSUER")
    ctx = hub_context(settings)
    if args.role in ("regisseur", "teamlead"):
        if args.team not in ctx.wijkmap.wijken:
            raise CommandError(f"unknown wijk {args.team!r}; known: "
                               f"{', '.join(sorted(ctx.wijkmap.wijken))}")
        token = issue_token(ctx, role=args.role, user=args.user, wijk=args.team)
    elif args.role == "operator":
        token = issue_token(ctx, role="operator", user=args.user)
    else:
        subject = _resident_subject(ctx, args)
        represented = []
        for other in args.represents:
            try:
                represented.append(ctx.pseudonyms.subject(validate_bsn(other)))
            except ValueError as exc:
                raise CommandError(f"--represents {exc}") from None
        token = issue_token(ctx, role="resident", user=args.user or "bewoner",
                            subject=subject, represents=tuple(represented))
    print(token)
    return 0


def _resident_subject(ctx, args: argparse.Namespace) -> str:
    """The resident's pseudonym: from ``--bsn``, or found in the registry by name and address."""
    from hub.core.bsn import validate_bsn
    from hub.core.residents import match_subject

    if args.bsn is not None:
        try:
            return ctx.pseudonyms.subject(validate_bsn(args.bsn))
        except ValueError as exc:
            raise CommandError(f"--bsn {exc}") from None
    if not (args.name and args.postcode and args.huisnummer):
        raise CommandError("give --bsn, or --name with --postcode and --huisnummer")
    from hub.core.address import normalize_huisnummer, normalize_postcode

    try:
        postcode, huisnummer = (normalize_postcode(args.postcode),
                                normalize_huisnummer(args.huisnummer))
    except ValueError as exc:
        raise CommandError(f"--postcode/--huisnummer: {exc}") from None
    with ctx.sessions() as session:
        match = match_subject(session=session, ctx=ctx, subject=None, name=args.name,
                              birthdate=None, postcode=postcode, huisnummer=huisnummer)
    if match.method != "name+address":
        # Never echo the name: the operator typed it, the log need not keep it.
        raise CommandError("no single resident in the registry with that name at that address "
                           "(import residents with `hub residents import`)")
    return match.subject


def register(sub) -> None:
    """Add this module's commands to the ``hub`` grammar."""
    parser = sub.add_parser("token", help="development tokens", description="development tokens")
    token = parser.add_subparsers(dest="role", required=True)
    treg = add_command(token, "regisseur", cmd_token, "a token for a regisseur of a wijk")
    treg.add_argument("--team", required=True, help="wijk slug, e.g. crabbehof")
    treg.add_argument("--user", required=True)
    tlead = add_command(token, "teamlead", cmd_token,
                        "a token for a team lead of a wijk (reads the inbox)")
    tlead.add_argument("--team", required=True, help="wijk slug, e.g. crabbehof")
    tlead.add_argument("--user", required=True)
    tres = add_command(token, "resident", cmd_token, "a token for a resident")
    # The BSN, or (as in `hub demo`, which never prints BSNs) a resident of the registry
    # found by name and address.
    tres.add_argument("--bsn", default=None)
    tres.add_argument("--name", default=None, help="with --postcode and --huisnummer, "
                      "instead of --bsn: a resident found in the registry")
    tres.add_argument("--postcode", default=None)
    tres.add_argument("--huisnummer", default=None)
    tres.add_argument("--user", default=None)
    tres.add_argument("--represents", action="append", default=[], metavar="BSN",
                      help="a person this resident acts for (repeatable)")
    top = add_command(token, "operator", cmd_token, "a token for an operator of the hub")
    top.add_argument("--user", required=True)
