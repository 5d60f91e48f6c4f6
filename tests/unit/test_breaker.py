"""The circuit breaker and the TTL cache: pure state machines over an injected clock. Also the CRM's pure helpers:
SOQL escaping, and its base URL as the outbound guard sees it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.enrich.breaker import CircuitBreaker
from services.enrich.crm import CrmConfigError, TtlCache, check_base_url, soql_like, soql_string
from services.outbound.client import retry_after_seconds
from services.outbound.guard import AllowList

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_opens_after_n_consecutive_failures() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, cooldown_s=10, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state == "closed"
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    assert not breaker.allow()
    assert breaker.retry_in() == 10


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=10, clock=Clock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == "closed"


def test_half_open_lets_one_probe_through_then_closes_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=10, clock=clock)
    breaker.record_failure()
    clock.advance(9.9)
    assert not breaker.allow()
    clock.advance(0.1)
    assert breaker.state == "half_open"
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # a second caller while the probe is out
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.allow() and breaker.allow()


def test_a_failed_probe_reopens_for_a_full_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=10, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.advance(10)
    assert breaker.allow()
    breaker.record_failure()  # one failed probe is enough, whatever the threshold
    assert breaker.state == "open"
    clock.advance(5)
    assert not breaker.allow()
    clock.advance(5)
    assert breaker.allow()
    assert breaker.times_opened == 2


def test_a_lost_probe_frees_the_slot_after_another_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=10, clock=clock)
    breaker.record_failure()
    clock.advance(10)
    assert breaker.allow()  # the probe's caller is cancelled and never reports
    clock.advance(9)
    assert not breaker.allow()
    clock.advance(1)
    assert breaker.allow()


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker(cooldown_s=-1)


def test_ttl_cache_keeps_hits_and_misses_until_they_expire() -> None:
    clock = Clock()
    cache = TtlCache(max_entries=2, clock=clock)
    absent = cache.get("x")
    cache.put("hit", "account", 10)
    cache.put("miss", None, 5)
    assert cache.get("hit") == "account"
    assert cache.get("miss") is None  # a cached miss is not the same as absent
    assert cache.get("x") is absent
    clock.advance(5)
    assert cache.get("miss") is absent
    assert cache.get("hit") == "account"
    cache.put("a", 1, 10)
    cache.put("b", 2, 10)  # over max_entries: the least recently used goes
    assert cache.get("hit") is absent and len(cache) == 2
    cache.put("zero", 1, 0)  # a TTL of 0 turns caching off
    assert cache.get("zero") is absent


def test_retry_after_as_the_crm_sends_it() -> None:  # one parser for every outbound call: services/outbound
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(" 0.5 ") == 0.5
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None and retry_after_seconds("-1") is None and retry_after_seconds("nan") is None
    now = datetime.fromtimestamp(1445412470.0, UTC)
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 10.0


def test_soql_escaping() -> None:
    assert soql_string("o'brien\\x") == "o\\'brien\\\\x"
    assert soql_like("100%_a'b") == "100\\%\\_a\\'b"
    assert soql_string("a\nb") == "a\\nb"


TEST_ALLOW = AllowList.parse("127.0.0.1, ::1, localhost")  # what tests set SWITCHBOARD_OUTBOUND_ALLOW to


@pytest.mark.parametrize("url", ["https://api.hubapi.com", "https://acme.my.salesforce.com/"])
def test_base_url_allowed(url: str) -> None:
    assert check_base_url(url) == url.rstrip("/")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9", "https://127.0.0.1:9"])
def test_loopback_base_url_only_when_allow_listed(url: str) -> None:
    assert check_base_url(url + "/", TEST_ALLOW) == url
    with pytest.raises(CrmConfigError, match="refused by the outbound guard"):
        check_base_url(url)  # no loopback exception of its own: the guard decides, as for deliveries


@pytest.mark.parametrize("url, why", [
    ("http://api.hubapi.com", "https only"),
    ("ftp://x.com", "scheme"),
    ("https://", "without a host"),
    ("x.com", "without a host"),
    ("https://u:p@x.com", "credentials"),
    ("https://x.com/?a=1", "query"),
    ("http://169.254.169.254", "https only"),
    ("https://169.254.169.254/latest", "non-public"),
    ("https://10.0.0.5", "non-public"),
    ("https://[fd00:ec2::254]", "non-public"),
    ("https://0177.0.0.1", "non-canonical"),
    ("https://2130706433", "non-canonical"),
])
def test_base_url_refused(url: str, why: str) -> None:
    with pytest.raises(CrmConfigError, match=why):
        check_base_url(url, AllowList.parse("localhost"))
