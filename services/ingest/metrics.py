"""Prometheus metrics of ingest (served on GET /metrics)."""

from __future__ import annotations

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
