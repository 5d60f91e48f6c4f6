"""(e) delivery: 1,000 KB answers delivered to a fake Zendesk (a local HTTP server) that answers 429 and 500 for a
while, with `switchboard deliver` (its own process) SIGKILLed twice mid-stream and restarted.

Counted on the fake tool, by ticket: comments posted = answers, 0 duplicates (a ticket with two notes), 0 lost
(a ticket with none); plus the ledger's final statuses and the dead letters (there should be none).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import nats

from bench.chaos_lib import Proc, Result, chaos_config, worker_env
from bench.chaos_scenarios import _log, _track
from schemas.delivery import Delivery
from schemas.item import Answer, Decision, Item
from services.common import names
from services.common.broker import publish_item
from services.common.embedded import EmbeddedNats
from services.common.settings import Settings
from services.common.streams import deliveries_bucket, ensure_streams
from services.dlq.store import read_stream
from tests.fake_tool import FakeTool

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def answered(n: int) -> Item:
    return Item(id=f"chaos{n:06d}", source="zendesk", kind="zendesk", event_type="ticket.created",
                delivery_id=f"d{n}", received_at=NOW, decided_at=NOW, text="How do I reset my password?",
                attributes={"ticket_id": str(100_000 + n)},
                decision=Decision(rule="answer-how-to", action="answer", reason="KB article password-reset scored 0.86"),
                answer=Answer(article="password-reset", score=0.86, title="Reset your password",
                              url="https://help.switchboard.example/articles/password-reset"))


def _config(root: Path, tool: FakeTool) -> Path:
    cfg = chaos_config(root / "config")
    (cfg / "sources.yaml").write_text(
        "sources:\n  - name: zendesk\n    kind: zendesk\n    secrets: [ZENDESK_SECRET]\n"
        f"    reply: {{url: \"{tool.url}\", credentials: CHAOS_ZENDESK_API}}\n")
    return cfg


async def delivery_kills(root: Path, n: int = 1_000, kills: int = 2, failing_s: float = 8.0) -> Result:
    started = time.monotonic()
    server = _track(EmbeddedNats(root / "nats").start())
    tool = _track(FakeTool().start())
    env = worker_env({"CHAOS_ZENDESK_API": "chaos@example.com/token:chaos-token", "SWITCHBOARD_OUTBOUND_ALLOW": "127.0.0.1",
                      "SWITCHBOARD_DELIVER_READ_TIMEOUT_S": "2", "SWITCHBOARD_DELIVER_BUDGET_S": "3",
                      "SWITCHBOARD_DELIVER_CONNECT_TIMEOUT_S": "1"})
    deliver = _track(Proc(["deliver", "--config", str(_config(root, tool)), "--nats", server.url], root / "deliver.log", env))
    nc = await nats.connect(server.url)
    js = nc.jetstream()
    settings = Settings()
    await ensure_streams(js, settings)
    tool.fail_until = time.monotonic() + failing_s  # 429 / 500 alternately, nothing applied
    for i in range(n):
        item = answered(i)
        await publish_item(js, names.answer_subject("zendesk", item.id), item.model_dump_json().encode(), item.id, 5)
    _log(f"{n} answers in SB_ANSWERS; the fake Zendesk answers 429/500 for {failing_s:.0f} s")
    deliver.start()
    posted = lambda: sum(1 for bodies in tool.comments.values() if bodies)  # noqa: E731
    for k in range(kills):
        target = n * (k + 1) // (kills + 1)
        deadline = time.monotonic() + 300
        while posted() < target and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        deliver.kill()
        _log(f"deliver SIGKILLed with {posted()} tickets answered, {len(tool.requests)} requests seen")
        await asyncio.sleep(0.5)
        deliver.start()
    kv = await deliveries_bucket(js, settings)
    deadline = time.monotonic() + 600
    statuses: dict[str, int] = {}
    while time.monotonic() < deadline:
        statuses = {}
        for i in range(n):
            try:
                entry = await kv.get(names.delivery_key(answered(i).id, "answer"))
                status = Delivery.model_validate_json(entry.value).status if entry.value else "none"
            except Exception:  # noqa: BLE001 - not written yet
                status = "none"
            statuses[status] = statuses.get(status, 0) + 1
        if statuses.get("sent", 0) == n:
            break
        await asyncio.sleep(1.0)
    dead = await read_stream(js, names.DLQ, [f"{names.DLQ_PREFIX}.deliver.>"])
    found = 0
    for line in deliver.log.read_text().splitlines():
        found += '"found_by_lookup": true' in line or '"found_by_lookup":true' in line
    await nc.close()
    deliver.stop()
    tool.stop()
    server.stop()
    per_ticket = [len(tool.comments.get(str(100_000 + i), [])) for i in range(n)]
    duplicated = sum(c - 1 for c in per_ticket if c > 1)
    lost = sum(1 for c in per_ticket if c == 0)
    writes = sum(1 for r in tool.requests if r.method == "PUT")
    return Result(f"(e) deliver kill -9 x{deliver.kills}, tool 429/500 for {failing_s:.0f} s", n, n, n - lost,
                  duplicated, lost, time.monotonic() - started,
                  f"comments posted {sum(per_ticket)} for {n} answers; {writes} PUTs seen (429/500 included); "
                  f"ledger {statuses}; {found} resolved by the marker look-up; {len(dead)} dead letters")
