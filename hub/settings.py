"""The hub's configuration: one pydantic-settings class, read from ``HUB_*`` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the hub. Built once per process and passed to whoever needs it."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    # Safe by default (issue 15): the development issuer and the log-in chooser exist only
    # when HUB_ENV=development (or test) is set explicitly.
    env: Literal["development", "test", "production"] = "production"
    data_dir: Path = Path("./var")
    # Empty means: SQLite (WAL) in data_dir. postgresql+psycopg://... selects PostgreSQL.
    database_url: str = ""
    policy_file: Path | None = None
    wijkmap_file: Path | None = None
    # Early signalling of debts without consent (Wet gemeentelijke schuldhulpverlening).
    # A municipality that has not adopted it switches it off here.
    statute_early_signalling: bool = True
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    max_batch_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    # FHIR routes (/fhir/r4, /api/v1/fhir/Consent) take one referral or Consent: a few
    # kilobytes in JSON, some tens in XML with a narrative; 256 KiB leaves ample room.
    max_fhir_bytes: int = Field(default=256 * 1024, gt=0)
    # CSV batches commit this many lines per transaction (messages, outbox rows and the
    # batch's counts together); a running batch whose last chunk is older than
    # batch_stale_seconds is reported as interrupted.
    batch_chunk_lines: int = Field(default=500, ge=1, le=10_000)
    # A batch of up to this many lines is imported before the API answers; a larger one
    # after the 202, while GET /api/v1/batches/{id} shows its counts grow.
    batch_sync_lines: int = Field(default=1000, ge=0)
    batch_stale_seconds: float = Field(default=600.0, gt=0)
    worker_enabled: bool = True
    # Embedded queue: hub serve routes in a child process (hub worker) so the API and the
    # routing each have a core; unset: when the machine has two cores or more (issue 14).
    worker_process: bool | None = None
    # The safety net only: commits wake the worker and the relay at once (issue 14); the
    # poll catches a lost notification and rows whose retry backoff ran out.
    worker_poll_seconds: float = Field(default=2.0, gt=0)
    # Messages a worker routes in one transaction (issue 14): read with one statement per
    # table, flushed once, disclosures appended to the chain together.
    route_batch: int = Field(default=100, ge=1, le=1000)
    # Group commit on the way in: concurrent POSTs share one transaction. While others are
    # sending, the first waits up to ingest_group_ms for them (0: only what queued during
    # the last commit); a message sent alone does not wait.
    ingest_group_ms: float = Field(default=2.0, ge=0, le=100)
    ingest_group_size: int = Field(default=100, ge=1, le=1000)
    max_attempts: int = Field(default=5, ge=1)
    retry_base_seconds: float = Field(default=1.0, gt=0)
    # One attempt to deliver to a partner's endpoint: connect and answer, in seconds.
    outbound_timeout_seconds: float = Field(default=10.0, gt=0)
    # Development issuer: signs bearer tokens for one-machine use. Refused in production.
    token_ttl_seconds: int = Field(default=8 * 3600, gt=0)
    # Production transport (issue 3). Empty: the embedded outbox queue. amqp://user:pass@host/vhost
    # selects RabbitMQ; a ``?prefix=NAME`` query in the URL overrides broker_prefix, so two hubs
    # can share one broker (or give each its own virtual host in the URL's path).
    broker_url: str = ""
    broker_prefix: str = Field(default="wijkhub", pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")
    # Unacked deliveries per hub worker. Twice HUB_ROUTE_BATCH: the next batch arrives while
    # one is routed (one transaction, one multiple ack after the commit; issue 14).
    broker_prefetch: int = Field(default=200, ge=1, le=1000)
    # A delivery redelivered this often (a worker died on it each time) is dead-lettered by the
    # worker itself: RabbitMQ 3.x quorum queues have no delivery limit unless a policy sets one.
    broker_delivery_limit: int = Field(default=20, ge=1)
    broker_reconnect_max_seconds: float = Field(default=30.0, gt=0)
    relay_batch_size: int = Field(default=500, ge=1, le=10_000)
    # A row published this long ago and still not routed is published again: its broker
    # message was lost (a purged queue, a broker that lost its data). Far above any retry
    # delay or backlog, since a second message only costs the worker a look-up.
    relay_resend_seconds: float = Field(default=3600.0, ge=60)

    # --- Identities (issue 5; README "Security", "Identities") ---
    # Partner API keys are argon2id hashes. The defaults are RFC 9106's low-memory
    # profile (argon2-cffi's own); tests lower them, production never should.
    partner_key_time_cost: int = Field(default=3, ge=1)
    partner_key_memory_kib: int = Field(default=64 * 1024, ge=8)
    partner_key_parallelism: int = Field(default=4, ge=1)
    # A verified key is remembered this long (keyed digest, never the key), so that
    # argon2 runs once per key and cache period rather than once per request.
    partner_key_cache_seconds: float = Field(default=300.0, ge=0)
    partner_key_cache_size: int = Field(default=1024, ge=1)
    # Per-partner rate limit (token bucket, per API process): sustained rate and burst.
    partner_rate_per_second: float = Field(default=20.0, gt=0)
    partner_rate_burst: int = Field(default=200, ge=1)
    # Ed25519-signed requests: how far X-Hub-Timestamp may be from the hub's clock.
    signature_window_seconds: int = Field(default=300, ge=1)
    # mTLS behind a TLS-terminating proxy: the header in which the proxy passes the
    # client certificate (URL-encoded PEM, as nginx's $ssl_client_escaped_cert).
    # Empty: no header is trusted. Only set it when the hub is reachable via the proxy only.
    client_cert_header: str = ""
    # mTLS served by `hub serve` itself.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = None
    # OIDC for staff and residents. Empty issuer: only the development issuer (never
    # in production). The JWKS URL is found by discovery unless given.
    oidc_issuer: str = ""
    oidc_audience: str = "wijkhub"
    oidc_jwks_url: str = ""
    oidc_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # A token with an unknown key id refetches the JWKS at most this often.
    oidc_jwks_refetch_seconds: float = Field(default=30.0, ge=0)
    oidc_roles_claim: str = "roles"
    oidc_wijk_claim: str = "wijk"
    oidc_bsn_claim: str = "bsn"
    oidc_represents_claim: str = "represents"
    # Cross-origin browsers allowed to call the API (comma-separated origins). Empty: none.
    cors_origins: str = ""
    # Partner kinds that may send a consent as FHIR R4 (POST /api/v1/fhir/Consent), comma-separated.
    fhir_consent_partner_kinds: str = "huisarts"
    # Residents whose consent state the decision cache keeps (LRU); 0 switches it off.
    consent_cache_size: int = Field(default=10_000, ge=0)

    @field_validator("database_url")
    @classmethod
    def _only_supported_databases(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("HUB_DATABASE_URL must be a sqlite:// or postgresql+psycopg:// URL")
        return value

    @field_validator("broker_url")
    @classmethod
    def _only_amqp_brokers(cls, value: str) -> str:
        if value and not value.startswith(("amqp://", "amqps://")):
            raise ValueError("HUB_BROKER_URL must be an amqp:// or amqps:// URL")
        return value

    @model_validator(mode="after")
    def _coherent_identities(self) -> Settings:
        if (self.tls_key_file or self.tls_client_ca_file) and not self.tls_cert_file:
            raise ValueError("HUB_TLS_KEY_FILE and HUB_TLS_CLIENT_CA_FILE need HUB_TLS_CERT_FILE")
        # Discovery and keys fetched over plain HTTP could be swapped on the way.
        if (self.env == "production" and self.oidc_issuer
                and not self.oidc_issuer.startswith("https://")):
            raise ValueError("HUB_OIDC_ISSUER must be an https:// URL in production")
        if (self.env == "production" and self.oidc_jwks_url
                and not self.oidc_jwks_url.startswith("https://")):
            raise ValueError("HUB_OIDC_JWKS_URL must be an https:// URL in production")
        return self

    @property
    def effective_database_url(self) -> str:
        """The database to use: the configured URL, or SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hub.sqlite3').resolve()}"

    @property
    def cors_origin_list(self) -> list[str]:
        """The allowed cross-origin origins; empty means no cross-origin access."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def keys_file(self) -> Path:
        """Where the embedded default keeps its data-encryption and pseudonym keys."""
        return self.data_dir / "keys.json"

    # --- Operating: logs, metrics, the PostgreSQL pool (README, "Operating") ---
    # json | text; unset means json in production, text elsewhere.
    log_format: Literal["json", "text"] | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # A port for a separate /metrics listener (hub worker processes); unset means none.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_addr: str = "127.0.0.1"
    # A long-lived bearer credential for Prometheus; operator tokens are accepted too.
    metrics_token: SecretStr | None = None
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout_seconds: float = Field(default=30.0, gt=0)
    db_pool_recycle_seconds: int = Field(default=1800, ge=-1)
    # A SELECT 1 per checkout; off by default, db_pool_check_closed (no round trip) does
    # its job for connections the server closed (issue 14).
    db_pool_pre_ping: bool = False
    db_pool_check_closed: bool = True
    db_connect_timeout_seconds: int = Field(default=10, ge=1)

    @field_validator("metrics_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # A scrape credential that can be guessed would open the operator's view.
        if value is not None and len(value.get_secret_value()) < 24:
            raise ValueError("must be at least 24 characters")
        return value
    @property
    def fhir_consent_kinds(self) -> frozenset[str]:
        """The partner kinds allowed to send FHIR consents."""
        return frozenset(k.strip() for k in self.fhir_consent_partner_kinds.split(",") if k.strip())
