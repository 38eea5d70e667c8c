"""``hub partner …``: registering the organisations that send messages, and their credentials."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path

from hub.cli.common import CommandError, add_command, add_group, hub_context


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise CommandError(f"{what} {path}: {exc.strerror or type(exc).__name__}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{what} {path}: not a text (PEM) file") from None


def _pins(args: argparse.Namespace) -> dict[str, str]:
    """The pinned proofs given on the command line, in their stored form."""
    from hub.core.client_certs import parse_fingerprint
    from hub.core.signatures import parse_public_key

    pins: dict[str, str] = {}
    try:
        if getattr(args, "public_key", None):
            pins["signing_key"] = parse_public_key(_read(args.public_key, "--public-key"))
    except ValueError as exc:
        raise CommandError(f"--public-key {exc}") from None
    try:
        if getattr(args, "client_cert", None):
            pins["cert_sha256"] = parse_fingerprint(_read(args.client_cert, "--client-cert"))
        elif getattr(args, "cert_sha256", None):
            pins["cert_sha256"] = parse_fingerprint(args.cert_sha256)
    except ValueError as exc:
        raise CommandError(f"--client-cert/--cert-sha256 {exc}") from None
    return pins


def _partner(session, name: str):
    from sqlalchemy import select

    from hub.core.models import Partner

    partner = session.scalar(select(Partner).where(Partner.name == name))
    if partner is None:
        raise CommandError(f"no partner named {name!r}")
    return partner


def _endpoint(value: str | None) -> str | None:
    """``--endpoint`` checked (an http(s) URL with a host), or None when not given."""
    from hub.core.endpoints import check_endpoint

    if value is None:
        return None
    try:
        return check_endpoint(value)
    except ValueError as exc:
        raise CommandError(f"--endpoint {exc}") from None


def cmd_partner_list(_args: argparse.Namespace) -> int:
    """Print one JSON object per partner: id, name, kind, endpoint, state; never a key."""
    from sqlalchemy import func, select

    from hub.core.models import Partner, PartnerKey

    ctx = hub_context()
    now = ctx.clock()
    with ctx.sessions() as session:
        active_keys = dict(session.execute(
            select(PartnerKey.partner_id, func.count()).where(
                PartnerKey.revoked_at.is_(None),
                (PartnerKey.expires_at.is_(None)) | (PartnerKey.expires_at > now))
            .group_by(PartnerKey.partner_id)).all())
        for partner in session.scalars(select(Partner).order_by(Partner.name)):
            print(json.dumps({"id": partner.id, "name": partner.name, "kind": partner.kind,
                              "endpoint": partner.endpoint, "active": partner.active,
                              "active_keys": active_keys.get(partner.id, 0),
                              "signed_requests": bool(partner.signing_key),
                              "client_certificate": bool(partner.cert_sha256)}))
    return 0


def cmd_partner_update(args: argparse.Namespace) -> int:
    """Change a partner's endpoint; then replay its dead letters (``hub dead-letters``)."""
    from hub.core.audit import cli_actor, record_event

    if args.endpoint is None and not args.clear_endpoint:
        raise CommandError("nothing to change: give --endpoint or --clear-endpoint")
    endpoint = None if args.clear_endpoint else _endpoint(args.endpoint)
    ctx = hub_context()
    with ctx.sessions() as session, session.begin():
        partner = _partner(session, args.name)
        partner.endpoint = endpoint
        record_event(session, ctx=ctx, action="admin.partner.update", **cli_actor(),
                     data={"partner_id": partner.id, "fields": ["endpoint"]})
    print(json.dumps({"id": partner.id, "name": partner.name, "kind": partner.kind,
                      "endpoint": partner.endpoint}))
    return 0


def cmd_partner_add(args: argparse.Namespace) -> int:
    """Register a partner and print its id and API key (shown only this once)."""
    from hub.core.audit import cli_actor, record_event
    from hub.core.partner_keys import add_partner, key_hasher

    ctx = hub_context()
    kinds = {k for mt in ctx.plugins.catalog.types.values() for k in mt.partner_kinds}
    if args.kind not in kinds:
        raise CommandError(f"no plugin serves partners of kind {args.kind!r}; "
                           f"known kinds: {', '.join(sorted(kinds))}")
    pins = _pins(args)
    endpoint = _endpoint(args.endpoint)
    with ctx.sessions() as session, session.begin():
        try:
            partner, api_key = add_partner(session=session, name=args.name, kind=args.kind,
                                           endpoint=endpoint, now=ctx.clock(),
                                           hasher=key_hasher(ctx.settings))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        for column, value in pins.items():
            setattr(partner, column, value)
        record_event(session, ctx=ctx, action="admin.partner.add", **cli_actor(),
                     data={"partner_id": partner.id, "kind": partner.kind})
    print(json.dumps({"id": partner.id, "name": partner.name, "kind": partner.kind,
                      "api_key": api_key, "signed_requests": bool(partner.signing_key),
                      "client_certificate": bool(partner.cert_sha256)}))
    return 0


