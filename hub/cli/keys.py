"""``hub keys …``: rotating the data keys without downtime, and seeing what uses which."""

from __future__ import annotations

import argparse
import json

from hub.cli.common import CommandError, add_command, add_group, hub_context


def _audit(ctx, action: str, data: dict) -> None:
    from hub.core.audit import cli_actor, record_event

    with ctx.sessions() as session, session.begin():
        record_event(session, ctx=ctx, action=action, data=data, **cli_actor())


def cmd_keys_rotate(_args: argparse.Namespace) -> int:
    """Add a data key and make it active; running hubs pick it up from the keys file."""
    from hub.core.key_provider import KeysReadOnly
    from hub.core.keys import rotate_data_key

    ctx = hub_context()
    try:
        previous, active = rotate_data_key(ctx.keys.provider)
    except KeysReadOnly as exc:
        raise CommandError(str(exc)) from None
    ctx.keys.refresh()
    _audit(ctx, "admin.keys.rotate", {"previous": previous, "active": active})
    print(json.dumps({"previous": previous, "active": active,
                      "next": "run 'hub keys reencrypt' to re-seal older data"}))
    return 0


def cmd_keys_reencrypt(args: argparse.Namespace) -> int:
    """Re-seal every ciphertext under the active key, in short batches, while the hub runs."""
    from hub.core.reencrypt import reencrypt_all

    if args.batch_size < 1:
        raise CommandError("--batch-size must be at least 1")
    ctx = hub_context()
    progress = reencrypt_all(ctx=ctx, batch_size=args.batch_size)
    _audit(ctx, "admin.keys.reencrypt", {"active": ctx.keys.active_data_key,
                                         "resealed": progress.resealed,
                                         "failed": progress.failed})
    print(json.dumps({"active": ctx.keys.active_data_key, "resealed": progress.resealed,
                      "failed": progress.failed}))
    return 0 if not progress.failed else 1


def cmd_keys_status(_args: argparse.Namespace) -> int:
    """How many stored ciphertexts each data key sealed."""
    from hub.core.reencrypt import key_usage

    ctx = hub_context()
    with ctx.sessions() as session:
        usage = key_usage(session=session, ctx=ctx)
    print(json.dumps({"active": ctx.keys.active_data_key, "ciphertexts": usage,
                      "source": ctx.keys.provider.description if ctx.keys.provider else None}))
    return 0


def cmd_keys_retire(args: argparse.Namespace) -> int:
    """Remove a data key from the keys file once nothing is sealed with it."""
    from hub.core.key_provider import KeysReadOnly
    from hub.core.keys import KeyError_, retire_data_key
    from hub.core.reencrypt import key_usage

    ctx = hub_context()
    with ctx.sessions() as session:
        in_use = key_usage(session=session, ctx=ctx).get(args.key_id, 0)
    try:
        retire_data_key(ctx.keys.provider, args.key_id, in_use=in_use)
    except (KeysReadOnly, KeyError_) as exc:
        raise CommandError(str(exc)) from None
    _audit(ctx, "admin.keys.retire", {"retired": args.key_id})
    print(json.dumps({"retired": args.key_id}))
    return 0


def register(sub) -> None:
    """Add this module's commands to the ``hub`` grammar."""
    keys = add_group(sub, "keys", "data-encryption keys")
    add_command(keys, "rotate", cmd_keys_rotate, "add a data key and make it the active one")
    reenc = add_command(keys, "reencrypt", cmd_keys_reencrypt,
                        "re-seal older ciphertexts under the active key (safe while serving)")
    reenc.add_argument("--batch-size", type=int, default=500)
    add_command(keys, "status", cmd_keys_status, "ciphertexts per data key")
    retire = add_command(keys, "retire", cmd_keys_retire,
                         "remove a data key nothing uses any more")
    retire.add_argument("key_id")
