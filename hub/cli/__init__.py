"""The ``hub`` command. Every sub-command reads the same settings (``HUB_DATA_DIR`` etc.).

Each command group lives in its own module with a ``register(sub)`` function;
adding a group is adding its module to ``COMMAND_MODULES``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from hub.cli.common import CommandError

COMMAND_MODULES = (
    "hub.cli.server",
    "hub.cli.partners",
    "hub.cli.tokens",
    "hub.cli.residents",
    "hub.cli.worker",
    "hub.cli.deadletters",
    "hub.cli.audit",
    "hub.cli.keys",
    "hub.cli.policy",
    "hub.cli.retention",
    "hub.cli.representatives",
    "hub.cli.household",
    "hub.cli.batch",
    "hub.cli.monitor",
)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command-line grammar of ``hub``.

    With ``argv`` naming a core command (``hub residents import …``), the plugins'
    command groups are left out: loading the plugins costs most of a second, and
    the command builds the hub (plugins included) itself if it needs one. For
    ``hub --help``, a plugin's command or a mistake, every group is there.
    """
    parser = argparse.ArgumentParser(
        prog="hub", description="Wijkhub: the road between partners and the Sociaal wijkteam.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    if _first_word(argv) not in sub.choices:
        _plugin_commands(sub)
    return parser


def _first_word(argv: Sequence[str] | None) -> str | None:
    # The top-level parser has no option taking a value, so the first word is the command.
    words = sys.argv[1:] if argv is None else argv
    return next((word for word in words if not word.startswith("-")), None)


def _plugin_commands(sub) -> None:
    # Plugins add their own command groups (``hub wmo …``); the core names none of them.
    from hub.core.plugins import PluginError, load_plugins

    try:
        plugins = load_plugins()
    except PluginError:
        return  # the command that builds the hub reports it, with its exit code
    plugins.add_commands(sub)


def _configure_logging() -> None:
    # One place for every command's log format (HUB_LOG_FORMAT); a broken configuration
    # still gets text logs here and is reported by the command below.
    from hub.core.logsetup import configure_logging
    from hub.settings import Settings

    try:
        settings = Settings()
    except ValidationError:
        settings = None
    configure_logging(settings)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hub`` console script."""
    _configure_logging()
    args = build_parser(argv).parse_args(argv)
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
    except (CommandError, PolicyError, WijkMapError, PluginError, ConfigurationError,
            KeyError_) as exc:
        # A mistake the operator can fix: one clear line, no traceback.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        # A rule over several settings has no single location: its message names them.
        problems = "; ".join(
            (f"HUB_{'_'.join(map(str, e['loc'])).upper()}: " if e["loc"] else "")
            + e["msg"].removeprefix("Value error, ") for e in exc.errors())
        print(f"error: configuration: {problems}", file=sys.stderr)
        return 2
