"""Finding, loading and calling plugins.

Built-in partners and third parties load through one path: the
``wijkhub.plugins`` entry-point group. ``HUB_DISABLED_PLUGINS`` (comma-separated
names) switches plugins off; ``HUB_TRACE_PLUGINS=1`` logs hook names and
timings, never arguments: they carry residents' data.
"""

from __future__ import annotations

import functools
import importlib.metadata
import logging
import os
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pluggy

from consent import explain
from hub import PROJECT_NAME
from hub.core import hookspecs
from hub.core.types import (
    CsvFormat,
    ItemStatusEvent,
    MessageType,
    OutboundEnvelope,
    OutboundMessage,
    OutboundRequest,
    PartnerInfo,
)

ENTRY_POINT_GROUP = "wijkhub.plugins"
log = logging.getLogger(__name__)


class PluginError(RuntimeError):
    """The set of plugins is inconsistent (a clash, a misspelled hook)."""


@dataclass(frozen=True)
class Catalog:
    """Everything the loaded plugins serve, indexed for the core."""

    types: dict[str, MessageType]
    csv_formats: dict[str, CsvFormat]

    def type(self, name: str) -> MessageType | None:
        """The message type with this name, or None if no plugin serves it."""
        return self.types.get(name)

    def csv_format_for(self, kind: str) -> CsvFormat | None:
        """The CSV batch format a partner of this kind uploads, if any."""
        for fmt in self.csv_formats.values():
            if kind in fmt.partner_kinds:
                return fmt
        return None


class Plugins:
    """Typed wrappers around ``pm.hook``: the rest of the hub never touches pluggy."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.catalog = Catalog(types={}, csv_formats={})
        self.refresh()

    def _collect(self, hook_name: str) -> list[tuple[str, list]]:
        results = []
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            try:
                answer = impl.function()
            except Exception as exc:
                # One partner's broken plugin must not take the others down. The type
                # only: no traceback in a log line (issue 5).
                log.error("plugin %s failed in %s: %s", impl.plugin_name, hook_name,
                          type(exc).__name__)
                continue
            results.append((impl.plugin_name, list(answer or [])))
        return results

    def refresh(self) -> None:
        """Re-read what every registered plugin serves (after registering one)."""
        types: dict[str, MessageType] = {}
        owners: dict[str, str] = {}
        for plugin, declared in self._collect("wijkhub_message_types"):
            for mt in declared:
                if mt.name in types:
                    raise PluginError(
                        f"message type {mt.name!r} is declared by both "
                        f"{owners[mt.name]!r} and {plugin!r}"
                    )
                types[mt.name] = mt
                owners[mt.name] = plugin
        plan_kinds = sorted({kind for _plugin, kinds in self._collect("wijkhub_plan_partner_kinds")
                             for kind in kinds})
        if plan_kinds:
            # One owner for plan.agreement whatever kinds take part in plans (issue 17).
            from hub.core.plan_agreement import plan_agreement_type

            mt = plan_agreement_type(tuple(plan_kinds))
            if mt.name in types:
                raise PluginError(f"message type {mt.name!r} is the core's, but "
                                  f"{owners[mt.name]!r} declares it too")
            types[mt.name] = mt
            owners[mt.name] = "core"
        formats: dict[str, CsvFormat] = {}
        for _plugin, declared in self._collect("wijkhub_csv_formats"):
            for fmt in declared:
                if fmt.message_type not in types:
                    raise PluginError(f"CSV format for unknown type {fmt.message_type!r}")
                formats[fmt.message_type] = fmt
        self.catalog = Catalog(types=types, csv_formats=formats)
        self._owners = owners
        for mt in types.values():
            # The texts for residents and regisseurs name fields in the plugin's words.
            explain.add_field_words(mt.labels)

    def routers(self) -> list[Any]:
        """Every plugin's FastAPI routers, for the app to include."""
        return [router for _plugin, routers in self._collect("wijkhub_routers")
                for router in routers]

    def outbound_request(self, *, envelope: OutboundEnvelope,
                         partner: PartnerInfo) -> OutboundRequest | None:
        """The HTTP request a plugin shapes for this outbound message, or None (the default).

        A plugin's exception is not caught: the delivery attempt fails and is retried.
        """
        return self.pm.hook.wijkhub_outbound_request(envelope=envelope, partner=partner)

    def item_status_changed(self, *, event: ItemStatusEvent, session: Any = None,
                            ctx: Any = None) -> list[OutboundMessage]:
        """What every plugin wants sent when an inbound message's status changed.

        Each implementation gets the arguments it names (``event``, ``session``,
        ``ctx``). A failing plugin is logged (its error type only) and skipped: the
        regisseur's action must not fail because one partner's status-back could not
        be built.
        """
        offered = {"event": event, "session": session, "ctx": ctx}
        answers: list[OutboundMessage] = []
        for impl in self.pm.hook.wijkhub_item_status_changed.get_hookimpls():
            try:
                kwargs = {name: offered[name] for name in impl.argnames}
                answers.extend(impl.function(**kwargs) or [])
            except Exception as exc:
                log.error("plugin %s failed in wijkhub_item_status_changed: %s",
                          impl.plugin_name, type(exc).__name__)
        return answers

    def describe(self) -> list[dict[str, object]]:
        """Each loaded plugin with the message types it serves (for ``hub plugins``)."""
        out = []
        for name, plugin in sorted(self.pm.list_name_plugin(), key=lambda p: str(p[0])):
            # pluggy keeps a blocked (disabled) name with None as its plugin: not loaded.
            if plugin is None or plugin is hookspecs:
                continue
            served = sorted(t for t, owner in self._owners.items() if owner == name)
            out.append({"name": name, "module": getattr(plugin, "__name__", repr(plugin)),
                        "message_types": served})
        return out

    def message_received(self, *, session, ctx, message) -> None:
        """Let the plugins check and record a message just stored (``wijkhub_message_received``).

        Not isolated like the other hooks: a plugin refusing the message (a
        :class:`hub.core.errors.HubProblem`) must stop it, and the caller rolls back.
        """
        self.pm.hook.wijkhub_message_received(session=session, ctx=ctx, message=message)

    def audit_text(self, *, action: str, role: str, actor: str, partner_name: str | None,
                   when: str) -> str | None:
        """A plugin's Dutch sentence for one of its own audit actions, or None."""
        try:
            return self.pm.hook.wijkhub_audit_text(action=action, role=role, actor=actor,
                                                   partner_name=partner_name, when=when)
        except Exception as exc:
            # A broken plugin costs the resident one sentence, not the whole page.
            log.error("plugin failed in wijkhub_audit_text: %s", type(exc).__name__)
            return None

    def add_commands(self, subparsers) -> None:
        """Let every plugin add its ``hub`` command groups (``wijkhub_cli_commands``)."""
        self.pm.hook.wijkhub_cli_commands(subparsers=subparsers)

    def register(self, plugin: object, name: str | None = None) -> None:
        """Register a plugin object at run time (tests, embedding) and re-read the catalog."""
        self.pm.register(plugin, name=name)
        self.pm.check_pending()
        self.refresh()

    def unregister(self, name: str) -> None:
        """Remove a plugin registered with :meth:`register`."""
        self.pm.unregister(name=name)
        self.refresh()


