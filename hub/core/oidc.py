"""Bearer tokens of the configured OIDC issuer: signature, issuer, audience, time.

The issuer's keys come from its JWKS, found by discovery
(``<issuer>/.well-known/openid-configuration``) unless ``HUB_OIDC_JWKS_URL`` is
set. PyJWT's :class:`jwt.PyJWKClient` caches them and fetches the set again
when a token names a key id it does not know (the issuer rotated its keys).
Only asymmetric algorithms are accepted, so neither ``alg: none`` nor an HS256
token "signed" with the issuer's public key can pass.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jwt

ALGORITHMS = ("RS256", "ES256")
_FETCH_TIMEOUT = 5.0


class TokenRefused(Exception):
    """The token is not valid; the message says why, without repeating the token."""


class IssuerUnavailable(Exception):
    """The issuer's discovery document or keys could not be fetched: try again later."""


class OidcVerifier:
    """Verifies tokens of one issuer and audience; keeps the issuer's keys cached."""

    def __init__(self, *, issuer: str, audience: str, jwks_url: str = "",
                 leeway_seconds: int = 30, refetch_cooldown_seconds: float = 30.0) -> None:
        self.issuer = issuer
        self.refetch_cooldown = refetch_cooldown_seconds
        self.audience = audience
        self.leeway = leeway_seconds
        self._jwks_url = jwks_url
        self._client: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OidcVerifier(issuer={self.issuer!r}, audience={self.audience!r})"

    def _jwks(self) -> jwt.PyJWKClient:
        import jwt  # here, not at the top: every `hub` command imports this module

        with self._lock:
            if self._client is None:
                url = self._jwks_url or self._discover()
                # An unknown kid refetches the set, at most once per cooldown: tokens
                # with made-up kids must not make the hub hammer the issuer.
                self._client = jwt.PyJWKClient(url, cache_keys=True, lifespan=3600,
                                               timeout=int(_FETCH_TIMEOUT),
                                               cooldown_duration=self.refetch_cooldown)
            return self._client

    def _discover(self) -> str:
        import httpx  # only a hub with an issuer discovers; every command imports this module

        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            response = httpx.get(url, timeout=_FETCH_TIMEOUT)
            response.raise_for_status()
            doc = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise IssuerUnavailable(f"discovery failed: {type(exc).__name__}") from None
        # OIDC Discovery 1.0, section 4.3: the document must name the issuer we asked.
        if not isinstance(doc, dict) or doc.get("issuer") != self.issuer:
            raise IssuerUnavailable("discovery document names another issuer")
        jwks_uri = doc.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise IssuerUnavailable("discovery document has no jwks_uri")
        return jwks_uri

    def claims(self, token: str, *, now: datetime) -> dict[str, Any]:
        """The verified claims of ``token``; raises :class:`TokenRefused` or
        :class:`IssuerUnavailable`. Time is checked against ``now`` (the hub's clock)."""
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRefused(f"token not accepted: {type(exc).__name__}") from None
        if header.get("alg") not in ALGORITHMS:
            raise TokenRefused(f"token not accepted: algorithm must be one of "
                               f"{', '.join(ALGORITHMS)}")
        try:
            key = self._jwks().get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError:
            raise IssuerUnavailable("the issuer's keys could not be fetched") from None
        except jwt.PyJWKClientError:
            raise TokenRefused("token not accepted: unknown signing key") from None
        except jwt.PyJWTError as exc:
            raise TokenRefused(f"token not accepted: {type(exc).__name__}") from None
        try:
            claims = jwt.decode(token, key.key, algorithms=list(ALGORITHMS),
                                audience=self.audience, issuer=self.issuer,
                                options={"require": ["exp", "iss", "aud", "sub"],
                                         "verify_exp": False, "verify_nbf": False,
                                         "verify_iat": False})
        except jwt.PyJWTError as exc:
            raise TokenRefused(f"token not accepted: {type(exc).__name__}") from None
        # Expiry and not-before against the hub's own clock, with the configured skew.
        at = now.timestamp()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int | float) or isinstance(exp, bool) or exp + self.leeway < at:
            raise TokenRefused("token not accepted: expired")
        if nbf is not None and (not isinstance(nbf, int | float) or nbf - self.leeway > at):
            raise TokenRefused("token not accepted: not yet valid")
        return claims


_verifiers: dict[tuple[str, str, str, int, float], OidcVerifier] = {}
_verifiers_lock = threading.Lock()


def verifier_for(*, issuer: str, audience: str, jwks_url: str, leeway_seconds: int,
                 refetch_cooldown_seconds: float = 30.0) -> OidcVerifier:
    """One verifier per configuration, shared by every request, so its key cache is too."""
    config = (issuer, audience, jwks_url, leeway_seconds, refetch_cooldown_seconds)
    with _verifiers_lock:
        verifier = _verifiers.get(config)
        if verifier is None:
            verifier = _verifiers[config] = OidcVerifier(
                issuer=issuer, audience=audience, jwks_url=jwks_url,
                leeway_seconds=leeway_seconds, refetch_cooldown_seconds=refetch_cooldown_seconds)
        return verifier
