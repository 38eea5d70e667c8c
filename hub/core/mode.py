"""Which mode a hub runs in, said once at every start (issue 15, item 1).

Safe by default: without ``HUB_ENV=development`` (or ``test``) the hub is in
production mode, where the development issuer and the log-in chooser do not
exist. A production hub without an identity provider still starts — partners
can deliver — but in *safe mode*: nobody can log in until ``HUB_OIDC_ISSUER``
is set. Development mode is an explicit switch for one machine: it is announced
loudly at every start and refuses to listen on anything but loopback, because
in it anyone can log in as anyone.
"""

from __future__ import annotations

import ipaddress
import logging

from hub.settings import Settings

log = logging.getLogger("hub.mode")

DEVELOPMENT_WARNING = (
    "DEVELOPMENT MODE (HUB_ENV={env}): anyone who reaches this hub can log in as any "
    "resident, regisseur or operator (/inloggen chooser, `hub token`); never use it with "
    "real residents' data, and unset HUB_ENV for production")
SAFE_MODE_WARNING = (
    "safe mode: no identity provider configured (set HUB_OIDC_ISSUER; for the screens also "
    "HUB_OIDC_CLIENT_ID, HUB_OIDC_CLIENT_SECRET and HUB_WEB_BASE_URL): staff and residents "
    "cannot log in, partners can deliver")


class UnsafeListen(Exception):
    """Development mode was asked to listen on an address other machines can reach."""


def is_development(settings: Settings) -> bool:
    """True when the development issuer and chooser are switched on (HUB_ENV development/test)."""
    return settings.env != "production"


def is_safe_mode(settings: Settings) -> bool:
    """True for production without an identity provider: nobody can log in."""
    return not is_development(settings) and not settings.oidc_issuer


def announce(settings: Settings) -> str | None:
    """Log the one warning line this mode deserves (development or safe mode); return it.

    Returns None (and logs nothing) for production with an identity provider.
    """
    if is_development(settings):
        line = DEVELOPMENT_WARNING.format(env=settings.env)
    elif is_safe_mode(settings):
        line = SAFE_MODE_WARNING
    else:
        return None
    log.warning(line)
    return line


def is_loopback(host: str) -> bool:
    """True when ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        # A host name other than localhost may resolve to anything: not provably loopback.
        return False


def check_listen(settings: Settings, host: str, *, what: str) -> None:
    """Raise :class:`UnsafeListen` when development mode would listen beyond loopback."""
    if is_development(settings) and not is_loopback(host):
        raise UnsafeListen(
            f"{what} {host}: development mode (HUB_ENV={settings.env}) only listens on "
            "127.0.0.1 or ::1, because anyone can log in as anyone in it; unset HUB_ENV "
            "and configure HUB_OIDC_ISSUER to serve other machines")