def cmd_partner_rotate_key(args: argparse.Namespace) -> int:
    """Issue a new key (printed once); the partner's other keys stop after the grace period."""
    from hub.core.partner_keys import key_hasher, key_id_of, rotate_key

    if args.grace_hours < 0:
        raise CommandError("--grace-hours cannot be negative")
    ctx = hub_context()
    now = ctx.clock()
    grace = timedelta(hours=args.grace_hours)
    with ctx.sessions() as session, session.begin():
        partner = _partner(session, args.name)
        api_key = rotate_key(session=session, partner_id=partner.id, now=now, grace=grace,
                             hasher=key_hasher(ctx.settings))
    print(json.dumps({"id": partner.id, "name": partner.name, "api_key": api_key,
                      "key_id": key_id_of(api_key),
                      "old_keys_stop_at": (now + grace).isoformat()}))
    return 0


def cmd_partner_revoke_key(args: argparse.Namespace) -> int:
    """Revoke one key by id, or all keys of a partner, with immediate effect."""
    from hub.core.partner_keys import revoke_keys

    ctx = hub_context()
    with ctx.sessions() as session, session.begin():
        partner = _partner(session, args.name)
        count = revoke_keys(session=session, partner_id=partner.id, now=ctx.clock(),
                            key_id=None if args.all else args.key_id)
    if count == 0:
        raise CommandError(f"no active key {args.key_id!r} for {args.name!r}" if args.key_id
                           else f"{args.name!r} has no active keys")
    print(json.dumps({"id": partner.id, "name": partner.name, "revoked": count}))
    return 0


def cmd_partner_keys(args: argparse.Namespace) -> int:
    """List a partner's keys: id and dates, never the key or its hash."""
    from hub.core.partner_keys import list_keys

    ctx = hub_context()
    now = ctx.clock()
    with ctx.sessions() as session:
        partner = _partner(session, args.name)
        for key in list_keys(session=session, partner_id=partner.id):
            state = ("revoked" if key.revoked_at else
                     "expired" if key.expires_at and key.expires_at <= now else "active")
            print(json.dumps({"key_id": key.id, "state": state,
                              "created_at": key.created_at.isoformat(),
                              "expires_at": key.expires_at and key.expires_at.isoformat(),
                              "revoked_at": key.revoked_at and key.revoked_at.isoformat()}))
    return 0


def cmd_partner_pin(args: argparse.Namespace) -> int:
    """Pin (or clear) a partner's Ed25519 signing key and client-certificate fingerprint."""
    pins = _pins(args)
    if args.clear_public_key:
        pins["signing_key"] = None  # type: ignore[assignment]
    if args.clear_client_cert:
        pins["cert_sha256"] = None  # type: ignore[assignment]
    if not pins:
        raise CommandError("nothing to pin: give --public-key, --client-cert, --cert-sha256 "
                           "or a --clear-… option")
    ctx = hub_context()
    with ctx.sessions() as session, session.begin():
        partner = _partner(session, args.name)
        for column, value in pins.items():
            setattr(partner, column, value)
    print(json.dumps({"id": partner.id, "name": partner.name,
                      "signed_requests": bool(partner.signing_key),
                      "client_certificate": bool(partner.cert_sha256)}))
    return 0


def _pin_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--public-key", type=Path, default=None,
                        help="the partner's Ed25519 public key (PEM file): requests must "
                             "then be signed")
    cert = parser.add_mutually_exclusive_group()
    cert.add_argument("--client-cert", type=Path, default=None,
                      help="the partner's TLS client certificate (PEM file): pinned by "
                           "SHA-256 fingerprint")
    cert.add_argument("--cert-sha256", default=None,
                      help="the SHA-256 fingerprint of the partner's client certificate")


def register(sub) -> None:
    """Add this module's commands to the ``hub`` grammar."""
    partner = add_group(sub, "partner", "manage partners and their credentials")
    padd = add_command(partner, "add", cmd_partner_add,
                       "register a partner and print its API key")
    padd.add_argument("--name", required=True)
    padd.add_argument("--kind", required=True)
    padd.add_argument("--endpoint", default=None,
                      help="the partner's own API (https://…), for outbound")
    _pin_arguments(padd)

    add_command(partner, "list", cmd_partner_list,
                "list the partners: name, kind, endpoint, keys in use (never a key)")

    update = add_command(partner, "update", cmd_partner_update,
                         "change a partner's endpoint (then replay its dead letters)")
    update.add_argument("--name", required=True)
    where = update.add_mutually_exclusive_group()
    where.add_argument("--endpoint", default=None,
                       help="the partner's own API (https://…), for outbound")
    where.add_argument("--clear-endpoint", action="store_true",
                       help="no outbound to this partner")

    rotate = add_command(partner, "rotate-key", cmd_partner_rotate_key,
                         "issue a new API key; the old ones stop after the grace period")
    rotate.add_argument("--name", required=True)
    rotate.add_argument("--grace-hours", type=float, default=24.0,
                        help="how long the old keys keep working (default 24; 0: at once)")

    revoke = add_command(partner, "revoke-key", cmd_partner_revoke_key,
                         "revoke an API key at once")
    revoke.add_argument("--name", required=True)
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--key-id", default=None, help="the key id (whk_<key id>_…)")
    which.add_argument("--all", action="store_true", help="every key of the partner")

    keys = add_command(partner, "keys", cmd_partner_keys, "list a partner's API keys")
    keys.add_argument("--name", required=True)

    pin = add_command(partner, "pin", cmd_partner_pin,
                      "require a signature key and/or client certificate of a partner")
    pin.add_argument("--name", required=True)
    _pin_arguments(pin)
    pin.add_argument("--clear-public-key", action="store_true")
    pin.add_argument("--clear-client-cert", action="store_true")
