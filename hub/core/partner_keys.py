"""Partners' API keys: argon2id hashes looked up by a public key id, rotated with overlap.

A key reads ``whk_<key id>_<secret>``. The key id (16 hex digits) is not
secret: it finds the one stored hash to check, because a salted slow hash
cannot be searched for. The secret is 256 random bits.

Argon2 is slow on purpose (tens of milliseconds and 64 MiB at the default
parameters), which would cap ingest at a few dozen requests per second per
core. :class:`KeyVerifier` therefore remembers a key it verified, for
``HUB_PARTNER_KEY_CACHE_SECONDS``, under a keyed digest of the presented key
(never the key itself). Revocation and expiry are still read from the database
at every request, so a revoked key stops at once, in every process.

``POST /api/v1/messages`` (issue 14) reads them in the transaction that stores
the message instead: a key remembered fresh answers from its snapshot
(:meth:`KeyVerifier.cached`, no database round trip), and the group commit
re-checks every key of its group with one statement (:func:`stale_keys`): not
revoked, not expired, the partner active, and the partner's pinned proofs and
the key's hash still those of the snapshot. A message whose key is refused
(revoked, expired, partner inactive) is not stored and is answered 401; one whose
key or pins merely changed (a re-hash in another process, a certificate or
signing key pinned since) is not stored either, and the route checks its key in
full again and sends it once more. This is stronger than a check of its own before the
insert: no revocation can fall between the check and the store. Every other
route checks in a transaction of its own (:meth:`KeyVerifier.partner_for`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Select, bindparam, or_, select, update
from sqlalchemy.orm import Session

from hub.core.models import Partner, PartnerKey
from hub.core.ratelimit import RateLimiter
from hub.core.store import in_list, is_postgres
from hub.settings import Settings

KEY_PREFIX = "whk_"
_KEY = re.compile(r"whk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


class KeyRefused(Exception):
    """The presented key does not identify an active partner; the message says why."""


class KeyChanged(Exception):
    """The key is still good, but its hash or its partner's pinned proofs changed since
    this process remembered it: check it in full again (nothing was refused)."""


class KeyThrottled(Exception):
    """Too many wrong secrets for one key id: refused without checking, for ``retry_after`` s."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("too many failed attempts with this key id")
        self.retry_after = retry_after


def key_hasher(settings: Settings | None = None) -> PasswordHasher:
    """The argon2id hasher for partner keys; without settings, the strong defaults."""
    settings = settings or Settings()
    return PasswordHasher(time_cost=settings.partner_key_time_cost,
                          memory_cost=settings.partner_key_memory_kib,
                          parallelism=settings.partner_key_parallelism, type=Type.ID)


def key_id_of(api_key: str) -> str | None:
    """The public key id of a well-formed key, or None for anything else."""
    match = _KEY.fullmatch(api_key)
    return match.group(1) if match else None


def new_key(*, session: Session, partner_id: str, now: datetime,
            hasher: PasswordHasher | None = None) -> str:
    """Store a new key for a partner (its hash only) and return the key: shown this once."""
    key_id = secrets.token_hex(8)
    api_key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    session.add(PartnerKey(id=key_id, partner_id=partner_id,
                           key_hash=(hasher or key_hasher()).hash(api_key), created_at=now))
    return api_key


def _active_keys(partner_id: str, now: datetime):
    return (PartnerKey.partner_id == partner_id, PartnerKey.revoked_at.is_(None),
            or_(PartnerKey.expires_at.is_(None), PartnerKey.expires_at > now))


def rotate_key(*, session: Session, partner_id: str, now: datetime, grace: timedelta,
               hasher: PasswordHasher | None = None) -> str:
    """Issue a new key; the partner's current keys stop after ``grace`` (at once for 0)."""
    if grace < timedelta(0):
        raise ValueError("the grace period cannot be negative")
    until = now + grace
    for key in session.scalars(select(PartnerKey).where(*_active_keys(partner_id, now))):
        # A rotation never extends a key that was already going to stop sooner.
        if key.expires_at is None or key.expires_at > until:
            key.expires_at = until
    return new_key(session=session, partner_id=partner_id, now=now, hasher=hasher)


def revoke_keys(*, session: Session, partner_id: str, now: datetime,
                key_id: str | None = None) -> int:
    """Revoke one key (by id) or every key of a partner, at once; returns how many."""
    conditions = [*_active_keys(partner_id, now)]
    if key_id is not None:
        conditions.append(PartnerKey.id == key_id)
    result = session.execute(update(PartnerKey).where(*conditions).values(revoked_at=now))
    return result.rowcount or 0


