"""Key material: data-encryption keys with ids, the pseudonym key and the dev issuer key.

Keys come from ``HUB_KEYS`` (JSON, for containers and secret stores) or from
``keys.json`` in the data directory, which the embedded default creates on
first use with owner-only permissions. A KMS can replace :class:`KeyRing`'s
source later: the rest of the hub only asks a ring for keys by id.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path


class KeyError_(RuntimeError):
    """The key material is missing or malformed."""


class KeyRing:
    """All keys the hub needs. ``data_keys`` maps key id to a 256-bit AES key.

    A plain class, not a dataclass: pretty-printers (pytest, hypothesis) print a
    dataclass field by field, and key material must never reach a report.
    """

    __slots__ = ("active_data_key", "data_keys", "pseudonym_key", "token_key")

    def __init__(self, *, data_keys: dict[str, bytes], active_data_key: str,
                 pseudonym_key: bytes, token_key: bytes) -> None:
        self.data_keys = dict(data_keys)
        self.active_data_key = active_data_key
        self.pseudonym_key = pseudonym_key
        self.token_key = token_key

    def __repr__(self) -> str:
        # Key ids only: a repr ends up in tracebacks and test output.
        return f"KeyRing(data_keys={sorted(self.data_keys)}, active={self.active_data_key!r})"

    def data_key(self, key_id: str) -> bytes:
        """Return the data key with this id, or raise if it is unknown."""
        try:
            return self.data_keys[key_id]
        except KeyError:
            raise KeyError_(f"unknown data key id {key_id!r}") from None


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
    }


def parse_key_document(doc: dict) -> KeyRing:
    """Turn a key document into a ring, refusing anything incomplete."""
    if not isinstance(doc, dict):
        raise KeyError_("key document must be a JSON object")
    if not isinstance(doc.get("data_keys", {}), dict):
        raise KeyError_("data_keys must be an object of key id to base64 key")
    try:
        data_keys = {kid: _unb64(v, f"data_keys.{kid}") for kid, v in doc["data_keys"].items()}
        active = doc["active_data_key"]
        ring = KeyRing(
            data_keys=data_keys,
            active_data_key=active,
            pseudonym_key=_unb64(doc["pseudonym_key"], "pseudonym_key"),
            token_key=_unb64(doc["token_key"], "token_key"),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise KeyError_(f"key document is incomplete: missing {exc}") from None
    ring.data_key(active)
    return ring


def load_keyring(keys_file: Path) -> KeyRing:
    """Load keys from ``HUB_KEYS`` or ``keys_file``; create the file if neither exists."""
    from_env = os.environ.get("HUB_KEYS")
    if from_env:
        return parse_key_document(_json(from_env, "HUB_KEYS"))
    if not keys_file.exists():
        keys_file.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting at once must not each write their own keys.
        try:
            fd = os.open(keys_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                json.dump(new_key_document(), fh)
    return parse_key_document(_json(keys_file.read_text(), str(keys_file)))


def _json(text: str, source: str) -> dict:
    try:
        return json.loads(text)
    except ValueError:
        # Not the decoder's message: it may quote the key material around the error.
        raise KeyError_(f"{source}: key document is not valid JSON") from None
