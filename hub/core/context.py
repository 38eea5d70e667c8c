"""The running hub's parts, built once from settings and handed to whoever needs them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from consent.cache import ConsentCache
from consent.policy import Policy, load_policy
from hub.core.coherence import check_policy_matches_plugins
from hub.core.crypto import Cipher, Pseudonymizer
from hub.core.db import PoolOptions, make_engine, make_sessionmaker
from hub.core.files import private_dir
from hub.core.keys import KeyRing, load_keyring
from hub.core.metrics import HubMetrics
from hub.core.plugins import Plugins, load_plugins
from hub.core.wakeup import signal_for
from hub.core.wijkmap import WijkMap, load_wijkmap
from hub.settings import Settings

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


_INGEST_LOCK = threading.Lock()


@dataclass
class HubContext:
    """Everything the core needs; nothing in it holds messages (they live in the store)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    # Key material stays out of repr(): a failing test or a traceback prints contexts.
    cipher: Cipher = field(repr=False)
    pseudonyms: Pseudonymizer = field(repr=False)
    plugins: Plugins = field(repr=False)
    policy: Policy = field(repr=False)
    wijkmap: WijkMap = field(repr=False)
    keys: KeyRing = field(repr=False)
    clock: Clock = utcnow
    # "Work committed": set by every commit that queued outbox rows on this engine (and by
    # NOTIFY from other processes, hub.core.wakeup); wakes the embedded worker and the
    # relay. Only a hint, the outbox is the truth.
    work_available: threading.Event = field(default=None)  # type: ignore[assignment]
    # This hub's own Prometheus registry: two hubs in one process (tests) never share counts.
    metrics: HubMetrics = field(default_factory=HubMetrics, repr=False)
    # Called with a subject's pseudonym when its consent changed, in this process or any
    # other (issue 3's fanout), so caches can drop entries eagerly.
    consent_listeners: list[Callable[[str], None]] = field(default_factory=list)
    # The transport this process runs (set by the app); None outside a serving process.
    transport: Any = field(default=None, repr=False)

    # Residents' consents per (subject, version): a decision does not grow with the registry.
    consent_cache: ConsentCache = field(default_factory=ConsentCache, repr=False)

    # One HTTP client for every delivery to partners (connection reuse); made on first use.
    _http: Any = field(default=None, repr=False)
    # The group committer of this context's process (issue 14); not copied by replace().
    _ingest: Any = field(default=None, init=False, repr=False)

    @property
    def ingest(self) -> Any:
        """This context's :class:`hub.core.group_commit.GroupCommitter` (made on first use)."""
        with _INGEST_LOCK:
            if self._ingest is None:
                from hub.core.group_commit import GroupCommitter  # it imports this module

                self._ingest = GroupCommitter(self)
            return self._ingest

    @property
    def http(self) -> Any:
        """The shared ``httpx.Client`` for outbound deliveries (timeouts from settings)."""
        if self._http is None:
            import httpx  # only processes that deliver need it

            self._http = httpx.Client(timeout=self.settings.outbound_timeout_seconds,
                                      follow_redirects=False)
        return self._http

    def __post_init__(self) -> None:
        if self.work_available is None:
            self.work_available = signal_for(self.engine)
        self.metrics.watch_outbox(self.sessions, lambda: self.clock())
        # A consent change anywhere (the fanout) drops the cached entry here at once. The
        # cache checks the subject's version anyway; this only frees what is stale early.
        if self.consent_cache.invalidate not in self.consent_listeners:
            self.consent_listeners.append(self.consent_cache.invalidate)

    def dispose(self) -> None:
        """Close every database connection and the outbound HTTP client."""
        if self._http is not None:
            self._http.close()
            self._http = None
        self.engine.dispose()


def build_context(settings: Settings, *, plugins: Plugins | None = None,
                  clock: Clock = utcnow) -> HubContext:
    """Assemble a hub from its settings: keys, database, plugins, policy, wijk map."""
    # Owner-only: the directory holds the database and, by default, the key file.
    private_dir(settings.data_dir)
    ring = load_keyring(settings.keys_file)
    engine = make_engine(settings.effective_database_url, PoolOptions.from_settings(settings))
    policy = load_policy(settings.policy_file)
    if not settings.statute_early_signalling:
        policy = policy.with_statute_enabled("wgs", False)
    plugins = plugins or load_plugins()
    check_policy_matches_plugins(policy, plugins.catalog)
    return HubContext(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        cipher=Cipher(ring),
        pseudonyms=Pseudonymizer(ring),
        plugins=plugins,
        policy=policy,
        wijkmap=load_wijkmap(settings.wijkmap_file),
        keys=ring,
        clock=clock,
        consent_cache=ConsentCache(settings.consent_cache_size),
    )
