"""Prometheus metrics of ingest (served on GET /metrics)."""

from __future__ import annotations

from typing import Any, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram


class IngestMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "switchboard_webhook_requests", "Webhook requests by source and status", ["source", "status"],
            registry=self.registry,
        )
        self.items = Counter(
            "switchboard_items_stored", "Items stored in SB_EVENTS (duplicates excluded)", ["source"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "switchboard_items_duplicate", "Redeliveries recognised as duplicates", ["source"], registry=self.registry
        )
        self.dead_letters = Counter(
            "switchboard_ingest_dead_letters", "Verified payloads kept in the DLQ", ["source"], registry=self.registry
        )
        self.answer_feedback = Counter(
            "switchboard_answer_feedback", "Did this answer help? First verdicts recorded by this process",
            ["article", "verdict"], registry=self.registry,
        )
        self.publish_seconds = Histogram(
            "switchboard_publish_seconds", "Time to JetStream ack for one request", registry=self.registry,
            buckets=(0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )


class SourceCounters:
    """The counters' children the hot path touches, bound once per source (and per status on first use), so a
    request costs one dict lookup instead of prometheus_client's label validation and child lookup."""

    def __init__(self, metrics: IngestMetrics, sources: Iterable[str]) -> None:
        self.metrics = metrics
        self.sources = frozenset(sources)
        self._requests: dict[tuple[str, int], Any] = {}
        self._items = {s: (metrics.items.labels(s), metrics.duplicates.labels(s)) for s in self.sources}

    def request(self, source: str, status: int) -> Any:
        key = (source if source in self.sources else "_unknown", status)
        child = self._requests.get(key)
        if child is None:
            child = self._requests[key] = self.metrics.requests.labels(key[0], str(status))
        return child

    def items(self, source: str) -> tuple[Any, Any]:
        """(stored, duplicate) counters of a configured source."""
        pair = self._items.get(source)
        if pair is None:
            pair = self._items[source] = (self.metrics.items.labels(source), self.metrics.duplicates.labels(source))
        return pair
