"""Process settings from the environment (prefix SWITCHBOARD_, plus NATS_URL). Secrets are never read here:
each source names its own env vars in sources.yaml."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore", populate_by_name=True)

    config: Path = Path("examples/config")
    data: Path = Path(".switchboard")
    nats_url: str | None = Field(default=None, validation_alias=AliasChoices("NATS_URL", "SWITCHBOARD_NATS_URL"))
    nats_user: str | None = None
    nats_password: str | None = None
    nats_creds: Path | None = None  # NATS .creds file (JWT + nkey seed)
    nats_nkey_seed: Path | None = None  # file holding an nkey seed
    nats_tls_ca: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    # streams
    replicas: int = Field(default=1, ge=1, le=5)
    dedup_horizon_hours: float = Field(default=72.0, gt=0)  # how long a delivery id is remembered
    retention_days: float = Field(default=30.0, gt=0)  # enriched items, queues, answers, dead letters
    # workers
    batch_size: int = Field(default=64, ge=1)
    ack_wait_s: float = Field(default=30.0, gt=0)
    max_deliver: int = Field(default=5, ge=1)
    # ingest
    publish_timeout_s: float = Field(default=5.0, gt=0)
    log_level: str = "info"
    log_json: bool | None = None  # default: JSON when stdout is not a TTY