def list_keys(*, session: Session, partner_id: str) -> list[PartnerKey]:
    """Every key of a partner, newest first (hashes included: never print them)."""
    return list(session.scalars(select(PartnerKey).where(PartnerKey.partner_id == partner_id)
                                .order_by(PartnerKey.created_at.desc(), PartnerKey.id)))


def add_partner(*, session: Session, name: str, kind: str, now: datetime,
                endpoint: str | None = None,
                hasher: PasswordHasher | None = None) -> tuple[Partner, str]:
    """Register a partner with its first API key; returns both. The key is shown only once."""
    if session.scalar(select(Partner.id).where(Partner.name == name)):
        raise ValueError(f"a partner named {name!r} already exists")
    partner = Partner(id=str(uuid.uuid4()), name=name, kind=kind, endpoint=endpoint,
                      active=True, created_at=now)
    session.add(partner)
    session.flush()  # the key row refers to the partner row
    return partner, new_key(session=session, partner_id=partner.id, now=now, hasher=hasher)


@dataclass(frozen=True)
class PartnerSnapshot:
    """A partner as its row read when its key was last checked against the database."""

    id: str
    name: str
    kind: str
    active: bool
    cert_sha256: str | None
    signing_key: str | None

    @classmethod
    def of(cls, partner: Partner) -> PartnerSnapshot:
        """The snapshot of a partner row."""
        return cls(id=partner.id, name=partner.name, kind=partner.kind, active=partner.active,
                   cert_sha256=partner.cert_sha256, signing_key=partner.signing_key)


@dataclass(frozen=True)
class VerifiedKey:
    """A key this process verified, and what the database said about it and its partner
    then. Holds no secret: the key's argon2 hash is what :func:`stale_keys` compares."""

    key_id: str
    key_hash: str
    partner: PartnerSnapshot


# stale_keys' one statement, built once per dialect on the tables (Core): every ingest
# group runs it, and building it anew on the ORM entities cost a tenth of the group
# commit's CPU (issue 14). ``now`` takes the type of ``expires_at`` it is compared with.
_KEYS, _PARTNERS = PartnerKey.__table__.c, Partner.__table__.c


@functools.cache
def _still_good(postgres: bool) -> Select:
    return (select(_KEYS.id, _KEYS.key_hash, _PARTNERS.id, _PARTNERS.cert_sha256,
                   _PARTNERS.signing_key)
            .join_from(PartnerKey.__table__, Partner.__table__, _PARTNERS.id == _KEYS.partner_id)
            .where(in_list(_KEYS.id, "ids", postgres=postgres), _KEYS.revoked_at.is_(None),
                   or_(_KEYS.expires_at.is_(None), _KEYS.expires_at > bindparam("now")),
                   _PARTNERS.active.is_(True)))


def stale_keys(*, session: Session, keys: Iterable[VerifiedKey],
               now: datetime) -> dict[VerifiedKey, Exception]:
    """The keys whose snapshot no longer holds at ``now``, each with why, read with one
    statement in ``session``'s transaction.

    :class:`KeyRefused` when the key is revoked or expired or its partner inactive;
    :class:`KeyChanged` when it is still good but its hash or its partner's pinned
    certificate or signing key differ from the snapshot's (so a pin set after the key
    was remembered is enforced at once, by checking the key in full again).
    """
    keys = set(keys)
    if not keys:
        return {}
    rows = session.execute(_still_good(is_postgres(session)),
                           {"ids": list({k.key_id for k in keys}), "now": now})
    good = {tuple(row) for row in rows}
    valid_ids = {row[0] for row in good}
    return {k: (KeyChanged() if k.key_id in valid_ids
                else KeyRefused("Unknown or revoked partner API key"))
            for k in keys if (k.key_id, k.key_hash, k.partner.id, k.partner.cert_sha256,
                              k.partner.signing_key) not in good}


class _Flight:
    """One argon2 check of a presented key in progress; others presenting the same key
    wait for it (:meth:`wait`) instead of running argon2 and spending the failure budget."""

    def __init__(self) -> None:
        self._landed = threading.Event()

    def wait(self) -> None:
        """Block until the check that started this flight has ended, however it ended."""
        self._landed.wait()

    def land(self) -> None:
        """End the flight: every waiter goes on."""
        self._landed.set()


