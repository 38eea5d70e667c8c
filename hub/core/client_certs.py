"""Partners' TLS client certificates, pinned by SHA-256 fingerprint.

The fingerprint is taken over the certificate's DER bytes (what
``openssl x509 -noout -fingerprint -sha256`` prints, colons removed, lower case).
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives import serialization

_HEX64 = re.compile(r"[0-9a-f]{64}")


def fingerprint_of_der(der: bytes) -> str:
    """The SHA-256 fingerprint (64 lower-case hex digits) of a DER certificate."""
    return hashlib.sha256(der).hexdigest()


def fingerprint_of_pem(pem: str) -> str:
    """The fingerprint of a PEM certificate; raises ValueError if it is not one."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise ValueError("is not a readable PEM certificate") from None
    return fingerprint_of_der(cert.public_bytes(serialization.Encoding.DER))


def parse_fingerprint(text: str) -> str:
    """Accept a fingerprint with or without colons, any case, or a PEM certificate;
    return the stored form. Raises ValueError saying what is wrong."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        return fingerprint_of_pem(text)
    compact = text.replace(":", "").lower()
    if not _HEX64.fullmatch(compact):
        raise ValueError("must be a SHA-256 fingerprint (64 hex digits) or a PEM certificate")
    return compact


def fingerprint_from_header(value: str) -> str | None:
    """The fingerprint of a certificate a TLS-terminating proxy passed in a header
    (URL-encoded PEM, as nginx's ``$ssl_client_escaped_cert``); None if unreadable."""
    try:
        return fingerprint_of_pem(unquote(value))
    except ValueError:
        return None
