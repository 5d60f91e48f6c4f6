"""Process settings from the environment (prefix SWITCHBOARD_, plus NATS_URL). Secrets are never read here:
each source names its own env vars in sources.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore", populate_by_name=True)

    config: Path = Path("examples/config")
    data: Path = Path(".switchboard")
    nats_url: str | None = Field(default=None, validation_alias=AliasChoices("NATS_URL", "SWITCHBOARD_NATS_URL"))
    # NATS credentials: one user per service (deploy/nats/auth.conf); any one of user/password, creds, nkey seed
    nats_user: str | None = None
    nats_password: SecretStr | None = None  # SecretStr: never shown by repr() or in a traceback
    nats_creds: Path | None = None  # NATS .creds file (JWT + nkey seed)
    nats_nkey_seed: Path | None = None  # file holding an nkey seed (needs the `nkeys` package)
    nats_tls_ca: Path | None = None  # CA that signed the server's certificate (enables TLS)
    nats_tls_cert: Path | None = None  # client certificate + key, for servers that verify clients (mTLS)
    nats_tls_key: Path | None = None
    # reply subjects of this connection: `_INBOX_<user>` keeps one service's replies (pulled messages too)
    # away from another user's subscriptions; auth.conf allows each user only its own prefix
    nats_inbox_prefix: str | None = None
    # ops endpoints (/metrics): `Authorization: Bearer <token>`; unset: loopback clients only
    admin_token: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    # the address tools and people reach ingest at (feedback links in answers are built on it)
    public_url: str = "http://127.0.0.1:8000"
    # outbound guard: hosts or CIDRs that may be private/loopback (and then http://), comma-separated
    outbound_allow: str = ""
    # deliver (contract 5, docs/delivery.md): timeouts, retry budget and size cap of every outbound call
    # keep budget + 2 x read + connect below ack_wait_s, so JetStream never redelivers a message still in work
    deliver_connect_timeout_s: float = Field(default=3.0, gt=0)
    deliver_read_timeout_s: float = Field(default=6.0, gt=0)
    deliver_budget_s: float = Field(default=12.0, ge=0)  # no retry of one call starts later than this
    deliver_max_response_bytes: int = Field(default=1024 * 1024, gt=0)
    deliver_max_deliver: int = Field(default=12, ge=1)  # deliveries of one message before its dead letter (~4 min of NAK delays)
    deliver_loops: int = Field(default=4, ge=1)  # fetch loops per input stream: a slow batch holds up only its own
    deliver_metrics_port: int | None = None  # `switchboard deliver` alone: serve /metrics here (`up`: ingest's /metrics)
    # the PM inbox (`switchboard web`; `up` serves it too)
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    # broker durability: the embedded nats-server fsyncs before every ack (else every 2 min; docs/reliability.md)
    nats_sync_always: bool = False
    # streams
    replicas: int = Field(default=1, ge=1, le=5)
    # start-up: how long to wait for JetStream to answer (a cluster still electing its meta leader) before failing
    jetstream_wait_s: float = Field(default=60.0, ge=0)
    dedup_horizon_hours: float = Field(default=72.0, gt=0)  # how long a delivery id is remembered
    retention_days: float = Field(default=30.0, gt=0)  # enriched items, queues, answers, dead letters
    # workers
    batch_size: int = Field(default=64, ge=1)
    # `up`: enrich worker processes (None = one per spare core, 0 = enrich inside `up`'s process)
    enrich_workers: int | None = Field(default=None, ge=0)
    ack_wait_s: float = Field(default=30.0, gt=0)
    max_deliver: int = Field(default=5, ge=1)
    # ingest
    publish_timeout_s: float = Field(default=5.0, gt=0)
    log_level: str = "info"
    log_json: bool | None = None  # default: JSON when stdout is not a TTY
    # enrich: on-miss account lookups to the CRM's REST API (off unless crm_kind is set; see docs/accounts.md)
    crm_kind: Literal["hubspot", "salesforce"] | None = None
    crm_base_url: str | None = None  # https://api.hubapi.com, https://<instance>.my.salesforce.com
    crm_token_env: str | None = None  # NAME of the env var that holds the API token (never the token itself)
    crm_api_version: str = "v61.0"  # salesforce REST API version
    crm_connect_timeout_s: float = Field(default=1.0, gt=0)
    crm_timeout_s: float = Field(default=2.0, gt=0)  # read/write/pool timeout of one request
    crm_lookup_budget_s: float = Field(default=4.0, gt=0)  # hard cap on one lookup, retries included
    crm_attempts: int = Field(default=3, ge=1, le=10)
    crm_max_retry_after_s: float = Field(default=2.0, ge=0)  # a longer 429 Retry-After gives up instead of waiting
    crm_breaker_failures: int = Field(default=3, ge=1)  # consecutive failed lookups that open the breaker
    crm_breaker_cooldown_s: float = Field(default=30.0, ge=0)
    crm_cache_ttl_s: float = Field(default=600.0, ge=0)  # found accounts
    crm_negative_ttl_s: float = Field(default=300.0, ge=0)  # "not in the CRM" answers
    crm_cache_size: int = Field(default=10_000, ge=1)
