"""Replaying dead letters: publish what `plan.plan_replay` says, then leave a mark in sb_dlq_replays.

Idempotent end to end: the replay subjects are derived from the dead letter's SB_DLQ sequence and the
streams keep one message per subject, so a replay repeated after a crash (published, not yet marked) or
forced with `again` stores nothing new; entries already marked are skipped unless `again`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Sequence

from nats.js import JetStreamContext

from services.common.broker import publish_item
from services.common.settings import Settings
from services.common.streams import dlq_replays_bucket
from services.config.models import Config
from services.dlq.plan import Entry, NotReplayable, Replayed, plan_replay

Status = Literal["replayed", "already-there", "skipped", "not-replayable", "failed"]


@dataclass
class Result:
    entry: Entry
    status: Status
    detail: str = ""
    subjects: list[str] = field(default_factory=list)
    item_ids: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        dl = self.entry.dead_letter
        return {"seq": self.entry.seq, "id": dl.id, "stage": dl.stage, "status": self.status,
                "detail": self.detail, "subjects": self.subjects, "item_ids": self.item_ids}


async def replay_entries(
    js: JetStreamContext, entries: Sequence[Entry], config: Config | None, settings: Settings, again: bool = False
) -> list[Result]:
    kv = await dlq_replays_bucket(js, settings)
    results: list[Result] = []
    for entry in entries:
        if entry.replayed is not None and not again:
            results.append(Result(entry, "skipped", f"already replayed at {entry.replayed.replayed_at:%Y-%m-%d %H:%M:%S}",
                                  entry.replayed.subjects))
            continue
        try:
            plan = plan_replay(entry, config)
        except NotReplayable as exc:
            results.append(Result(entry, "not-replayable", str(exc)))
            continue
        new = 0
        try:
            for p in plan:
                stored = await publish_item(js, p.subject, p.payload, p.msg_id, settings.publish_timeout_s)
                new += 0 if stored.duplicate else 1
        except Exception as exc:  # noqa: BLE001 - nothing is marked: run the replay again
            results.append(Result(entry, "failed", f"{type(exc).__name__}: {exc}", [p.subject for p in plan]))
            continue
        subjects = [p.subject for p in plan]
        mark = Replayed(entry.seq, datetime.now(UTC), subjects, new)
        await kv.put(entry.key, mark.to_json())
        status: Status = "replayed" if new else "already-there"
        detail = f"{new} new message(s)" if new else "every message was already stored: nothing new"
        results.append(Result(entry, status, detail, subjects, [p.item_id for p in plan]))
    return results
