"""Per-source token buckets: a burst of `capacity`, then one request per 1/rate seconds, Retry-After rounded up."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.config.models import Config, RateLimit, SourceConfig
from services.ingest.app import source_runtimes
from services.ingest.ratelimit import TokenBucket, retry_after_seconds

pytestmark = pytest.mark.unit


def test_a_full_bucket_allows_its_burst_then_refuses() -> None:
    bucket = TokenBucket(rate=1.0, capacity=5)
    assert [bucket.take(100.0) for _ in range(5)] == [0.0] * 5
    wait = bucket.take(100.0)
    assert wait == pytest.approx(1.0)
    assert retry_after_seconds(wait) == 1


def test_tokens_come_back_at_the_rate_and_never_beyond_capacity() -> None:
    bucket = TokenBucket(rate=2.0, capacity=3)
    for _ in range(3):
        assert bucket.take(0.0) == 0
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.5) == 0  # one token after 1/rate seconds
    assert bucket.take(0.5) > 0
    # a long idle period refills only to capacity
    assert [bucket.take(1000.0) for _ in range(4)][:3] == [0.0, 0.0, 0.0]
    assert bucket.take(1000.0) > 0


def test_a_refused_request_does_not_spend_a_token() -> None:
    bucket = TokenBucket(rate=1.0, capacity=1)
    assert bucket.take(0.0) == 0
    for t in (0.1, 0.2, 0.3):
        assert bucket.take(t) > 0
    assert bucket.take(1.0) == 0  # refused requests did not push the next token further away


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert retry_after_seconds(0.001) == 1
    assert retry_after_seconds(1.0) == 1
    assert retry_after_seconds(1.01) == 2
    bucket = TokenBucket(rate=0.01, capacity=1)  # one per 100 s
    bucket.take(0.0)
    assert retry_after_seconds(bucket.take(0.0)) == 100


@given(
    rate=st.floats(0.01, 1000),
    capacity=st.integers(1, 100),
    gaps=st.lists(st.floats(0, 5), min_size=1, max_size=200),
)
def test_never_more_than_capacity_plus_rate_times_elapsed(rate: float, capacity: int, gaps: list[float]) -> None:
    bucket = TokenBucket(rate=rate, capacity=capacity)
    now, allowed = 0.0, 0
    for gap in gaps:
        now += gap
        wait = bucket.take(now)
        assert wait >= 0
        if wait == 0:
            allowed += 1
        else:
            # waiting as long as told is enough for the next request
            probe = TokenBucket(bucket.rate, bucket.capacity, bucket.tokens, bucket.updated)
            assert probe.take(now + wait + 1e-9) == 0
    assert allowed <= capacity + rate * now + 1e-6


def _source(**kw) -> SourceConfig:  # type: ignore[no-untyped-def]
    return SourceConfig(name="s", kind="standard", secrets=["S"], **kw)


def test_sources_get_a_bucket_only_when_they_configure_a_limit() -> None:
    config = Config.model_construct(sources=[_source(), _source(rate_limit=RateLimit(per_second=2.5)).model_copy(update={"name": "t"}),
                                             _source(rate_limit=RateLimit(per_second=1, burst=20)).model_copy(update={"name": "u"})])
    runtimes = source_runtimes(config, {"S": "whsec_" + "A" * 32})
    assert runtimes["s"].bucket is None
    assert runtimes["t"].bucket is not None and runtimes["t"].bucket.capacity == 3  # burst 0: per_second rounded up
    assert runtimes["u"].bucket is not None and runtimes["u"].bucket.capacity == 20 and runtimes["u"].bucket.rate == 1
