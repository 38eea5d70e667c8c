"""Requests signed with a partner's Ed25519 key: what is signed, and how it is checked.

The partner signs, with its private Ed25519 key, the UTF-8 bytes of::

    wijkhub-sig-v1\\n<METHOD>\\n<path?query>\\n<timestamp>\\n<sha256 of the body, hex>

and sends ``X-Hub-Timestamp: <timestamp>`` (Unix seconds, an integer) and
``X-Hub-Signature: <base64 of the 64-byte signature>`` beside its API key.
``<path?query>`` is the request target exactly as sent (``/api/v1/messages``,
or ``/api/v1/batches/…``); an empty body hashes as the empty string. A
timestamp further than ``HUB_SIGNATURE_WINDOW_SECONDS`` from the hub's clock
is refused, so a captured request cannot be replayed later; within the window
a replay of a message is answered with the same id and stored nothing twice
(the ``source_ref`` idempotency).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SCHEME = "wijkhub-sig-v1"
SIGNATURE_HEADER = "x-hub-signature"
TIMESTAMP_HEADER = "x-hub-timestamp"


class SignatureRefused(Exception):
    """A signed request that does not verify; ``field`` names the header at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def signing_input(*, method: str, target: str, timestamp: str, body: bytes) -> bytes:
    """The exact bytes a partner signs (see the module docstring)."""
    return "\n".join((SCHEME, method.upper(), target, timestamp,
                      hashlib.sha256(body).hexdigest())).encode()


def sign(private_key: Ed25519PrivateKey, *, method: str, target: str, timestamp: int,
         body: bytes) -> dict[str, str]:
    """The two headers a partner adds to a request: a reference for partners and tests."""
    data = signing_input(method=method, target=target, timestamp=str(timestamp), body=body)
    return {"X-Hub-Timestamp": str(timestamp),
            "X-Hub-Signature": base64.b64encode(private_key.sign(data)).decode()}


def parse_public_key(text: str) -> str:
    """Accept a PEM public key or base64 of the 32 raw bytes; return the stored form
    (base64 of the raw bytes). Raises ValueError saying what is wrong."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(text.encode())
        except ValueError:
            raise ValueError("is not a readable PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("must be an Ed25519 public key")
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("must be a PEM public key or base64 of 32 bytes") from None
        if len(raw) != 32:
            raise ValueError("must be an Ed25519 public key of 32 bytes")
    return base64.b64encode(raw).decode()


def verify_request(*, public_key: str, method: str, target: str,
                   headers: dict[str, str], body: bytes, now: datetime,
                   window_seconds: int) -> None:
    """Check a request's signature and timestamp; raises :class:`SignatureRefused`."""
    timestamp = headers.get(TIMESTAMP_HEADER)
    signature = headers.get(SIGNATURE_HEADER)
    if not timestamp:
        raise SignatureRefused(TIMESTAMP_HEADER, "is required: this partner signs its requests")
    if not signature:
        raise SignatureRefused(SIGNATURE_HEADER, "is required: this partner signs its requests")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureRefused(TIMESTAMP_HEADER, "must be Unix seconds (an integer)")
    if abs(int(timestamp) - now.timestamp()) > window_seconds:
        raise SignatureRefused(TIMESTAMP_HEADER,
                               f"is more than {window_seconds} seconds from the hub's clock")
    try:
        raw_signature = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureRefused(SIGNATURE_HEADER, "must be base64") from None
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key))
    data = signing_input(method=method, target=target, timestamp=timestamp, body=body)
    try:
        key.verify(raw_signature, data)
    except InvalidSignature:
        raise SignatureRefused(SIGNATURE_HEADER, "does not match the request") from None
