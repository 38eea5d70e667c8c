"""A partner's endpoint: checked when it is given, so an outbound message can reach it.

``--endpoint "not a url"`` used to be stored as given, and the first outbound
message then failed five times before it became a dead letter (issue 15, item 4).
Now an endpoint is an absolute ``http``/``https`` URL with a host name or
address, or it is refused with the reason.
"""

from __future__ import annotations

import ipaddress
import re

# RFC 1123 host names: labels of letters, digits and hyphens, not starting or ending with one.
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def check_endpoint(value: str) -> str:
    """Return ``value`` as a usable endpoint URL, or raise ValueError saying what is wrong.

    Accepts ``http://`` and ``https://`` URLs with a host (a name, IPv4 or IPv6
    address), an optional port and path; no query, fragment or credentials.
    """
    import httpx  # here, not at the top: the CLI checks endpoints, and httpx loads click

    text = value.strip()
    if not text or any(c.isspace() for c in text):
        raise ValueError("must be a URL like https://partner.example.nl/api, without spaces")
    try:
        url = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise ValueError(f"is not a valid URL ({exc})") from None
    if url.scheme not in ("http", "https"):
        raise ValueError("must start with https:// (or http://), e.g. "
                         "https://partner.example.nl/api")
    if not url.host:
        raise ValueError("has no host name, e.g. https://partner.example.nl/api")
    if url.port is not None and not 0 < url.port < 65536:
        raise ValueError("its port must be a number from 1 to 65535")
    if url.userinfo:
        raise ValueError("must not contain a user name or password")
    if url.query or url.fragment:
        raise ValueError("must not contain a query (?…) or fragment (#…)")
    if not _valid_host(url.raw_host.decode("ascii")):
        raise ValueError("its host is not a valid host name or IP address")
    return text


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return len(host) <= 253 and all(_LABEL.match(label) for label in labels)
