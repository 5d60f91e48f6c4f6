"""The outbound HTTP client: one request (`send`) or one request with bounded retries (`deliver`).

Every call goes through the guard (guard.check_url before, transport.GuardedBackend at connect time), never
follows a redirect, reads at most `max_response_bytes`, and has connect/read timeouts. Retries (tenacity):
429, 5xx, 408, timeouts and connection errors, with exponential backoff that honours `Retry-After` (seconds or
an HTTP date); no retry starts after `budget_s`. A retry after an attempt whose outcome is unknown (the
request went out, no answer came) first looks for the delivery's marker where the tool lets us (`Lookup`).
Callers with a tighter policy (enrich's CRM lookups) set `attempts`, `max_retry_after_s` and `deadline_s`.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Callable
from urllib.parse import urlsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from schemas.delivery import RequestRecord
from services.outbound.errors import (
    ConnectFailed,
    OutboundError,
    OutboundTransient,
    OutcomeUnknown,
    Redirected,
    Rejected,
    ServerFailed,
    Throttled,
    TooLarge,
)
from services.outbound.guard import AllowList, check_url
from services.outbound.transport import GuardedTransport, Resolver, system_resolve

USER_AGENT = "Switchboard-deliver/1"
DELAY_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")
FAILING_AFTER = 3  # deliveries in a row that failed: the host is treated as down (one attempt each)


@dataclass(frozen=True)
class Lookup:
    """Where to look for a delivery that may already have been applied: GET `url`; found when `marker` is in it."""

    url: str
    marker: str
    headers: dict[str, str] = field(default_factory=dict)
    auth: str | None = None


@dataclass(frozen=True)
class OutboundRequest:
    kind: str
    method: str
    url: str
    body: Any  # JSON-able; sent as `content` when that is given (signed bodies), else as compact JSON
    headers: dict[str, str] = field(default_factory=dict)  # never secret: kept in records
    auth: str | None = None  # the Authorization header value: secret, never recorded or logged
    content: bytes | None = None
    lookup: Lookup | None = None
    expect_ok: bool = False  # Slack Web API: HTTP 200 with {"ok": false} is a failure
    secret_url: bool = False  # Slack webhook and response URLs are credentials: records keep only the host

    def payload(self) -> bytes | None:
        """The body to send: None for a GET/HEAD without one (no `null` body, no Content-Type)."""
        if self.content is not None:
            return self.content
        if self.body is None and self.method in ("GET", "HEAD"):
            return None
        return encode_json(self.body)

    def record(self, status: int | None = None, response: str | None = None) -> RequestRecord:
        url = self.url
        if self.secret_url:
            parts = urlsplit(url)
            url = f"{parts.scheme}://{parts.netloc}/…(secret path withheld)"
        return RequestRecord(method=self.method, url=url, headers=dict(self.headers), body=self.body,
                             status=status, response=response)


@dataclass(frozen=True)
class Outcome:
    status: int | None
    attempts: int
    found_by_lookup: bool = False  # an earlier attempt had been applied: found its marker, sent nothing
    response: str | None = None  # the answer's first 500 characters (kept in records)
    text: str = field(default="", repr=False)  # the whole answer (read by callers that parse it: CRM lookups)


def encode_json(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After: 120` or `Retry-After: Wed, 21 Oct 2026 07:28:00 GMT` -> seconds (>= 0); None when absent/bad.
    Decimal seconds (`0.5`, which some APIs send) are read too."""
    if not value:
        return None
    value = value.strip()
    if DELAY_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class OutboundSettings:
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 6.0
    budget_s: float = 12.0  # no retry starts later than this after the first attempt
    max_response_bytes: int = 1024 * 1024
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    attempts: int | None = None  # at most this many attempts per deliver() (None: only the budget bounds them)
    max_retry_after_s: float | None = None  # a longer Retry-After gives up at once instead of waiting
    deadline_s: float | None = None  # hard cap on one deliver(), attempts and waits included: OutcomeUnknown