def _trace(pm: pluggy.PluginManager) -> None:
    def before(hook_name, _impls, _kwargs):
        _start[hook_name] = time.perf_counter()

    def after(_outcome, hook_name, _impls, _kwargs):
        elapsed = time.perf_counter() - _start.pop(hook_name, time.perf_counter())
        log.info("hook %s took %.3f ms", hook_name, elapsed * 1000)

    _start: dict[str, float] = {}
    pm.add_hookcall_monitoring(before, after)


@functools.cache
def installed_plugins() -> tuple[importlib.metadata.EntryPoint, ...]:
    """The entry points of the plugin group, read once per process.

    Finding them reads the metadata of every installed distribution (about 20 ms);
    what is installed does not change while the process runs, and tests and tools
    build many hubs in one process.
    """
    return tuple(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def load_plugins(*, extra: tuple[ModuleType | object, ...] = (),
                 entry_points: bool = True) -> Plugins:
    """Load every plugin of the entry-point group, minus the disabled ones.

    A hook implementation that matches no spec (a misspelling) is an error here,
    not a silently ignored function.
    """
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    disabled_env = os.environ.get("HUB_DISABLED_PLUGINS", "")
    disabled = {name.strip() for name in disabled_env.split(",") if name.strip()}
    if entry_points:
        for name in disabled:
            pm.set_blocked(name)
        for entry_point in installed_plugins():
            if not pm.is_blocked(entry_point.name) and pm.get_plugin(entry_point.name) is None:
                pm.register(entry_point.load(), name=entry_point.name)
    for plugin in extra:
        pm.register(plugin)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(str(exc)) from exc
    if os.environ.get("HUB_TRACE_PLUGINS") == "1":
        _trace(pm)
    return Plugins(pm)
