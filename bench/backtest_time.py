"""Time `switchboard rules backtest` over 10,000 recorded items (a rules-only change) against a real nats-server:
`python -m bench.backtest_time [N]`. Contract 8's bar: 10,000 items in under a minute on a 2-core machine."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import nats

from schemas.item import Account, AreaMatch, Decision, Item, item_id
from services.common import names
from services.common.embedded import EmbeddedNats
from services.common.settings import Settings
from services.common.streams import decisions_bucket, ensure_streams

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
ROOT = Path(__file__).resolve().parents[1]


async def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="sb-backtest-"))
    server = EmbeddedNats(tmp / "nats").start()
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        settings = Settings(data=tmp)
        await ensure_streams(js, settings)
        kv = await decisions_bucket(js, settings)
        intents = ["bug", "praise", "question", "feature_request", "churn_risk"]
        areas = ["billing", "reporting", "mobile", "access", "integrations"]
        t0 = time.monotonic()
        for n in range(N):
            it = Item(id=item_id("native", f"bt-{n}"), source="native", kind="standard", event_type="feedback.created",
                      delivery_id=f"bt-{n}", received_at=datetime.now(UTC), text=f"text number {n} about things",
                      account=Account(id=f"acc{n%50}", arr=1000.0 * (n % 300)), area=AreaMatch(id=areas[n % 5], confidence=0.9),
                      intent=intents[n % 5], intent_confidence=0.9, enriched_at=datetime.now(UTC))
            await js.publish(names.enriched_subject("native", it.id), it.model_dump_json().encode())
            await kv.put(it.id, Decision(rule="by-area", action="route", team="x", reason="r").model_dump_json().encode())
        print(f"recorded {N} items (enriched + pinned decision) in {time.monotonic() - t0:.1f} s", flush=True)
        await nc.close()
        changed = tmp / "config-next"
        shutil.copytree(ROOT / "examples/config", changed)
        rules = (changed / "rules.yaml").read_text()
        (changed / "rules.yaml").write_text(rules.replace("rules:\n", "rules:\n  - name: praise-dropped\n    when: {intent: praise}\n    drop: {reason: x}\n", 1))
        t0 = time.monotonic()
        out = subprocess.run([str(Path(sys.executable).parent / "switchboard"), "rules", "backtest", "--config", str(changed),
                              "--current", str(ROOT / "examples/config"), "--since", "1d", "--json", "--nats", server.url],
                             capture_output=True, text=True, cwd=ROOT)
        took = time.monotonic() - t0
        report = json.loads(out.stdout.strip().splitlines()[-1])
        moved = sum(m["count"] for m in report["moves"])
        print(f"backtest: {report['items']} items, {moved} would move, rejudged={report['rejudged']}, {took:.1f} s wall "
              "(CLI start-up included)", flush=True)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
