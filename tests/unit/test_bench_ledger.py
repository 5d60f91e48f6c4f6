"""The benchmark's bookkeeping (bench/loadgen.py): percentiles, medians and the open-loop ledger. Pure; no timing."""

from __future__ import annotations

import pytest

from bench.loadgen import latency_summary, ledger, median, percentile

pytestmark = pytest.mark.unit


def rec(i: int, status: int = 202, seen: float | None = 1.5, place: str | None = "queue") -> dict:
    return {"id": f"id{i}", "scheduled": 1.0, "status": status, "answered": 1.01,
            "seen": seen, "place": place if seen is not None else None}


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile(values, 0) == 1.0
    assert percentile([7.0], 99) == 7.0


def test_percentile_rejects_empty_and_out_of_range() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_median_odd_and_even() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    with pytest.raises(ValueError):
        median([])


def test_ledger_balances_when_everything_lands() -> None:
    records = [rec(0), rec(1, place="answers"), rec(2, place="dropped")]
    books = ledger(records, scheduled=3)
    assert books["sent"] == 3 and books["landed"] == 3 and books["missing"] == 0
    assert books["balanced"] and not books["void"]
    assert books["places"] == {"queue": 1, "answers": 1, "dropped": 1}


def test_missing_items_are_classified_and_void_the_run() -> None:
    records = [rec(0), rec(1, status=503, seen=None), rec(2, seen=None), rec(3, place="dlq"), rec(4, status=-1, seen=None)]
    books = ledger(records, scheduled=5)
    assert books["landed"] == 1
    assert books["missing"] == 4
    assert books["missing_not_accepted"] == 2
    assert books["missing_never_seen"] == 1
    assert books["missing_dead_lettered"] == 1
    assert books["sent"] == books["landed"] + books["missing"]
    assert books["balanced"] and books["void"]


def test_a_rejected_request_that_still_landed_counts_as_landed() -> None:
    books = ledger([rec(0, status=503)], scheduled=1)
    assert books["landed"] == 1 and books["missing"] == 0 and not books["void"]


def test_unbalanced_books_void_the_run() -> None:
    assert ledger([rec(0)], scheduled=2)["void"]  # a scheduled request never went out
    assert ledger([rec(0)], scheduled=1, strays=1)["void"]  # an id we never sent showed up


def test_latency_is_measured_from_the_scheduled_time() -> None:
    records = [
        {"scheduled": 10.0, "status": 202, "answered": 10.002, "seen": 10.010, "place": "queue"},
        {"scheduled": 11.0, "status": 202, "answered": 11.004, "seen": 11.030, "place": "answers"},
        {"scheduled": 12.0, "status": 202, "answered": 12.001, "seen": 12.5, "place": "dlq"},  # not landed
        {"scheduled": 13.0, "status": 503, "answered": 13.001, "seen": None, "place": None},
    ]
    out = latency_summary(records)
    assert out["e2e_p50_ms"] == pytest.approx(10.0)
    assert out["e2e_p99_ms"] == pytest.approx(30.0)
    assert out["e2e_max_ms"] == pytest.approx(30.0)
    assert out["ingest_p99_ms"] == pytest.approx(4.0)


def test_latency_summary_of_nothing_is_none() -> None:
    assert latency_summary([])["e2e_p99_ms"] is None
