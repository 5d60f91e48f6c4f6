"""The circuit breaker and the TTL cache: pure state machines over an injected clock."""

from __future__ import annotations

import pytest

from services.enrich.breaker import CircuitBreaker
from services.enrich.crm import CrmConfigError, TtlCache, check_base_url, parse_retry_after, soql_like, soql_string

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


def test_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0


def test_soql_escaping() -> None:
    assert soql_string("o'brien\\x") == "o\\'brien\\\\x"
    assert soql_like("100%_a'b") == "100\\%\\_a\\'b"
    assert soql_string("a\nb") == "a\\nb"


@pytest.mark.parametrize("url", ["https://api.hubapi.com", "http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9"])
def test_base_url_allowed(url: str) -> None:
    assert check_base_url(url + "/") == url


@pytest.mark.parametrize(
    "url", ["http://api.hubapi.com", "ftp://x.com", "https://", "https://u:p@x.com", "https://x.com/?a=1", "x.com"]
)
def test_base_url_refused(url: str) -> None:
    with pytest.raises(CrmConfigError):
        check_base_url(url)
