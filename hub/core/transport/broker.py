"""Where the broker is and what the hub's names on it are.

``HUB_BROKER_URL`` is a pika URL (``amqp://user:pass@host:port/vhost?heartbeat=30``);
the hub adds one query parameter of its own, ``prefix``, which overrides
``HUB_BROKER_PREFIX``. Every exchange and queue name starts with the prefix, and
the virtual host comes from the URL's path, so two hubs can share one broker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pika

from hub.settings import Settings

_PREFIX = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


class BrokerConfigError(ValueError):
    """``HUB_BROKER_URL`` cannot be used; the text says why, without the password."""


@dataclass(frozen=True)
class Broker:
    """A broker's connection parameters and the hub's names on it."""

    parameters: pika.URLParameters
    prefix: str
    display: str  # the URL without its password, for messages and logs

    @property
    def tasks_exchange(self) -> str:
        """Topic exchange the relay publishes work to (routing key ``task.<name>``)."""
        return f"{self.prefix}.tasks"

    @property
    def retry_exchange(self) -> str:
        """Direct exchange of the delayed retry queues (routing key ``<task>.<delay ms>``)."""
        return f"{self.prefix}.retry"

    @property
    def dead_exchange(self) -> str:
        """Fanout dead-letter exchange: where the broker puts what it gives up on."""
        return f"{self.prefix}.dlx"

    @property
    def consent_exchange(self) -> str:
        """Fanout exchange for "consent changed" events, one copy per worker."""
        return f"{self.prefix}.consent"

    @property
    def dead_queue(self) -> str:
        """Quorum queue behind the dead-letter exchange, emptied into the dead-letter store."""
        return f"{self.prefix}.dead"

    def task_queue(self, task: str) -> str:
        """The quorum queue of one consumer role (one task)."""
        return f"{self.prefix}.task.{task}"

    def retry_queue(self, task: str, delay_ms: int) -> str:
        """A queue where a failed task waits ``delay_ms`` before it goes back to work."""
        return f"{self.prefix}.retry.{task}.{delay_ms}"


def parse_broker(settings: Settings) -> Broker:
    """Parse ``settings.broker_url``; raises :class:`BrokerConfigError` with one clear line."""
    url = settings.broker_url
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError as exc:
        raise BrokerConfigError(f"HUB_BROKER_URL is not a valid URL ({exc})") from None
    if parts.scheme not in ("amqp", "amqps") or not host:
        raise BrokerConfigError("HUB_BROKER_URL must look like amqp://user:password@host/vhost")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    prefix = query.pop("prefix", settings.broker_prefix)
    if not _PREFIX.match(prefix):
        raise BrokerConfigError("HUB_BROKER_URL prefix must be lower-case letters, digits, "
                                "'.', '_' or '-' (at most 63)")
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    display = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    pika_url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    try:
        parameters = pika.URLParameters(pika_url)
    except Exception as exc:
        raise BrokerConfigError(f"HUB_BROKER_URL {display}: {exc}") from None
    if "connection_attempts" not in query:
        parameters.connection_attempts = 1
    if "socket_timeout" not in query:
        parameters.socket_timeout = 5
    return Broker(parameters=parameters, prefix=prefix, display=display)
