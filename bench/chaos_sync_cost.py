"""What `sync_interval: always` (SWITCHBOARD_NATS_SYNC_ALWAYS=true) costs, on this machine.

Two measurements, each alternating default / always runs (A B A B ...) so background noise hits both:
1. JetStream alone: items published with an awaited PubAck, 50 in flight (like an HTTP server).
2. Ingest: signed webhooks POSTed to `switchboard ingest` (32 concurrent senders, each waits for its 202).

    python -m bench.chaos_sync_cost [--rounds 3] [--publishes 5000] [--webhooks 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import nats

from bench.chaos_lib import Proc, Sender, chaos_config, worker_env
from services.common import names
from services.common.broker import publish_item
from services.common.embedded import EmbeddedNats, free_port
from services.common.settings import Settings
from services.common.streams import ensure_streams


async def js_rate(server: EmbeddedNats, count: int, in_flight: int = 50) -> float:
    nc = await nats.connect(server.url)
    js = nc.jetstream()
    await ensure_streams(js, Settings())
    payload = b"x" * 1024
    run = uuid.uuid4().hex[:6]
    sem = asyncio.Semaphore(in_flight)

    async def one(i: int) -> None:
        async with sem:
            await publish_item(js, f"{names.EVENTS_PREFIX}.bench.{run}{i}", payload, f"{run}{i}", 10)

    t = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(count)))
    rate = count / (time.monotonic() - t)
    await nc.close()
    return rate


async def ingest_rate(server: EmbeddedNats, root: Path, count: int) -> float:
    cfg = chaos_config(root / "config")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = Proc(["ingest", "--config", str(cfg), "--nats", server.url, "--port", str(port)], root / "ingest.log", worker_env())
    proc.start()
    await asyncio.to_thread(proc.wait_http, url)
    sender = Sender(lambda: url, uuid.uuid4().hex[:6], concurrency=32)
    await sender.send(range(200))  # warm-up
    sender.ledger.acknowledged.clear()
    t = time.monotonic()
    await sender.send(range(200, 200 + count))
    rate = count / (time.monotonic() - t)
    proc.stop()
    return rate


async def measure(rounds: int, publishes: int, webhooks: int) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {"jetstream": {"default": [], "always": []}, "ingest": {"default": [], "always": []}}
    for r in range(rounds):
        for mode in ("default", "always"):
            root = Path(tempfile.mkdtemp(prefix=f"sb-sync-{mode}-"))
            server = EmbeddedNats(root / "nats", sync_always=(mode == "always")).start()
            try:
                out["jetstream"][mode].append(await js_rate(server, publishes))
                out["ingest"][mode].append(await ingest_rate(server, root, webhooks))
            finally:
                server.stop()
            print(f"round {r + 1} {mode:7}: jetstream {out['jetstream'][mode][-1]:7.0f} msg/s, "
                  f"ingest {out['ingest'][mode][-1]:6.0f} webhooks/s", flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--publishes", type=int, default=5000)
    p.add_argument("--webhooks", type=int, default=2000)
    a = p.parse_args()
    res = asyncio.run(measure(a.rounds, a.publishes, a.webhooks))
    print("\n| path | default (fsync every 2 min) | sync_interval: always | always / default |\n|---|---|---|---|")
    for path, unit in (("jetstream", "msg/s"), ("ingest", "webhooks/s")):
        d, s = statistics.median(res[path]["default"]), statistics.median(res[path]["always"])
        print(f"| {path} ({unit}, median of {a.rounds}) | {d:,.0f} | {s:,.0f} | {s / d:.0%} |")


if __name__ == "__main__":
    main()
