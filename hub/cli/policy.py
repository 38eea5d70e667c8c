"""``hub policy check FILE``: validate a legal-basis policy file before it is used."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hub.cli.common import add_command, add_group


def cmd_policy_check(args: argparse.Namespace) -> int:
    """Validate a policy file exactly as the hub does at start; exit 0 or 2 with the reason.

    The checks are the hub's own: the file on its own (``consent.policy``) and
    against the loaded plugins (a type's category must match its plugin's).
    An incoherent file raises PolicyError or ConfigurationError, which ``hub``
    prints as one line and exits 2.
    """
    from consent.policy import load_policy
    from hub.core.coherence import check_policy_matches_plugins
    from hub.core.plugins import load_plugins

    policy = load_policy(args.file)
    check_policy_matches_plugins(policy, load_plugins().catalog)
    print(json.dumps({"file": str(args.file), "ok": True,
                      "statutes": sorted(policy.statutes), "safety": sorted(policy.safety),
                      "types": sorted(policy.types)}))
    return 0


def register(sub) -> None:
    """Add this module's commands to the ``hub`` grammar."""
    policy = add_group(sub, "policy", "the legal-basis policy file")
    check = add_command(policy, "check", cmd_policy_check,
                        "validate a policy file (exit 0, or 2 with the reason)")
    check.add_argument("file", type=Path)
