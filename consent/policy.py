"""The legal bases per message type, read from a TOML file a municipality can edit.

The file is validated strictly: a policy that is incoherent (a typo in a
statute key, a statute type without its minimal fields, ...) is refused as a
whole with a :class:`PolicyError` naming the exact place, because a silently
ignored line in a legal policy would mean data flows nobody decided on.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from consent.model import CATEGORIES

__all__ = [
    "CATEGORIES",
    "DEFAULT_POLICY_SOURCE",
    "OutreachRules",
    "Policy",
    "PolicyError",
    "SafetyBasis",
    "Statute",
    "TypePolicy",
    "load_policy",
    "parse_policy",
]

DEFAULT_POLICY_SOURCE = "consent/default_policy.toml"

_TOP_KEYS = frozenset({"statutes", "safety", "types", "outreach"})
_OUTREACH_KEYS = frozenset({"statute", "window_days", "first_contact_days"})
_STATUTE_KEYS = frozenset({"title", "enabled", "retention_days"})
_SAFETY_KEYS = frozenset({"title", "enabled", "withhold_from_resident", "review_days",
                          "withhold_reason"})
_REASON_CODE = re.compile(r"[a-z][a-z0-9-]{0,63}")
_TYPE_KEYS = frozenset({"category", "statute", "safety", "minimal_fields"})
# A safety basis (meldrecht) is for reports about someone's safety only.
SAFETY_CATEGORY = "veiligheid"
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names file, place and reason.

    ``where`` is the dotted TOML path of the offending value (e.g.
    ``types."signal.arrears.rent".statute``), empty for the file as a whole.
    """

    def __init__(self, source: str, where: str, problem: str) -> None:
        self.source = source
        self.where = where
        self.problem = problem
        place = f"{where}: " if where else ""
        super().__init__(f"{source}: {place}{problem}")


@dataclass(frozen=True)
class Statute:
    """A law that lets some message types through without consent."""

    key: str
    title: str
    enabled: bool
    retention_days: int


@dataclass(frozen=True)
class SafetyBasis:
    """A safety basis (e.g. Veilig Thuis' meldrecht): the whole report, marked confidential.

    ``withhold_from_resident``: reports on this basis are kept out of the resident's
    own overview (while that protects a child or a victim), recorded with
    ``withhold_reason`` and reviewed by a team lead every ``review_days``.
    """

    key: str
    title: str
    enabled: bool
    withhold_from_resident: bool = False
    review_days: int | None = None
    withhold_reason: str | None = None


@dataclass(frozen=True)
class TypePolicy:
    """The category and the optional statute or safety basis of one message type."""

    type: str
    category: str
    statute: str | None
    minimal_fields: tuple[str, ...]
    safety: str | None = None


@dataclass(frozen=True)
class OutreachRules:
    """How early-signalling signals become one outreach case per household (issue 16).

    Signals whose type has ``statute`` (the vroegsignalering statute) join the
    household's open case while it is at most ``window_days`` old; the first
    contact attempt is due ``first_contact_days`` after the case opened.
    """

    statute: str = "wgs"
    window_days: int = 7
    first_contact_days: int = 5


@dataclass(frozen=True)
class Policy:
    """A validated, read-only policy: statutes by key and message types by name."""

    statutes: Mapping[str, Statute]
    types: Mapping[str, TypePolicy]
    safety: Mapping[str, SafetyBasis] = dataclasses.field(default_factory=dict)
    outreach: OutreachRules = dataclasses.field(default_factory=OutreachRules)

    def __post_init__(self) -> None:
        # Read-only views, so a policy shared between threads cannot be
        # changed behind the engine's back.
        object.__setattr__(self, "statutes", MappingProxyType(dict(self.statutes)))
        object.__setattr__(self, "types", MappingProxyType(dict(self.types)))
        object.__setattr__(self, "safety", MappingProxyType(dict(self.safety)))

    def for_type(self, type: str) -> TypePolicy | None:
        """Return the policy of a message type, or None if the type is not listed."""
        return self.types.get(type)

    def statute_of(self, type_policy: TypePolicy) -> Statute | None:
        """Return the statute a type refers to, or None if it has none."""
        if type_policy.statute is None:
            return None
        return self.statutes.get(type_policy.statute)

    def safety_of(self, type_policy: TypePolicy) -> SafetyBasis | None:
        """Return the safety basis a type refers to, or None if it has none."""
        if type_policy.safety is None:
            return None
        return self.safety.get(type_policy.safety)

    def with_statute_enabled(self, key: str, enabled: bool) -> Policy:
        """Return a copy with one statute switched on or off; self is unchanged.

        Raises PolicyError if the statute is not defined, so a typo in a
        setting cannot leave early signalling switched on unnoticed.
        """
        if key not in self.statutes:
            raise PolicyError("setting", f"statutes.{_quote(key)}", "unknown statute")
        statutes = dict(self.statutes)
        statutes[key] = dataclasses.replace(statutes[key], enabled=enabled)
        return Policy(statutes=statutes, types=self.types, safety=self.safety,
                      outreach=self.outreach)


