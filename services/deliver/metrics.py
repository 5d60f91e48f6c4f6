"""Prometheus metrics of deliver (the default registry: `switchboard deliver` exposes them with
SWITCHBOARD_DELIVER_METRICS_PORT; see docs/delivery.md)."""

from __future__ import annotations

from prometheus_client import Counter

DELIVERIES = Counter(
    "switchboard_deliveries", "Deliveries by request kind and outcome (sent, found, skipped, failed, already)",
    ["kind", "outcome"],
)
RETRIES = Counter("switchboard_delivery_retries", "Outbound attempts retried, by request kind and reason", ["kind", "reason"])


def count(kind: str, outcome: str) -> None:
    DELIVERIES.labels(kind=kind, outcome=outcome).inc()


def retried(kind: str, error: BaseException) -> None:
    RETRIES.labels(kind=kind, reason=type(error).__name__).inc()