@dataclass
class _Remembered:
    key_id: str
    key_hash: str
    until: float
    partner: PartnerSnapshot


class KeyVerifier:
    """Finds the partner of a presented key: argon2 once, then a short keyed-digest cache."""

    def __init__(self, *, hasher: PasswordHasher, cache_seconds: float, cache_size: int,
                 monotonic: Callable[[], float] = time.monotonic,
                 failures: RateLimiter | None = None, concurrent: int = 4) -> None:
        self._hasher = hasher
        # Each argon2 check holds 64 MiB: a burst of cache misses (a restart, or someone
        # trying secrets) must not take the process's memory with it.
        self._slots = threading.BoundedSemaphore(concurrent)
        # Wrong secrets for a known key id cost argon2 each; past this budget they are
        # refused unchecked, so guessing cannot burn the hub's CPU.
        self._failures = failures
        self._ttl = cache_seconds
        self._size = cache_size
        self._monotonic = monotonic
        # A per-process secret: the digests mean nothing outside this process.
        self._digest_key = secrets.token_bytes(32)
        self._cache: OrderedDict[bytes, _Remembered] = OrderedDict()
        # Checks in progress, by the presented key's digest (see _check).
        self._flights: dict[bytes, _Flight] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, *,
                      clock: Callable[[], datetime] | None = None) -> KeyVerifier:
        """A verifier with the configured argon2 parameters and cache; with a clock, wrong
        secrets are limited to a burst of 10, then one every 10 seconds, per key id and
        client address (unknown key ids: per client address)."""
        failures = (RateLimiter(rate=0.1, burst=10, clock=clock) if clock is not None
                    else None)
        return cls(hasher=key_hasher(settings), cache_seconds=settings.partner_key_cache_seconds,
                   cache_size=settings.partner_key_cache_size, failures=failures)

    def __repr__(self) -> str:
        return f"KeyVerifier(cached={len(self._cache)})"

    def forget(self, key_id: str | None = None) -> None:
        """Drop remembered keys (one key id, or all): the next use runs argon2 again."""
        with self._lock:
            for digest in [d for d, r in self._cache.items()
                           if key_id is None or r.key_id == key_id]:
                del self._cache[digest]

    def cached(self, api_key: str, *, client: str | None = None) -> VerifiedKey | None:
        """The key's snapshot when this process verified it within the cache time, else
        None (then ask :meth:`verify`). Reads no database: the caller must have
        :func:`stale_keys` re-check it in the transaction that relies on it."""
        if self._ttl <= 0:
            return None
        if self._failures is not None and self._failures.wait(f"unknown|{client}"):
            return None  # throttled address: :meth:`verify` answers it as before
        digest = self._digest(api_key)
        with self._lock:
            entry = self._cache.get(digest)
            if entry is None or entry.until <= self._monotonic():
                return None
            self._cache.move_to_end(digest)
            return VerifiedKey(entry.key_id, entry.key_hash, entry.partner)

    def verify(self, *, session: Session, api_key: str, now: datetime,
               client: str | None = None) -> VerifiedKey:
        """:meth:`partner_for`, answered as a snapshot of the key and its partner."""
        key, partner = self._check(session=session, api_key=api_key, now=now, client=client)
        return VerifiedKey(key.id, key.key_hash, PartnerSnapshot.of(partner))

    def partner_for(self, *, session: Session, api_key: str, now: datetime,
                    client: str | None = None) -> Partner:
        """The active partner holding this active key; raises :class:`KeyRefused` otherwise.

        Wrong secrets are throttled per key id *and* client address (issue 13, item 6):
        a stranger who knows a partner's key id cannot lock the partner out from
        elsewhere. Each unchecked attempt takes its token before argon2 runs, so
        concurrent wrong secrets cost at most the budget; a right secret gives it back.
        A secret this process verified before passes even while its address is
        throttled. Concurrent checks of one presented key share one argon2 run: the
        others wait for it and take its verdict, so a partner's burst of requests on a
        cold cache spends no budget; a wrong secret's waiters are each counted again.
        Unknown key ids are throttled per client address (item 5): each costs a
        database lookup.
        """
        return self._check(session=session, api_key=api_key, now=now, client=client)[1]

    def _check(self, *, session: Session, api_key: str, now: datetime,
               client: str | None) -> tuple[PartnerKey, Partner]:
        key_id = key_id_of(api_key)
        if key_id is None:
            raise KeyRefused("API key has an unknown format (keys from before version 0006 "
                             "no longer work: ask the hub's operator for a new key)")
        unknown = f"unknown|{client}"
        if self._failures is not None and (wait := self._failures.wait(unknown)):
            raise KeyThrottled(wait)
        row = session.execute(select(PartnerKey, Partner)
                              .join(Partner, Partner.id == PartnerKey.partner_id)
                              .where(PartnerKey.id == key_id)).first()
        if row is None:
            if self._failures is not None:
                self._failures.take(unknown)
            raise KeyRefused("Unknown or revoked partner API key")
        key, partner = row
        # Checked at every request, cache or not: revocation takes effect at once.
        if (key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now)
                or not partner.active):
            self.forget(key_id)
            raise KeyRefused("Unknown or revoked partner API key")
        if self._remembered(api_key, key, partner):
            return key, partner
        # When the cache is cold (a restart, or every cache time), a partner's concurrent
        # requests all present the same key at once. One of them runs argon2; the others
        # wait for it and take its verdict from the cache. Without this each took a token
        # of the wrong-secret budget before argon2 had said the secret was right, and a
        # busy partner was answered 429 "too many failed attempts" with a good key.
        if self._ttl <= 0:
            # Nothing is remembered, so a verdict cannot be shared: each checks alone.
            return self._verify(api_key=api_key, key_id=key_id, key=key, partner=partner,
                                client=client)
        digest = self._digest(api_key)
        with self._lock:
            flight = self._flights.get(digest)
            leading = flight is None
            if leading:
                flight = self._flights[digest] = _Flight()
        if not leading:
            flight.wait()
            if self._remembered(api_key, key, partner):
                return key, partner
            # The secret was wrong (or the check failed): an attempt of its own, below.
            return self._verify(api_key=api_key, key_id=key_id, key=key, partner=partner,
                                client=client)
        try:
            return self._verify(api_key=api_key, key_id=key_id, key=key, partner=partner,
                                client=client)
        finally:
            with self._lock:
                del self._flights[digest]
            flight.land()

    def _verify(self, *, api_key: str, key_id: str, key: PartnerKey, partner: Partner,
                client: str | None) -> tuple[PartnerKey, Partner]:
        # A secret not remembered: counted against the failure budget, then argon2.
        attempt = f"{key_id}|{client}"
        if self._failures is not None and (wait := self._failures.take(attempt)):
            if self._remembered(api_key, key, partner, any_age=True):
                return key, partner  # the right secret always passes
            raise KeyThrottled(wait)
        try:
            with self._slots:
                self._hasher.verify(key.key_hash, api_key)
        except (VerificationError, InvalidHashError):
            raise KeyRefused("Unknown or revoked partner API key") from None
        if self._failures is not None:
            self._failures.refund(attempt)
        if self._hasher.check_needs_rehash(key.key_hash):
            # The operator raised the argon2 parameters: the key moves to them at its
            # next use (the caller's transaction commits the new hash).
            with self._slots:
                key.key_hash = self._hasher.hash(api_key)
        self._remember(api_key, key, partner)
        return key, partner

    def _digest(self, api_key: str) -> bytes:
        return hmac.new(self._digest_key, api_key.encode(), hashlib.sha256).digest()

    def _remembered(self, api_key: str, key: PartnerKey, partner: Partner, *,
                    any_age: bool = False) -> bool:
        if self._ttl <= 0:
            return False
        digest = self._digest(api_key)
        with self._lock:
            entry = self._cache.get(digest)
            if entry is None:
                return False
            if entry.key_id != key.id or entry.key_hash != key.key_hash:
                del self._cache[digest]  # a rotated or re-hashed key: verify again
                return False
            if not any_age and entry.until <= self._monotonic():
                # Kept (until the LRU drops it) so that, while an address is throttled,
                # a secret verified before still passes.
                return False
            self._cache.move_to_end(digest)
            # What the database just said; the time argon2 ran stays the entry's age.
            entry.partner = PartnerSnapshot.of(partner)
            return True

    def _remember(self, api_key: str, key: PartnerKey, partner: Partner) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            self._cache[self._digest(api_key)] = _Remembered(
                key.id, key.key_hash, self._monotonic() + self._ttl,
                PartnerSnapshot.of(partner))
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
