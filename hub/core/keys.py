"""Key material: data-encryption keys with ids, and the pseudonym, audit and token keys.

Keys come from a :class:`~hub.core.key_provider.KeyProvider`: ``HUB_KEYS``
(JSON, for containers and secret stores) or ``keys.json`` in the data
directory, which the embedded default creates on first use with owner-only
permissions. A KMS can implement the provider later: the rest of the hub only
asks a ring for keys by id.

Data keys rotate (``hub keys rotate``): a new key is added and made active,
old keys stay until nothing is sealed with them (``hub keys retire``). The
pseudonym, token and audit keys never rotate this way: a pseudonym is the
resident's identity in every table, and changing its key would orphan them all.
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
from pathlib import Path
from typing import Any

from hub.core.key_provider import KeyProvider, key_provider

_KID = re.compile(r"^[A-Za-z0-9-]{1,32}$")
_NUMBERED = re.compile(r"^k(\d+)$")
_SINGLE_KEYS = ("pseudonym_key", "token_key", "audit_key")


class KeyError_(RuntimeError):
    """The key material is missing or malformed."""


class KeyRing:
    """All keys the hub needs. ``data_keys`` maps key id to a 256-bit AES key.

    A plain class, not a dataclass: pretty-printers (pytest, hypothesis) print a
    dataclass field by field, and key material must never reach a report.
    ``audit_key`` is the seed of the Ed25519 key that signs the audit chain head.
    """

    __slots__ = ("_lock", "active_data_key", "audit_key", "data_keys", "provider",
                 "pseudonym_key", "token_key")

    def __init__(self, *, data_keys: dict[str, bytes], active_data_key: str,
                 pseudonym_key: bytes, token_key: bytes, audit_key: bytes | None = None,
                 provider: KeyProvider | None = None) -> None:
        self.data_keys = dict(data_keys)
        self.active_data_key = active_data_key
        self.pseudonym_key = pseudonym_key
        self.token_key = token_key
        self.audit_key = audit_key
        self.provider = provider
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        # Key ids only: a repr ends up in tracebacks and test output.
        return f"KeyRing(data_keys={sorted(self.data_keys)}, active={self.active_data_key!r})"

    def data_key(self, key_id: str) -> bytes:
        """Return the data key with this id, or raise if it is unknown."""
        try:
            return self.data_keys[key_id]
        except KeyError:
            raise KeyError_(f"unknown data key id {key_id!r}") from None

    def refresh(self) -> bool:
        """Re-read the data keys from the provider; True if the ring has a provider.

        Only data keys and the active id are taken over: a source whose pseudonym,
        token or audit key differs from the running ones is refused, because that
        would silently split the hub's identities.
        """
        if self.provider is None:
            return False
        with self._lock:
            fresh = parse_key_document(self.provider.read())
            for name in _SINGLE_KEYS:
                if getattr(fresh, name) != getattr(self, name):
                    raise KeyError_(f"{self.provider.description}: {name} differs from the "
                                    "one this process started with; restart to change it")
            # Keys first, then the active id: a reader never sees an active id without its key.
            self.data_keys = {**self.data_keys, **fresh.data_keys}
            self.active_data_key = fresh.active_data_key
        return True

    def refresh_if_changed(self) -> None:
        """Re-read the ring when its source changed (one ``stat`` for a file)."""
        if self.provider is not None and self.provider.changed():
            self.refresh()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    if not isinstance(text, str):
        raise KeyError_(f"{what} must be a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise KeyError_(f"{what} is not valid base64") from None
    if len(raw) != 32:
        raise KeyError_(f"{what} must be 32 bytes, got {len(raw)}")
    return raw


def new_key_document() -> dict:
    """Make fresh random keys, in the JSON shape of ``keys.json`` and ``HUB_KEYS``."""
    return {
        "active_data_key": "k1",
        "data_keys": {"k1": _b64(secrets.token_bytes(32))},
        "pseudonym_key": _b64(secrets.token_bytes(32)),
        "token_key": _b64(secrets.token_bytes(32)),
        "audit_key": _b64(secrets.token_bytes(32)),
    }


def parse_key_document(doc: dict, *, provider: KeyProvider | None = None) -> KeyRing:
    """Turn a key document into a ring, refusing anything incomplete or reused."""
    if not isinstance(doc, dict):
        raise KeyError_("key document must be a JSON object")
    if not isinstance(doc.get("data_keys", {}), dict):
        raise KeyError_("data_keys must be an object of key id to base64 key")
    try:
        for kid in doc["data_keys"]:
            if not _KID.match(kid):
                raise KeyError_(f"data key id {kid!r} must be 1-32 letters, digits or '-'")
        data_keys = {kid: _unb64(v, f"data_keys.{kid}") for kid, v in doc["data_keys"].items()}
        active = doc["active_data_key"]
        ring = KeyRing(
            data_keys=data_keys,
            active_data_key=active,
            pseudonym_key=_unb64(doc["pseudonym_key"], "pseudonym_key"),
            token_key=_unb64(doc["token_key"], "token_key"),
            audit_key=_unb64(doc["audit_key"], "audit_key"),
            provider=provider,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise KeyError_(f"key document is incomplete: missing {exc}") from None
    ring.data_key(active)
    # One key, one job: the pseudonym key (HMAC) must never double as a data key,
    # so losing one never gives away the other.
    singles = [getattr(ring, name) for name in _SINGLE_KEYS]
    if len({*singles, *data_keys.values()}) != len(singles) + len(data_keys):
        raise KeyError_("every key must be different: pseudonym_key, token_key, audit_key "
                        "and each data key")
    return ring


def load_keyring(keys_file: Path) -> KeyRing:
    """Load keys from ``HUB_KEYS`` or ``keys_file``; create the file if neither exists.

    A file written before the audit log existed gets its audit key added once.
    """
    provider = key_provider(keys_file)
    doc = provider.read()
    if isinstance(doc, dict) and "audit_key" not in doc and provider.writable:
        with provider.locked():
            doc = provider.read()
            if "audit_key" not in doc:
                doc["audit_key"] = _b64(secrets.token_bytes(32))
                provider.write(doc)
            doc = provider.read()
    return parse_key_document(doc, provider=provider)


def next_key_id(data_keys: dict[str, Any]) -> str:
    """``k<n+1>`` after the highest numbered id."""
    numbers = [int(m.group(1)) for kid in data_keys if (m := _NUMBERED.match(kid))]
    return f"k{max(numbers, default=0) + 1}"


def rotate_data_key(provider: KeyProvider) -> tuple[str, str]:
    """Add a fresh data key and make it the one new data is sealed with.

    Returns (previous active id, new id). Old keys stay: what they sealed still
    opens until ``hub keys reencrypt`` has sealed it again under the new key.
    """
    with provider.locked():
        doc = provider.read()
        parse_key_document(doc)
        old = doc["active_data_key"]
        new = next_key_id(doc["data_keys"])
        doc["data_keys"][new] = _b64(secrets.token_bytes(32))
        doc["active_data_key"] = new
        parse_key_document(doc)
        provider.write(doc)
    return old, new


def retire_data_key(provider: KeyProvider, key_id: str, *, in_use: int) -> None:
    """Remove a data key that nothing is sealed with any more (``in_use`` must be 0)."""
    with provider.locked():
        doc = provider.read()
        if key_id not in doc.get("data_keys", {}):
            raise KeyError_(f"unknown data key id {key_id!r}")
        if doc["active_data_key"] == key_id:
            raise KeyError_(f"{key_id!r} is the active data key; rotate first")
        if in_use:
            raise KeyError_(f"{in_use} ciphertexts still use {key_id!r}; "
                            "run 'hub keys reencrypt' first")
        del doc["data_keys"][key_id]
        parse_key_document(doc)
        provider.write(doc)
