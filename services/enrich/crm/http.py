"""HTTP plumbing shared by the CRM adapters: base-URL checks, Retry-After, and HttpCrm (an httpx client bound to
one base URL, with retries, timeouts and a hard time budget)."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from services.common.settings import Settings
from services.enrich.crm.lookup import CrmConfigError, CrmUnavailable

USER_AGENT = "switchboard-enrich/1 (account lookup)"


class _Retryable(Exception):
    """A transient HTTP answer (429, 5xx): retried; `retry_after` from the response when it gave one."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


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
