"""CrmResolver (cache, then breaker, then the CRM's API) and building it, or just the adapter, from settings."""

from __future__ import annotations

import asyncio
import os
import re
import time
from dataclasses import dataclass, field
from typing import Callable

from schemas.item import Account, Item
from services.common.logging import get_logger
from services.common.settings import Settings
from services.config.models import Config
from services.enrich.breaker import CircuitBreaker
from services.enrich.crm.cache import ABSENT, TtlCache
from services.enrich.crm.http import crm_outbound_settings
from services.enrich.crm.hubspot import HubSpotCompanies
from services.enrich.crm.lookup import CrmConfigError, CrmLookup, CrmUnavailable
from services.enrich.crm.salesforce import SalesforceAccounts
from services.enrich.matching import Candidate
from services.outbound.guard import AllowList

log = get_logger("switchboard.enrich.crm")


@dataclass
class ResolverStats:
    lookups: int = 0  # calls to the CRM
    hits: int = 0
    misses: int = 0
    failures: int = 0
    cached: int = 0  # answered from the cache
    skipped_open: int = 0  # skipped because the breaker was open
    last_error: str | None = field(default=None)


class CrmResolver:
    """Looks up an item's account in the CRM when the directory had none: cache, then breaker, then the API."""

    def __init__(
        self,
        lookup: CrmLookup,
        breaker: CircuitBreaker | None = None,
        cache: TtlCache | None = None,
        hit_ttl_s: float = 600.0,
        miss_ttl_s: float = 300.0,
    ) -> None:
        self.lookup = lookup
        self.breaker = breaker or CircuitBreaker()
        self.cache = cache or TtlCache(clock=self.breaker.clock)
        self.hit_ttl_s = hit_ttl_s
        self.miss_ttl_s = miss_ttl_s
        self.stats = ResolverStats()

    @property
    def kind(self) -> str:
        return self.lookup.kind

    def queries(self, item: Item, cands: list[Candidate]) -> list[Candidate]:
        """The candidates worth asking the CRM about: its own ids, and domains (external ids are other tools')."""
        return [c for c in cands if (c.how == "domain" or (c.how == "id" and self.lookup.accepts_id(c.value, item.kind)))]

    async def resolve(self, item: Item, cands: list[Candidate]) -> Account | None:
        """The CRM's account for the first candidate it knows, or None (not found, or the CRM is unavailable)."""
        for cand in self.queries(item, cands):
            key = f"{cand.how}:{cand.value}"
            cached = self.cache.get(key)
            if cached is not ABSENT:
                self.stats.cached += 1
                if cached is not None:
                    return cached
                continue
            if not self.breaker.allow():
                self.stats.skipped_open += 1
                return None  # the CRM is down: the item flows on without an account
            self.stats.lookups += 1
            try:
                if cand.how == "id":
                    account = await self.lookup.by_id(cand.value)
                else:
                    account = await self.lookup.by_domain(cand.value)
            except CrmUnavailable as exc:
                self.breaker.record_failure()
                self.stats.failures += 1
                self.stats.last_error = str(exc)
                log.warning("crm.lookup_failed", crm=self.kind, by=cand.how, error=str(exc),
                            breaker=self.breaker.state, retry_in_s=round(self.breaker.retry_in(), 1))
                return None
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a bug in parsing a CRM answer must not stall the stage
                self.breaker.record_failure()
                self.stats.failures += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("crm.lookup_error", crm=self.kind, by=cand.how)
                return None
            self.breaker.record_success()
            if account is None:
                self.stats.misses += 1
                self.cache.put(key, None, self.miss_ttl_s)
                continue
            self.stats.hits += 1
            self.cache.put(key, account, self.hit_ttl_s)
            self.cache.put(f"id:{account.id}", account, self.hit_ttl_s)
            log.info("crm.lookup_hit", crm=self.kind, by=cand.how, account=account.id)
            return account
        return None

    async def aclose(self) -> None:
        await self.lookup.aclose()


def _source_options(config: Config | None, kind: str) -> dict[str, str]:
    """Field mappings from the config's first source of this kind, so lookups map fields like its webhooks do."""
    if config is None:
        return {}
    suffix = "_property" if kind == "hubspot" else "_field"
    for source in config.sources:
        if source.kind == kind:
            return {k[: -len(suffix)]: str(v) for k, v in source.options.items() if k.endswith(suffix) and v}
    return {}


def crm_lookup_from_settings(
    settings: Settings,
    config: Config | None = None,
    environ: dict[str, str] | None = None,
) -> CrmLookup | None:
    """The configured CRM adapter, None when lookups are off; CrmConfigError when the settings cannot work
    (including a base URL the outbound guard refuses: SWITCHBOARD_OUTBOUND_ALLOW applies to CRM lookups too)."""
    if settings.crm_kind is None:
        return None
    env = os.environ if environ is None else environ
    if not settings.crm_base_url:
        raise CrmConfigError("SWITCHBOARD_CRM_BASE_URL is required when SWITCHBOARD_CRM_KIND is set")
    if not settings.crm_token_env:
        raise CrmConfigError("SWITCHBOARD_CRM_TOKEN_ENV (the NAME of the env var holding the token) is required")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", settings.crm_token_env):
        raise CrmConfigError("SWITCHBOARD_CRM_TOKEN_ENV must name an environment variable, not hold the token")
    token = env.get(settings.crm_token_env, "").strip()
    if not token:
        raise CrmConfigError(f"environment variable {settings.crm_token_env} (the CRM token) is empty or unset")
    outbound = crm_outbound_settings(settings)
    allow = AllowList.parse(settings.outbound_allow)
    mapping = _source_options(config, settings.crm_kind)
    if settings.crm_kind == "hubspot":
        return HubSpotCompanies(settings.crm_base_url, token, outbound, properties=mapping, allow=allow)
    return SalesforceAccounts(settings.crm_base_url, token, outbound, api_version=settings.crm_api_version,
                              fields=mapping, allow=allow)


def crm_resolver_from_settings(
    settings: Settings,
    config: Config | None = None,
    environ: dict[str, str] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> CrmResolver | None:
    lookup = crm_lookup_from_settings(settings, config, environ)
    if lookup is None:
        return None
    return CrmResolver(
        lookup,
        CircuitBreaker(settings.crm_breaker_failures, settings.crm_breaker_cooldown_s, clock),
        TtlCache(settings.crm_cache_size, clock),
        hit_ttl_s=settings.crm_cache_ttl_s,
        miss_ttl_s=settings.crm_negative_ttl_s,
    )
