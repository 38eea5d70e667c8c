"""HTTP to the tests' own servers on 127.0.0.1 (plain HTTP), cheaply.

``httpx.get`` makes a client for every call, and a client loads the CA bundle into a
new TLS context: about 20 ms of CPU each time, which a readiness poll paid on every
attempt while the server it waited for was starting. These URLs are ``http://`` on
loopback, where no certificate is ever checked, so the client gets no TLS context
to fill and reads no proxy settings from the environment.
"""

from __future__ import annotations

from typing import Any

import httpx


def client(**kwargs: Any) -> httpx.Client:
    """A client for plain-HTTP loopback servers (no CA bundle loaded, no proxies)."""
    return httpx.Client(verify=False, trust_env=False, **kwargs)


def get(url: str, **kwargs: Any) -> httpx.Response:
    """``httpx.get`` for a plain-HTTP loopback URL."""
    return request("GET", url, **kwargs)


def post(url: str, **kwargs: Any) -> httpx.Response:
    """``httpx.post`` for a plain-HTTP loopback URL."""
    return request("POST", url, **kwargs)


def request(method: str, url: str, *, timeout: float = 5.0, follow_redirects: bool = False,
            **kwargs: Any) -> httpx.Response:
    """One request to a plain-HTTP loopback URL; refuses anything else."""
    if not url.startswith(("http://127.0.0.1", "http://localhost")):
        raise ValueError(f"not a loopback plain-HTTP URL: {url}")
    with client(timeout=timeout, follow_redirects=follow_redirects) as http:
        return http.request(method, url, **kwargs)
