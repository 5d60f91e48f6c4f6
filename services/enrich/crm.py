"""On-miss account lookups in the CRM's REST API: a port, HubSpot and Salesforce adapters over httpx, and the
resolver that puts a TTL cache (hits and misses) and a circuit breaker in front of them.

The enrich worker must never stall on the CRM: every lookup has a hard time budget (retries included), a breaker
opens after consecutive failures and then lookups are skipped at once, and a failed lookup just means the item
flows on without an account. Only the configured base URL is ever contacted: requests are relative to it,
redirects are not followed, path segments are percent-encoded, and the base URL must be https (plain http only
on loopback, for tests). The API token is read from the environment variable that settings name and is never
logged or shown in a repr.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Protocol
from urllib.parse import quote, urlsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from schemas.item import Account, Item
from services.common.logging import get_logger
from services.common.settings import Settings
from services.config.models import Config
from services.enrich.breaker import CircuitBreaker
from services.enrich.matching import Candidate, normalize_domain

log = get_logger("switchboard.enrich.crm")

USER_AGENT = "switchboard-enrich/1 (account lookup)"


# --- errors ----------------------------------------------------------------------------------------------


class CrmConfigError(ValueError):
    """The CRM lookup settings cannot work (bad base URL, missing token): refuse to start."""


class CrmUnavailable(Exception):
    """A lookup failed (after its retries): the CRM did not say whether the account exists."""


class _Retryable(Exception):
    """A transient HTTP answer (429, 5xx): retried; `retry_after` from the response when it gave one."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


# --- the port --------------------------------------------------------------------------------------------


class CrmLookup(Protocol):
    """Finds one account in a CRM. None = the CRM answered that there is none; CrmUnavailable = no answer."""

    kind: str

    def accepts_id(self, account_id: str, item_kind: str) -> bool:
        """Is this hint id one of this CRM's record ids (worth a by-id lookup)?"""
        ...

    async def by_id(self, account_id: str) -> Account | None: ...

    async def by_domain(self, domain: str) -> Account | None: ...

    async def aclose(self) -> None: ...


