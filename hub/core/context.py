"""The running hub's parts, built once from settings and handed to whoever needs them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from consent.policy import Policy, load_policy
from hub.core.coherence import check_policy_matches_plugins
from hub.core.crypto import Cipher, Pseudonymizer
from hub.core.db import make_engine, make_sessionmaker
from hub.core.keys import KeyRing, load_keyring
from hub.core.plugins import Plugins, load_plugins
from hub.core.wijkmap import WijkMap, load_wijkmap
from hub.settings import Settings

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


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
    # Wakes the in-process worker when ingest commits; only a hint, the outbox is the truth.
    work_available: threading.Event = field(default_factory=threading.Event)

    def dispose(self) -> None:
        """Close every database connection."""
        self.engine.dispose()


def build_context(settings: Settings, *, plugins: Plugins | None = None,
                  clock: Clock = utcnow) -> HubContext:
    """Assemble a hub from its settings: keys, database, plugins, policy, wijk map."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ring = load_keyring(settings.keys_file)
    engine = make_engine(settings.effective_database_url)
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
    )
