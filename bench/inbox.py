"""`make bench-inbox`: the PM inbox with 10,000 items in one team. p50/p95/p99 of the queue page
(`GET /teams/{team}`, 500 rows rendered) and of `GET /api/items` (100 items), plus the item page and
`/api/teams`, measured against `switchboard web` in its own process on a fresh nats-server.

    .venv/bin/python -m bench.inbox                 # 10,000 items, 300 requests per endpoint
    .venv/bin/python -m bench.inbox --items 2000 --requests 50   # smoke run

10% of the items are claimed through the API first, so the state index is mixed. Requests are sequential
(one at a time, closed loop): the figure is the server's time per request, not a saturation test. The report
is one JSON line on stdout and a file in bench/reports/; docs/performance.md keeps the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import nats

from bench.run import EXAMPLE_CONFIG, REPORTS, ROOT, SB, demo_env, log
from schemas.item import Account, AreaMatch, Decision, Item, Person, item_id
from services.common import names
from services.common.embedded import EmbeddedNats, free_port
from services.common.settings import Settings
from services.common.streams import ensure_streams

TEAM = "strategic-pm"
TOKEN_VAR = "DEMO_OPS_TOKEN"
TARGET_P95_MS = 100.0


def make_item(n: int, now: datetime) -> Item:
    delivery = f"bench-inbox-{n}"
    return Item(
        id=item_id("native", delivery), source="native", kind="standard", event_type="feedback.created",
        delivery_id=delivery, received_at=now - timedelta(minutes=n % 5000), title=f"Feedback {n}",
        text=f"Item {n}: the Salesforce sync stopped updating opportunities for our team this week.",
        person=Person(email=f"user{n}@example.com"),
        account=Account(id=f"acc_{n % 300}", name=f"Account {n % 300}", arr=float((n * 7919) % 500_000),
                        plan="enterprise", owner="owner@example.com"),
        area=AreaMatch(id=["integrations", "reporting", "billing", "access"][n % 4], confidence=0.7),
        intent=["bug", "question", "feature_request"][n % 3], intent_confidence=0.6,
        decision=Decision(rule="by-area", action="route", team=TEAM, priority=["high", "normal", "low"][n % 3],
                          reason="the area's owning team"),
        decided_at=now - timedelta(minutes=n % 5000), raw={"text": f"Item {n}"},
    )


async def seed(url: str, count: int) -> list[str]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_streams(js, Settings(nats_url=url))
    now = datetime.now(UTC)
    ids = []
    for start in range(0, count, 500):
        batch = [make_item(n, now) for n in range(start, min(count, start + 500))]
        futures = [await js.publish_async(names.queue_subject(TEAM, i.id), i.model_dump_json().encode()) for i in batch]
        await asyncio.gather(*futures)
        ids += [i.id for i in batch]
    await nc.close()
    return ids


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(client: httpx.Client, path: str, requests: int) -> dict[str, float]:
    for _ in range(5):  # warm-up
        assert client.get(path).status_code == 200, path
    times = []
    for _ in range(requests):
        t0 = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    return {"p50_ms": round(percentile(times, 0.5), 2), "p95_ms": round(percentile(times, 0.95), 2),
            "p99_ms": round(percentile(times, 0.99), 2), "max_ms": round(max(times), 2), "requests": requests,
            "bytes": len(r.content)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    env = {**os.environ, **demo_env(), "SWITCHBOARD_LOG_JSON": "true"}
    token = env[TOKEN_VAR]
    with tempfile.TemporaryDirectory(prefix="sb-bench-inbox-") as tmp:
        server = EmbeddedNats(Path(tmp) / "nats").start()
        web = None
        try:
            t0 = time.perf_counter()
            ids = asyncio.run(seed(server.url, args.items))
            log(f"seeded {len(ids)} items in {time.perf_counter() - t0:.1f}s")
            port = free_port()
            out = open(Path(tmp) / "web.log", "wb")
            web = subprocess.Popen([SB, "web", "--config", str(EXAMPLE_CONFIG), "--nats", server.url, "--port", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
            base = f"http://127.0.0.1:{port}"
            client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            t0 = time.perf_counter()
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                try:
                    if client.get("/healthz").json().get("items") == len(ids):
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            else:
                raise SystemExit("the inbox did not index every item in time")
            startup = time.perf_counter() - t0
            log(f"web up and indexed in {startup:.1f}s")
            for i in ids[:: 10]:
                assert client.post(f"/api/items/{i}/claim").status_code == 200
            results = {
                "queue_page": measure(client, f"/teams/{TEAM}", args.requests),
                "api_items": measure(client, f"/api/items?team={TEAM}", args.requests),
                "api_items_by_arr": measure(client, f"/api/items?team={TEAM}&sort=arr&limit=100", args.requests),
                "api_items_filtered": measure(client, f"/api/items?team={TEAM}&area=billing&intent=bug", args.requests),
                "item_page": measure(client, f"/items/{ids[len(ids) // 2]}", args.requests),
                "api_teams": measure(client, "/api/teams", args.requests),
            }
        finally:
            if web is not None:
                web.terminate()
                web.wait(timeout=15)
            server.stop()
    report = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"), "items": args.items, "claimed": len(ids[::10]),
        "startup_index_s": round(startup, 2), "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "python": platform.python_version(), "target_p95_ms": TARGET_P95_MS, "results": results,
        "meets_target": all(results[k]["p95_ms"] <= TARGET_P95_MS for k in ("queue_page", "api_items")),
    }
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / f"inbox-{report['at'].replace(':', '')}.json").write_text(json.dumps(report, indent=2) + "\n")
    log(f"{'endpoint':<20} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'bytes':>9}")
    for name, r in results.items():
        log(f"{name:<20} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['p99_ms']:>8} {r['bytes']:>9}")
    print(json.dumps(report))
    if not report["meets_target"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
