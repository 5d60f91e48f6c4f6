"""Each configured source, resolved once at start-up: its adapter, secret values and rate-limit bucket."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from services.common.logging import get_logger
from services.config.models import Config, SourceConfig
from services.ingest.adapters import adapter_for
from services.ingest.adapters.base import Adapter
from services.ingest.ratelimit import TokenBucket

log = get_logger("switchboard.ingest")


@dataclass
class SourceRuntime:
    config: SourceConfig
    adapter: Adapter
    secrets: list[str]
    tokens: list[str]
    bucket: TokenBucket | None


def source_runtimes(config: Config, environ: Mapping[str, str]) -> dict[str, SourceRuntime]:
    """Resolve each source's adapter and secrets (env var values) once, at start-up."""
    runtimes: dict[str, SourceRuntime] = {}
    for source in config.sources:
        adapter = adapter_for(source.kind)
        if adapter is None:
            log.warning("source.kind_unavailable", source=source.name, kind=source.kind)
            continue
        secrets = [environ[n] for n in source.secrets if environ.get(n)]
        tokens = [environ[n] for n in source.tokens if environ.get(n)]
        missing = [n for n in (*source.secrets, *source.tokens) if not environ.get(n)]
        if missing:
            log.warning("source.env_missing", source=source.name, env_vars=missing)
        bucket = None
        if source.rate_limit:
            rl = source.rate_limit
            bucket = TokenBucket(rl.per_second, float(rl.burst or max(1, int(rl.per_second + 0.999))))
        runtimes[source.name] = SourceRuntime(source, adapter, secrets, tokens, bucket)
    return runtimes
