"""When a Switchboard process is ready to work: each consumer loop logs `stage.started` with its durable
consumer's name once it is pulling (`services.common.consumer.run_stage`). The bench, the chaos scenarios and the
end-to-end tests wait on those lines, per consumer, instead of counting lines of any stage.

Works on both log formats (`SWITCHBOARD_LOG_JSON=true` and the console one)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from services.common import names

STARTED = b"stage.started"
_DURABLE = re.compile(rb'"?durable"?\s*[:=]\s*"?([\w-]+)')

# the consumer loops of `switchboard up`: it is ready when every one of them pulls
UP = (names.ENRICH_CONSUMER, names.ROUTE_CONSUMER, names.ROUTE_FEEDBACK_CONSUMER,
      names.DELIVER_ANSWERS_CONSUMER, names.DELIVER_QUEUES_CONSUMER, names.DELIVER_OUTBOX_CONSUMER)


def started(log: bytes) -> Counter[str]:
    """How many times each durable consumer's loop started in this log (a restarted process counts again)."""
    return Counter(m.group(1).decode() for line in log.splitlines()
                   if STARTED in line and (m := _DURABLE.search(line)) is not None)


def started_in(path: Path) -> Counter[str]:
    return started(path.read_bytes()) if path.exists() else Counter()


def all_after(now: Counter[str], durables: tuple[str, ...] = UP, before: Counter[str] | None = None) -> bool:
    """Every one of `durables` has started (again) since `before` was read (or at all, without `before`)."""
    return all(now[d] > (before or Counter())[d] for d in durables)


def up_ready(counts: Counter[str], enrich_processes: int = 1) -> bool:
    """`switchboard up` pulls on every consumer, with at least `enrich_processes` enrich loops (--enrich-workers)."""
    return all(counts[d] >= 1 for d in UP) and counts[names.ENRICH_CONSUMER] >= enrich_processes
