"""TLS served by ``hub serve`` itself, with optional client certificates (mTLS).

uvicorn verifies a client certificate against ``ssl_ca_certs`` when asked
(``ssl_cert_reqs``), but passes nothing of it to the application. This module's
protocol class takes the peer certificate from the TLS connection when it is
made and hands its SHA-256 fingerprint to every request on that connection, in
the ASGI scope's ``state`` (uvicorn copies its per-connection ``app_state``
into each request's scope). The app compares it with a partner's pinned
fingerprint (:func:`presented_fingerprint`).
"""

from __future__ import annotations

import ssl
from typing import Any

from starlette.requests import Request
from uvicorn.protocols.http.h11_impl import H11Protocol

from hub.core.client_certs import fingerprint_from_header, fingerprint_of_der
from hub.settings import Settings

STATE_KEY = "hub.client_cert_sha256"


class ClientCertH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus the client certificate's fingerprint in each scope."""

    def connection_made(self, transport) -> None:  # type: ignore[override]
        """Record the peer certificate's fingerprint for the requests of this connection."""
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if der:
            # A copy per connection: app_state itself is shared by all connections.
            self.app_state = {**self.app_state, STATE_KEY: fingerprint_of_der(der)}


def uvicorn_tls_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run``/``Config``: TLS when a certificate is
    configured; client certificates asked for (optional) when a client CA is."""
    if settings.tls_cert_file is None:
        return {}
    options: dict[str, Any] = {"ssl_certfile": str(settings.tls_cert_file),
                               "ssl_keyfile": str(settings.tls_key_file or
                                                  settings.tls_cert_file)}
    if settings.tls_client_ca_file is not None:
        # Optional, not required: staff and residents come without a client certificate.
        options.update(ssl_ca_certs=str(settings.tls_client_ca_file),
                       ssl_cert_reqs=ssl.CERT_OPTIONAL, http=ClientCertH11Protocol)
    return options


def presented_fingerprint(request: Request, settings: Settings) -> str | None:
    """The fingerprint of the client certificate of this request, if one was presented:
    from the TLS connection, else from the trusted proxy header (if one is configured)."""
    state = request.scope.get("state") or {}
    direct = state.get(STATE_KEY)
    if direct:
        return direct
    if settings.client_cert_header:
        value = request.headers.get(settings.client_cert_header)
        if value:
            return fingerprint_from_header(value)
    return None
