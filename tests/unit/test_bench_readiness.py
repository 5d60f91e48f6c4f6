"""bench/readiness.py reads the consumer loops' `stage.started` lines in both log formats, per durable."""

from __future__ import annotations

from collections import Counter

import pytest
import structlog

from bench.readiness import UP, all_after, started, up_ready
from services.common import names
from services.common.logging import _dumps

pytestmark = pytest.mark.unit


def line(json: bool, event: str, **fields: str) -> bytes:
    """A log line as services/common/logging renders it (the same renderers, without configuring structlog)."""
    data = {"event": event, "level": "info", "timestamp": "2026-12-01T20:00:00Z", **fields}
    if json:
        return bytes(structlog.processors.JSONRenderer(serializer=_dumps)(None, "info", data))  # type: ignore[arg-type]
    return str(structlog.dev.ConsoleRenderer(colors=False)(None, "info", data)).encode()  # type: ignore[arg-type]


def loops(json: bool, durables: list[str]) -> bytes:
    out = [line(json, "stage.started", stage=d.split("-")[0], stream="SB_X", durable=d) for d in durables]
    out.insert(1, line(json, "item.routed", stage="route", durable="route", outcome="queue"))  # not a start
    return b"\n".join(out)


@pytest.mark.parametrize("json", [True, False])
def test_started_counts_each_durable_in_both_formats(json: bool) -> None:
    log = loops(json, [names.ENRICH_CONSUMER, names.ROUTE_CONSUMER, names.ROUTE_FEEDBACK_CONSUMER, names.ENRICH_CONSUMER])
    assert started(log) == Counter({"enrich": 2, "route": 1, "route-feedback": 1})


@pytest.mark.parametrize("json", [True, False])
def test_up_is_ready_only_when_every_consumer_pulls(json: bool) -> None:
    assert not up_ready(started(loops(json, list(UP[:-1]))))  # deliver-outbox not yet
    assert up_ready(started(loops(json, list(UP))))
    assert not up_ready(started(loops(json, list(UP))), enrich_processes=2)
    assert up_ready(started(loops(json, [*UP, names.ENRICH_CONSUMER])), enrich_processes=2)


def test_all_after_wants_a_restart_of_each() -> None:
    before = Counter({"enrich": 1, "route": 1})
    assert not all_after(Counter({"enrich": 2, "route": 1}), ("enrich", "route"), before)
    assert all_after(Counter({"enrich": 2, "route": 2}), ("enrich", "route"), before)
    assert all_after(Counter({"enrich": 1}), ("enrich",))
    assert not all_after(Counter(), ("enrich",))