# --- HTTP plumbing shared by the adapters ----------------------------------------------------------------


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """The base URL, or CrmConfigError: https with a host and no credentials/query; http only to loopback."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:
        raise CrmConfigError(f"CRM base URL {url!r} has no host")
    if parts.username or parts.password:
        raise CrmConfigError("CRM base URL must not carry credentials; name the token's env var instead")
    if parts.query or parts.fragment:
        raise CrmConfigError("CRM base URL must not carry a query or fragment")
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host)):
        return url.rstrip("/")
    raise CrmConfigError(f"CRM base URL must be https (plain http only to a loopback host for tests), got {parts.scheme!r}")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class HttpPolicy:
    connect_timeout_s: float = 1.0
    timeout_s: float = 2.0
    budget_s: float = 4.0
    attempts: int = 3
    max_retry_after_s: float = 2.0
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> "HttpPolicy":
        return cls(
            connect_timeout_s=settings.crm_connect_timeout_s,
            timeout_s=settings.crm_timeout_s,
            budget_s=settings.crm_lookup_budget_s,
            attempts=settings.crm_attempts,
            max_retry_after_s=settings.crm_max_retry_after_s,
        )


class HttpCrm:
    """An httpx.AsyncClient bound to one base URL, with retries (tenacity), timeouts and a hard budget."""

    kind = "http"

    def __init__(
        self,
        base_url: str,
        token: str,
        policy: HttpPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self.policy = policy or HttpPolicy()
        self._host = urlsplit(self.base_url).netloc
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": USER_AGENT},
            timeout=httpx.Timeout(self.policy.timeout_s, connect=self.policy.connect_timeout_s),
            follow_redirects=False,
            trust_env=False,  # no proxies or netrc from the environment: only the configured host is contacted
            transport=transport,
        )

    def __repr__(self) -> str:  # never the token
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return exc.retry_after
        backoff = self.policy.backoff_initial_s * (2 ** (state.attempt_number - 1))
        return min(self.policy.backoff_max_s, backoff)

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        """The response (2xx), None for 404, or CrmUnavailable. Retries connect errors, timeouts, 429, 5xx."""
        try:
            async with asyncio.timeout(self.policy.budget_s):
                async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(self.policy.attempts),
                    wait=self._wait,
                    retry=retry_if_exception_type((httpx.TransportError, _Retryable)),
                    reraise=True,
                ):
                    with attempt:
                        return await self._once(method, path, **kwargs)
        except TimeoutError:
            raise CrmUnavailable(f"{self.kind}: no answer within {self.policy.budget_s:g}s") from None
        except _Retryable as exc:
            raise CrmUnavailable(f"{self.kind}: {exc} after {self.policy.attempts} attempts") from None
        except httpx.TransportError as exc:
            raise CrmUnavailable(f"{self.kind}: {type(exc).__name__} after {self.policy.attempts} attempts") from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        if "://" in path or path.startswith("//"):
            raise CrmUnavailable("refusing an absolute URL")  # only ever the configured host
        response = await self._client.request(method, path, **kwargs)
        if response.url.netloc.decode() != self._host:  # pragma: no cover - guarded by relative paths
            raise CrmUnavailable("refusing a request outside the configured host")
        status = response.status_code
        if 200 <= status < 300:
            return response
        if status == 404:
            return None
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if retry_after is not None and retry_after > self.policy.max_retry_after_s:
                raise CrmUnavailable(f"{self.kind}: HTTP {status}, Retry-After {retry_after:g}s is over the limit")
            raise _Retryable(status, retry_after)
        if 300 <= status < 400:
            raise CrmUnavailable(f"{self.kind}: HTTP {status} redirect not followed")
        raise CrmUnavailable(f"{self.kind}: HTTP {status}")  # 400/401/403/...: retrying will not help

    @staticmethod
    def json_of(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise CrmUnavailable("the CRM answered with something that is not JSON") from None


def _as_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(str(value).replace(",", ""))
    except ValueError:
        return None


def _as_str(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


# --- HubSpot companies -----------------------------------------------------------------------------------


HUBSPOT_PROPERTIES = {"name": "name", "domain": "domain", "arr": "annualrevenue", "plan": "plan", "owner": "hubspot_owner_id"}
HUBSPOT_ID_RE = re.compile(r"^[0-9]{1,20}$")
PROPERTY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


class HubSpotCompanies(HttpCrm):
    """HubSpot CRM v3 companies: GET /crm/v3/objects/companies/{id}, POST /crm/v3/objects/companies/search."""

    kind = "hubspot"

    def __init__(self, base_url: str, token: str, policy: HttpPolicy | None = None,
                 properties: dict[str, str] | None = None, transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(base_url, token, policy, transport)
        self.properties = _field_map(HUBSPOT_PROPERTIES, properties)

    def accepts_id(self, account_id: str, item_kind: str) -> bool:
        # HubSpot ids are bare numbers, which other tools use too: only trust ids that HubSpot itself sent.
        return item_kind == "hubspot" and bool(HUBSPOT_ID_RE.match(account_id))

    def _account(self, record: dict[str, Any]) -> Account | None:
        record_id = _as_str(record.get("id"))
        props = record.get("properties") or {}
        if not record_id or not isinstance(props, dict) or record.get("archived"):
            return None
        p = self.properties
        return Account(
            id=record_id,
            name=_as_str(props.get(p["name"])),
            domain=normalize_domain(_as_str(props.get(p["domain"]))),
            arr=_as_float(props.get(p["arr"])),
            plan=_as_str(props.get(p["plan"])),
            owner=_as_str(props.get(p["owner"])),
            attributes={"crm": "hubspot"},
        )

    async def by_id(self, account_id: str) -> Account | None:
        if not HUBSPOT_ID_RE.match(account_id):
            return None
        response = await self.request(
            "GET",
            f"/crm/v3/objects/companies/{quote(account_id, safe='')}",
            params={"properties": ",".join(self.properties.values()), "archived": "false"},
        )
        if response is None:
            return None
        body = self.json_of(response)
        return self._account(body) if isinstance(body, dict) else None

    async def by_domain(self, domain: str) -> Account | None:
        prop = self.properties["domain"]
        body = {
            # filter groups are ORed: the bare domain or its www. form, as people type it into HubSpot
            "filterGroups": [
                {"filters": [{"propertyName": prop, "operator": "EQ", "value": value}]}
                for value in (domain, f"www.{domain}")
            ],
            "properties": list(self.properties.values()),
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "limit": 10,
        }
        response = await self.request("POST", "/crm/v3/objects/companies/search", json=body)
        if response is None:
            raise CrmUnavailable("hubspot: search endpoint not found (check the base URL)")
        data = self.json_of(response)
        results = data.get("results") if isinstance(data, dict) else None
        for record in results or []:
            account = self._account(record) if isinstance(record, dict) else None
            if account and account.domain == domain:  # the oldest company with exactly this domain
                return account
        return None


# --- Salesforce accounts ---------------------------------------------------------------------------------


SALESFORCE_FIELDS = {"name": "Name", "domain": "Website", "arr": "AnnualRevenue", "plan": "Type", "owner": "OwnerId"}
SALESFORCE_ACCOUNT_ID_RE = re.compile(r"^001[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$")  # 001 = the Account key prefix
API_VERSION_RE = re.compile(r"^v\d{1,3}\.\d$")


def soql_string(value: str) -> str:
    """A SOQL string literal's content: backslash, quotes and control characters escaped."""
    out = []
    for c in value:
        if c in "\\'\"":
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif ord(c) < 32:
            continue
        else:
            out.append(c)
    return "".join(out)