class OutboundClient:
    def __init__(
        self,
        configured_hosts: frozenset[str],
        allow: AllowList,
        settings: OutboundSettings = OutboundSettings(),
        resolve: Resolver = system_resolve,
        on_retry: Callable[[OutboundRequest, BaseException], None] | None = None,
    ) -> None:
        self.hosts = frozenset(h.lower() for h in configured_hosts)
        self.failing: dict[str, int] = {}  # host -> deliveries in a row that ended in failure
        self.allow = allow
        self.settings = settings
        self.on_retry = on_retry
        timeout = httpx.Timeout(settings.read_timeout_s, connect=settings.connect_timeout_s)
        self.http = httpx.AsyncClient(transport=GuardedTransport(allow, resolve), timeout=timeout,
                                      follow_redirects=False, trust_env=False)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def send(self, req: OutboundRequest) -> tuple[int, str]:
        """One attempt: (status, body text) of a 2xx; raises an OutboundError otherwise."""
        check_url(req.url, self.hosts, self.allow)
        content = req.payload()
        headers = {"User-Agent": USER_AGENT, **({} if content is None else {"Content-Type": "application/json"}),
                   **req.headers}
        if req.auth:
            headers["Authorization"] = req.auth
        status, text = await self._exchange(req, req.method, req.url, headers, content)
        if req.expect_ok:
            try:
                ok = bool(json.loads(text).get("ok"))
            except (ValueError, AttributeError):
                ok = False
            if not ok:
                raise Rejected(f"{req.kind}: {status} but not ok: {text[:200]}", req.record(status, text[:500]), status)
        return status, text

    async def find(self, lookup: Lookup, req: OutboundRequest) -> bool:
        """Is the marker already in the tool? (GET lookup.url; errors are raised like any attempt's.)"""
        check_url(lookup.url, self.hosts, self.allow)
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **lookup.headers}
        if lookup.auth:
            headers["Authorization"] = lookup.auth
        _, text = await self._exchange(req, "GET", lookup.url, headers, None)
        return lookup.marker in text

    async def deliver(self, req: OutboundRequest, look_first: bool = False) -> Outcome:
        """Send with retries. `look_first`: an earlier attempt (another process) may have been applied.
        A host whose last `FAILING_AFTER` deliveries all failed gets one attempt, no in-process retries, until
        it answers again: its messages go back to JetStream (NAK with a growing delay) instead of holding a
        batch that also carries other tools' deliveries."""
        host = (urlsplit(req.url).hostname or "").lower()
        degraded = self.failing.get(host, 0) >= FAILING_AFTER
        deadline = asyncio.timeout(self.settings.deadline_s)
        try:
            async with deadline:
                outcome = await self._deliver(req, look_first, degraded)
        except TimeoutError:  # httpx's own timeouts are classified in _exchange: this is the deadline
            if not deadline.expired():
                raise
            self.failing[host] = self.failing.get(host, 0) + 1
            raise OutcomeUnknown(f"{req.kind}: no answer within {self.settings.deadline_s:g}s", req.record()) from None
        except OutboundTransient:  # no answer, 429 or 5xx: the host is struggling
            self.failing[host] = self.failing.get(host, 0) + 1
            raise
        except (Rejected, Redirected, TooLarge):  # the host answered (this request is what is wrong)
            self.failing.pop(host, None)
            raise
        self.failing.pop(host, None)
        return outcome

    async def _deliver(self, req: OutboundRequest, look_first: bool, degraded: bool) -> Outcome:
        attempts = 0
        unknown = look_first
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(OutboundTransient),
            stop=(lambda state: True) if degraded else self._stop, wait=self._wait,
            before_sleep=self._before_sleep(req), reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                try:
                    if unknown and req.lookup is not None and await self.find(req.lookup, req):
                        return Outcome(None, attempts, found_by_lookup=True)
                    attempts += 1
                    status, text = await self.send(req)
                except OutboundError as exc:
                    exc.attempts = attempts  # type: ignore[attr-defined]
                    unknown = unknown or getattr(exc, "may_have_applied", False)
                    raise
                return Outcome(status, attempts, response=text[:500], text=text)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- internals ---------------------------------------------------------------------------------------

    def _backoff(self, state: RetryCallState) -> float:
        s = self.settings
        base = min(s.backoff_max_s, s.backoff_base_s * 2 ** max(0, state.attempt_number - 1))
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        return max(base, retry_after) if retry_after is not None else base

    def _wait(self, state: RetryCallState) -> float:
        return self._backoff(state)

    def _stop(self, state: RetryCallState) -> bool:
        """Stop after `attempts`, or when the next retry would start after the budget (a long Retry-After gives
        up at once), or when the tool asks to wait longer than `max_retry_after_s`."""
        s = self.settings
        if s.attempts is not None and state.attempt_number >= s.attempts:
            return True
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if s.max_retry_after_s is not None and retry_after is not None and retry_after > s.max_retry_after_s:
            return True
        return state.seconds_since_start + self._backoff(state) > s.budget_s

    def _before_sleep(self, req: OutboundRequest) -> Callable[[RetryCallState], None]:
        def hook(state: RetryCallState) -> None:
            if self.on_retry is not None and state.outcome is not None:
                self.on_retry(req, state.outcome.exception())  # type: ignore[arg-type]
        return hook

    async def _exchange(self, req: OutboundRequest, method: str, url: str, headers: dict[str, str],
                        content: bytes | None) -> tuple[int, str]:
        sent = False
        try:
            async with self.http.stream(method, url, headers=headers, content=content) as resp:
                sent = True
                body = bytearray()
                async for chunk in resp.aiter_bytes():
                    body += chunk
                    if len(body) > self.settings.max_response_bytes:
                        raise TooLarge(f"{req.kind}: answer over {self.settings.max_response_bytes} bytes",
                                       req.record(resp.status_code), resp.status_code)
                text = body.decode("utf-8", "replace")
                self._classify(req, resp, text)
                return resp.status_code, text
        except OutboundError:
            raise
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise ConnectFailed(f"{req.kind}: cannot connect: {type(exc).__name__}", req.record()) from None
        except httpx.TransportError as exc:  # read/write timeout, connection dropped mid-exchange
            raise OutcomeUnknown(
                f"{req.kind}: no answer ({type(exc).__name__}{', after the headers' if sent else ''})", req.record()
            ) from None

    @staticmethod
    def _classify(req: OutboundRequest, resp: httpx.Response, text: str) -> None:
        code = resp.status_code
        if 200 <= code < 300:
            return
        record = req.record(code, text[:500])
        retry_after = retry_after_seconds(resp.headers.get("retry-after"))
        if 300 <= code < 400:
            raise Redirected(f"{req.kind}: {code} redirect to {resp.headers.get('location', '?')} (not followed)", record, code)
        if code == 429:
            raise Throttled(f"{req.kind}: 429 throttled (Retry-After {retry_after})", record, code, retry_after)
        if code >= 500 or code == 408:
            raise ServerFailed(f"{req.kind}: {code} {text[:120]}", record, code, retry_after)
        raise Rejected(f"{req.kind}: {code} {text[:200]}", record, code)

