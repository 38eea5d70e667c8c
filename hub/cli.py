"""The ``hub`` command. Every sub-command reads the same settings (``HUB_DATA_DIR`` etc.)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from hub.settings import Settings

log = logging.getLogger("hub")


def _context(settings: Settings | None = None):
    from hub.core.context import build_context
    from hub.core.migrate import upgrade

    ctx = build_context(settings or Settings())
    upgrade(ctx.engine)
    return ctx


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the API and the in-process worker until interrupted."""
    import uvicorn

    from hub.app import create_app

    ctx = _context()
    app = create_app(ctx)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=False)
    return 0


def cmd_db_upgrade(_args: argparse.Namespace) -> int:
    """Apply the migrations to the configured database."""
    _context()
    print("database is up to date")
    return 0


def cmd_plugins(_args: argparse.Namespace) -> int:
    """List each loaded plugin with the message types it serves."""
    from hub.core.plugins import load_plugins

    for entry in load_plugins().describe():
        types = ", ".join(entry["message_types"]) or "(no message types)"
        print(f"{entry['name']:<20} {types}")
    return 0


def cmd_partner_add(args: argparse.Namespace) -> int:
    """Register a partner and print its id and API key (shown only this once)."""
    from hub.core.identity import add_partner

    ctx = _context()
    kinds = {k for mt in ctx.plugins.catalog.types.values() for k in mt.partner_kinds}
    if args.kind not in kinds:
        print(f"error: no plugin serves partners of kind {args.kind!r}; "
              f"known kinds: {', '.join(sorted(kinds))}", file=sys.stderr)
        return 2
    with ctx.sessions() as session, session.begin():
        try:
            partner, api_key = add_partner(session=session, name=args.name, kind=args.kind,
                                           endpoint=args.endpoint, now=ctx.clock())
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(json.dumps({"id": partner.id, "name": partner.name, "kind": partner.kind,
                      "api_key": api_key}))
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    """Print a development bearer token for a regisseur or a resident."""
    from hub.core.bsn import validate_bsn
    from hub.core.identity import issue_token

    settings = Settings()
    # Checked before anything is built: in production this command touches nothing.
    if settings.env == "production":
        print("error: the development issuer is switched off when HUB_ENV=production",
              file=sys.stderr)
        return 2
    ctx = _context(settings)
    if args.role == "regisseur":
        if args.team not in ctx.wijkmap.wijken:
            print(f"error: unknown wijk {args.team!r}; known: "
                  f"{', '.join(sorted(ctx.wijkmap.wijken))}", file=sys.stderr)
            return 2
        token = issue_token(ctx, role="regisseur", user=args.user, wijk=args.team)
    else:
        try:
            bsn = validate_bsn(args.bsn)
        except ValueError as exc:
            print(f"error: --bsn {exc}", file=sys.stderr)
            return 2
        token = issue_token(ctx, role="resident", user=args.user or "bewoner",
                            subject=ctx.pseudonyms.subject(bsn))
    print(token)
    return 0


def cmd_residents_import(args: argparse.Namespace) -> int:
    """Import residents from a CSV file; report lines refused by number and field."""
    from hub.core.residents import import_residents

    ctx = _context()
    with open(args.file, encoding="utf-8-sig", newline="") as fh, \
            ctx.sessions() as session, session.begin():
        try:
            result = import_residents(session=session, ctx=ctx, stream=fh)
        except ValueError as exc:
            print(f"error: {args.file}: {exc}", file=sys.stderr)
            return 2
    for line, field, reason in result.errors:
        print(f"line {line}: {field} {reason}", file=sys.stderr)
    print(json.dumps({"imported": result.imported, "updated": result.updated,
                      "rejected": len(result.errors)}))
    return 0 if not result.errors else 1


def cmd_demo(args: argparse.Namespace) -> int:
    """Walk the demo story on a fresh data directory."""
    from hub.demo import run_demo

    return run_demo(data_dir=args.data_dir)


def build_parser() -> argparse.ArgumentParser:
    """The command-line grammar of ``hub``."""
    parser = argparse.ArgumentParser(prog="hub", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str,
            parent=sub) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    serve = add("serve", cmd_serve, "run the API and the embedded worker")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)

    db = sub.add_parser("db", help="database maintenance").add_subparsers(dest="db_command",
                                                                           required=True)
    add("upgrade", cmd_db_upgrade, "apply the migrations", db)

    add("plugins", cmd_plugins, "list loaded plugins and their message types")

    partner = sub.add_parser("partner", help="manage partners").add_subparsers(
        dest="partner_command", required=True)
    padd = add("add", cmd_partner_add, "register a partner and print its API key", partner)
    padd.add_argument("--name", required=True)
    padd.add_argument("--kind", required=True)
    padd.add_argument("--endpoint", default=None, help="the partner's own API, for outbound")

    token = sub.add_parser("token", help="development tokens").add_subparsers(
        dest="role", required=True)
    treg = add("regisseur", cmd_token, "a token for a regisseur of a wijk", token)
    treg.add_argument("--team", required=True, help="wijk slug, e.g. crabbehof")
    treg.add_argument("--user", required=True)
    tres = add("resident", cmd_token, "a token for a resident", token)
    tres.add_argument("--bsn", required=True)
    tres.add_argument("--user", default=None)

    residents = sub.add_parser("residents", help="the resident registry").add_subparsers(
        dest="residents_command", required=True)
    rimp = add("import", cmd_residents_import,
               "import residents (bsn,name,birthdate,postcode,huisnummer)", residents)
    rimp.add_argument("file", type=Path)

    demo = add("demo", cmd_demo, "walk the demo story on a fresh data directory")
    demo.add_argument("--data-dir", type=Path, default=None,
                      help="an empty directory to use (default: a new temporary one)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hub`` console script."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = build_parser().parse_args(argv)
    from consent.policy import PolicyError
    from hub.core.coherence import ConfigurationError
    from hub.core.keys import KeyError_
    from hub.core.plugins import PluginError
    from hub.core.wijkmap import WijkMapError

    try:
        return args.func(args)
    except FileNotFoundError as exc:
        print(f"error: {exc.filename}: file not found", file=sys.stderr)
        return 2
    except (PolicyError, WijkMapError, PluginError, ConfigurationError, KeyError_) as exc:
        # A configuration mistake is the operator's to fix: one clear line, no traceback.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        problems = "; ".join(f"HUB_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
                             for e in exc.errors())
        print(f"error: configuration: {problems}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
