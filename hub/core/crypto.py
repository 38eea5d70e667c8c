"""Encryption at rest (AES-GCM with key ids) and BSN pseudonyms (keyed HMAC)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.core.keys import KeyError_, KeyRing

_VERSION = "v1"
log = logging.getLogger(__name__)


class DecryptionError(RuntimeError):
    """A ciphertext could not be opened: wrong key, wrong context, or tampered."""


class Cipher:
    """Seals and opens JSON documents; every ciphertext names the key that sealed it."""

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring

    def seal(self, document: Any, *, context: str) -> str:
        """Encrypt a JSON-able document, bound to ``context`` (e.g. the row id).

        Binding to the context (as AES-GCM associated data) means a ciphertext
        copied into another row does not open there.
        """
        return self.seal_many([(document, context)])[0]

    def seal_many(self, documents: list[tuple[Any, str]]) -> list[str]:
        """:meth:`seal` for many ``(document, context)`` pairs, in their order.

        Each document gets its own nonce and is bound to its own context, exactly
        as sealed one by one; the key ring is checked and the key set up once for
        the list (a CSV batch's chunk), not once per document.
        """
        try:
            # Another process may have rotated: seal under the newest active key.
            self._ring.refresh_if_changed()
        except (KeyError_, OSError) as exc:
            # A key source that cannot be read now must not stop the hub: the keys it
            # holds are still valid. The type only: the error may quote key material.
            log.warning("key ring not refreshed: %s", type(exc).__name__)
        kid = self._ring.active_data_key
        aead = AESGCM(self._ring.data_key(kid))
        sealed = []
        for document, context in documents:
            nonce = secrets.token_bytes(12)
            plain = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
            body = base64.b64encode(nonce + aead.encrypt(nonce, plain, context.encode()))
            sealed.append(f"{_VERSION}.{kid}.{body.decode('ascii')}")
        return sealed

    def open(self, token: str, *, context: str) -> Any:
        """Decrypt what :meth:`seal` made for the same context.

        A key id this process does not know yet (another process rotated) makes it
        re-read its ring once before giving up.
        """
        try:
            version, kid, body = token.split(".", 2)
            raw = base64.b64decode(body)
            if version != _VERSION:
                raise ValueError(version)
            if kid not in self._ring.data_keys:
                self._ring.refresh()
            plain = AESGCM(self._ring.data_key(kid)).decrypt(raw[:12], raw[12:], context.encode())
        except Exception as exc:  # any failure is the same answer: it does not open
            raise DecryptionError("ciphertext does not open") from exc
        return json.loads(plain)

    @staticmethod
    def key_id(token: str) -> str | None:
        """The id of the key that sealed ``token``, or None if it is no ciphertext of ours."""
        parts = token.split(".", 2)
        return parts[1] if len(parts) == 3 and parts[0] == _VERSION else None

    @property
    def active_key_id(self) -> str:
        """The key new data is sealed with."""
        return self._ring.active_data_key


class Pseudonymizer:
    """Keyed hashes: the same BSN always gives the same pseudonym, without the key no BSN."""

    def __init__(self, ring: KeyRing) -> None:
        self._key = ring.pseudonym_key
        self._derived: dict[str, bytes] = {}

    def _mac(self, domain: str, value: str) -> str:
        # The domain keeps a BSN pseudonym from ever equalling an address key.
        return hmac.new(self._key, f"{domain}:{value}".encode(), hashlib.sha256).hexdigest()

    def subject(self, bsn: str) -> str:
        """The pseudonym of a (valid, compact) BSN."""
        return self._mac("bsn", bsn)

    def key_for(self, purpose: str) -> bytes:
        """A key derived for one purpose, so one use of the pseudonym key never equals another."""
        # Derived once per purpose (a CSV batch asks for it on every line).
        key = self._derived.get(purpose)
        if key is None:
            key = hmac.new(self._key, f"derive:{purpose}".encode(), hashlib.sha256).digest()
            self._derived[purpose] = key
        return key

    def address(self, postcode: str, huisnummer: str) -> str:
        """A lookup key for an address, so addresses need not be stored in clear."""
        return self._mac("address", f"{postcode}|{huisnummer}")

    def name_key(self, normalised_name: str) -> str:
        """A lookup key for a whole normalised name (``search.normalize_name``): equal
        names, equal keys; a resident at an address is compared by it, not opened."""
        return self._mac("name", normalised_name)

    def search_token(self, field: str, word: str) -> str:
        """A lookup key for one normalised search word of ``field`` (``name``, ``street``,
        ``place``, ``postcode``, ``huisnummer``, ``adres``): equal words, equal tokens."""
        return self._mac(f"search:{field}", word)