def load_policy(path: Path | None = None) -> Policy:
    """Read and validate a policy file; None reads the packaged default.

    Raises PolicyError if the file is incoherent; OSError if it cannot be read.
    """
    if path is None:
        return _default_policy()
    return parse_policy(Path(path).read_text(encoding="utf-8"), source=str(path))


@functools.cache
def _default_policy() -> Policy:
    # Parsed once per process: the packaged file cannot change, and a Policy is read-only.
    text = resources.files("consent").joinpath("default_policy.toml").read_text("utf-8")
    return parse_policy(text, source=DEFAULT_POLICY_SOURCE)


def parse_policy(text: str, *, source: str) -> Policy:
    """Parse and validate policy TOML; ``source`` names the file in error messages.

    Returns a Policy only if the whole file is coherent, else raises PolicyError.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message already says "(at line N, column M)".
        raise PolicyError(source, "", f"not valid TOML: {exc}") from exc

    _no_unknown_keys(source, "", data, _TOP_KEYS)
    statutes_raw = _table(source, "statutes", data.get("statutes", {}))
    safety_raw = _table(source, "safety", data.get("safety", {}))
    types_raw = _table(source, "types", data.get("types", {}))

    statutes = {key: _parse_statute(source, key, value) for key, value in statutes_raw.items()}
    safety = {key: _parse_safety(source, key, value) for key, value in safety_raw.items()}
    types = {
        name: _parse_type(source, name, value, statutes, safety)
        for name, value in types_raw.items()
    }
    outreach = _parse_outreach(source, data["outreach"], statutes) if "outreach" in data \
        else OutreachRules()
    return Policy(statutes=statutes, types=types, safety=safety, outreach=outreach)


def _parse_outreach(source: str, raw: Any, statutes: Mapping[str, Statute]) -> OutreachRules:
    table = _table(source, "outreach", raw)
    _no_unknown_keys(source, "outreach", table, _OUTREACH_KEYS)
    defaults = OutreachRules()
    statute = table.get("statute", defaults.statute)
    if not isinstance(statute, str) or statute not in statutes:
        raise PolicyError(source, "outreach.statute", f'unknown statute "{statute}"')
    days = {}
    for key, upper in (("window_days", 90), ("first_contact_days", 60)):
        value = table.get(key, getattr(defaults, key))
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= upper:
            raise PolicyError(source, f"outreach.{key}",
                              f"must be a whole number of days from 1 to {upper}")
        days[key] = value
    return OutreachRules(statute=statute, **days)


def _titled_entry(source: str, section: str, what: str, key: str, raw: Any,
                  allowed: frozenset[str]) -> tuple[str, dict[str, Any], str, bool]:
    """The parts every legal basis entry shares: a key, a table of known keys, a
    non-empty ``title`` and an ``enabled`` switch. Returns (where, table, title, enabled)."""
    where = f"{section}.{_quote(key)}"
    if not key.strip():
        raise PolicyError(source, where, f"{what} key is empty")
    table = _table(source, where, raw)
    _no_unknown_keys(source, where, table, allowed)

    title = _required(source, where, table, "title")
    if not isinstance(title, str) or not title.strip():
        raise PolicyError(source, f"{where}.title", "must be a non-empty string")

    enabled = _required(source, where, table, "enabled")
    if not isinstance(enabled, bool):
        raise PolicyError(source, f"{where}.enabled", "must be true or false")
    return where, table, title.strip(), enabled


def _parse_statute(source: str, key: str, raw: Any) -> Statute:
    where, table, title, enabled = _titled_entry(source, "statutes", "statute", key, raw,
                                                 _STATUTE_KEYS)
    retention = _required(source, where, table, "retention_days")
    # bool is a subclass of int in Python; "retention_days = true" is a mistake.
    if isinstance(retention, bool) or not isinstance(retention, int) or retention <= 0:
        raise PolicyError(source, f"{where}.retention_days", "must be a positive whole number")
    return Statute(key=key, title=title, enabled=enabled, retention_days=retention)


def _parse_safety(source: str, key: str, raw: Any) -> SafetyBasis:
    where, table, title, enabled = _titled_entry(source, "safety", "safety basis", key, raw,
                                                 _SAFETY_KEYS)
    withhold = table.get("withhold_from_resident", False)
    if not isinstance(withhold, bool):
        raise PolicyError(source, f"{where}.withhold_from_resident", "must be true or false")
    if not withhold:
        for extra in ("review_days", "withhold_reason"):
            if extra in table:
                # A review period for nothing withheld would suggest a protection that
                # is never applied.
                raise PolicyError(source, f"{where}.{extra}",
                                  "only allowed with withhold_from_resident = true")
        return SafetyBasis(key=key, title=title, enabled=enabled)
    # Withholding something from a resident is never open-ended: it is reviewed.
    review = _required(source, where, table, "review_days")
    if isinstance(review, bool) or not isinstance(review, int) or not 0 < review <= 366:
        raise PolicyError(source, f"{where}.review_days",
                          "must be a whole number of days from 1 to 366")
    reason = _required(source, where, table, "withhold_reason")
    if not isinstance(reason, str) or not _REASON_CODE.fullmatch(reason):
        raise PolicyError(source, f"{where}.withhold_reason",
                          "must be a code of lowercase letters, digits and dashes")
    return SafetyBasis(key=key, title=title, enabled=enabled, withhold_from_resident=True,
                       review_days=review, withhold_reason=reason)


def _parse_type(
    source: str,
    name: str,
    raw: Any,
    statutes: Mapping[str, Statute],
    safety_bases: Mapping[str, SafetyBasis],
) -> TypePolicy:
    where = f"types.{_quote(name)}"
    if not name.strip():
        raise PolicyError(source, where, "message type name is empty")
    table = _table(source, where, raw)
    _no_unknown_keys(source, where, table, _TYPE_KEYS)

    category = _required(source, where, table, "category")
    if not isinstance(category, str) or category not in CATEGORIES:
        known = ", ".join(sorted(CATEGORIES))
        raise PolicyError(
            source, f"{where}.category", f'unknown category "{category}" (known: {known})'
        )

    statute = table.get("statute")
    if statute is not None:
        if not isinstance(statute, str):
            raise PolicyError(source, f"{where}.statute", "must be a string")
        if statute not in statutes:
            raise PolicyError(source, f"{where}.statute", f'unknown statute "{statute}"')

    safety = table.get("safety")
    if safety is not None:
        if not isinstance(safety, str):
            raise PolicyError(source, f"{where}.safety", "must be a string")
        if safety not in safety_bases:
            raise PolicyError(source, f"{where}.safety", f'unknown safety basis "{safety}"')
        if statute is not None:
            # Two bases that say different things about the fields: the
            # municipality must choose one.
            raise PolicyError(source, f"{where}.safety", "a type has a statute or a safety "
                              "basis, not both")
        if category != SAFETY_CATEGORY:
            raise PolicyError(source, f"{where}.safety",
                              f'a safety basis only applies to category "{SAFETY_CATEGORY}"')

    fields = _minimal_fields(source, where, table, has_statute=statute is not None)
    return TypePolicy(type=name, category=category, statute=statute, minimal_fields=fields,
                      safety=safety)


def _minimal_fields(
    source: str, where: str, table: Mapping[str, Any], *, has_statute: bool
) -> tuple[str, ...]:
    place = f"{where}.minimal_fields"
    if "minimal_fields" not in table:
        if has_statute:
            # A statute without a field list would pass everything: the law
            # only ever allows the fields it names.
            raise PolicyError(source, place, "missing: a type with a statute must name its fields")
        return ()
    if not has_statute:
        # Without a statute only consent applies, and consent delivers the
        # whole message; minimal fields here would suggest a limit that is
        # never applied.
        raise PolicyError(source, place, "only allowed on a type with a statute")
    raw = table["minimal_fields"]
    if not isinstance(raw, list) or not raw:
        raise PolicyError(source, place, "must be a non-empty list of field names")
    for item in raw:
        if not isinstance(item, str) or not item.strip():
            raise PolicyError(source, place, "every field name must be a non-empty string")
    if len(set(raw)) != len(raw):
        raise PolicyError(source, place, "a field name is listed twice")
    return tuple(raw)


def _table(source: str, where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PolicyError(source, where, "must be a table")
    return value


def _required(source: str, where: str, table: Mapping[str, Any], key: str) -> Any:
    if key not in table:
        raise PolicyError(source, f"{where}.{key}", "missing")
    return table[key]


def _no_unknown_keys(
    source: str, where: str, table: Mapping[str, Any], allowed: frozenset[str]
) -> None:
    for key in table:
        if key not in allowed:
            place = f"{where}.{_quote(key)}" if where else _quote(key)
            raise PolicyError(source, place, f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _quote(key: str) -> str:
    # Write keys the way TOML would need them, so the place in an error can
    # be searched for in the file.
    if _BARE_KEY.fullmatch(key):
        return key
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