def soql_like(value: str) -> str:
    """A SOQL LIKE pattern's content matching `value` literally: string escapes plus the % and _ wildcards."""
    return soql_string(value).replace("%", "\\%").replace("_", "\\_")


class SalesforceAccounts(HttpCrm):
    """Salesforce REST: GET /services/data/vXX.X/sobjects/Account/{id} and /query?q=SELECT ... FROM Account."""

    kind = "salesforce"

    def __init__(self, base_url: str, token: str, policy: HttpPolicy | None = None, api_version: str = "v61.0",
                 fields: dict[str, str] | None = None, transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(base_url, token, policy, transport)
        if not API_VERSION_RE.match(api_version):
            raise CrmConfigError(f"Salesforce API version must look like v61.0, got {api_version!r}")
        self.api_version = api_version
        self.fields = _field_map(SALESFORCE_FIELDS, fields)

    def accepts_id(self, account_id: str, item_kind: str) -> bool:
        # Salesforce ids say what they are: 001... is an Account, whichever tool passed it on.
        return bool(SALESFORCE_ACCOUNT_ID_RE.match(account_id))

    def _select(self) -> str:
        return ", ".join(dict.fromkeys(["Id", *self.fields.values()]))

    def _account(self, record: dict[str, Any]) -> Account | None:
        record_id = _as_str(record.get("Id"))
        if not record_id:
            return None
        f = self.fields
        return Account(
            id=record_id,
            name=_as_str(record.get(f["name"])),
            domain=normalize_domain(_as_str(record.get(f["domain"]))),
            arr=_as_float(record.get(f["arr"])),
            plan=_as_str(record.get(f["plan"])),
            owner=_as_str(record.get(f["owner"])),
            attributes={"crm": "salesforce"},
        )

    async def by_id(self, account_id: str) -> Account | None:
        if not SALESFORCE_ACCOUNT_ID_RE.match(account_id):
            return None
        response = await self.request(
            "GET",
            f"/services/data/{self.api_version}/sobjects/Account/{quote(account_id, safe='')}",
            params={"fields": self._select()},
        )
        if response is None:
            return None
        body = self.json_of(response)
        return self._account(body) if isinstance(body, dict) else None

    def domain_query(self, domain: str) -> str:
        return (
            f"SELECT {self._select()} FROM Account "
            f"WHERE {self.fields['domain']} LIKE '%{soql_like(domain)}%' ORDER BY CreatedDate ASC LIMIT 20"
        )

    async def by_domain(self, domain: str) -> Account | None:
        response = await self.request(
            "GET", f"/services/data/{self.api_version}/query", params={"q": self.domain_query(domain)}
        )
        if response is None:
            raise CrmUnavailable("salesforce: query endpoint not found (check the base URL and API version)")
        data = self.json_of(response)
        records = data.get("records") if isinstance(data, dict) else None
        for record in records or []:
            # LIKE '%acme.com%' also finds notacme.com and acme.com.evil.io: keep only this exact domain
            account = self._account(record) if isinstance(record, dict) else None
            if account and account.domain == domain:
                return account
        return None


def _field_map(defaults: dict[str, str], overrides: dict[str, str] | None) -> dict[str, str]:
    mapping = dict(defaults)
    for key, value in (overrides or {}).items():
        if key in mapping and value:
            if not PROPERTY_RE.match(value):
                raise CrmConfigError(f"CRM field name {value!r} for {key} is not a plain field name")
            mapping[key] = value
    return mapping


# --- cache + breaker in front of a lookup ----------------------------------------------------------------


_ABSENT = object()


class TtlCache:
    """Bounded LRU cache with a TTL per entry, over an injected clock. Stores hits and misses (None)."""

    def __init__(self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._data: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def get(self, key: str) -> Any:
        """The cached value (None for a cached miss) or `_ABSENT`."""
        entry = self._data.get(key)
        if entry is None:
            return _ABSENT
        expires, value = entry
        if self.clock() >= expires:
            del self._data[key]
            return _ABSENT
        self._data.move_to_end(key)
        return value

    def put(self, key: str, value: Any, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        self._data[key] = (self.clock() + ttl_s, value)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


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
            if cached is not _ABSENT:
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


# --- from settings ---------------------------------------------------------------------------------------


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
    transport: httpx.AsyncBaseTransport | None = None,
) -> CrmLookup | None:
    """The configured CRM adapter, None when lookups are off; CrmConfigError when the settings cannot work."""
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
    policy = HttpPolicy.from_settings(settings)
    mapping = _source_options(config, settings.crm_kind)
    if settings.crm_kind == "hubspot":
        return HubSpotCompanies(settings.crm_base_url, token, policy, properties=mapping, transport=transport)
    return SalesforceAccounts(settings.crm_base_url, token, policy, api_version=settings.crm_api_version,
                              fields=mapping, transport=transport)


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
