"""A throwaway OIDC issuer: a real HTTP server on 127.0.0.1 serving discovery and JWKS
for keys made in the test, and a signer for tokens with any claims or header."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    def jwk(self) -> dict[str, Any]:
        algorithms = jwt.algorithms
        algorithm = algorithms.RSAAlgorithm if self.alg == "RS256" else algorithms.ECAlgorithm
        jwk = algorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def rsa_key(kid: str) -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str) -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


@dataclass
class Issuer:
    """The issuer at ``url``; ``published`` are the keys its JWKS lists right now."""

    url: str = ""
    published: list[SigningKey] = field(default_factory=list)
    fetches: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def token(self, key: SigningKey, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(claims, key.private, algorithm=key.alg,
                          headers={"kid": key.kid, **header})

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forged_hs256(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """An HS256 token whose HMAC key is the issuer's *public* key: the algorithm-confusion
    attack (PyJWT refuses to make one, so it is made by hand)."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64url(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(signature)}"


def unsigned(claims: dict[str, Any], kid: str) -> str:
    head = b64url(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    return f"{head}.{b64url(json.dumps(claims).encode())}."


def start_issuer(*keys: SigningKey) -> Issuer:
    """Serve discovery and JWKS on a free loopback port until ``stop()``."""
    issuer = Issuer(published=list(keys))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            issuer.fetches.append(self.path)
            if self.path == "/.well-known/openid-configuration":
                body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks",
                        "id_token_signing_alg_values_supported": ["RS256", "ES256"]}
            elif self.path == "/jwks":
                body = {"keys": [k.jwk() for k in issuer.published]}
            else:
                self.send_error(404)
                return
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    issuer.server = server
    issuer.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return issuer
