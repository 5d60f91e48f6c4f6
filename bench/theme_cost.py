"""What theme assignment costs the enrich stage: items/s of one `run_enrich` on a real (embedded) nats-server,
with theme assignment and with it switched off, on the same texts (BANKING77 test texts, the example config).

    python -m bench.theme_cost [--items 480] [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nats

import services.enrich.worker as worker
from schemas.item import Item, item_id
from services.common import names
from services.common.broker import publish_item
from services.common.embedded import EmbeddedNats
from services.common.settings import Settings
from services.common.streams import ensure_streams
from services.config.loader import load_config

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "banking77" / "test.csv"


class NoThemes:
    """Stands in for services.enrich.theming.Theming: no theme assignment at all."""

    def __init__(self, kv: Any) -> None:
        pass

    async def assign_batch(self, encoder: str, batch: list[Any], *args: Any, **kwargs: Any) -> list[None]:
        return [None] * len(batch)

    async def close(self) -> None:
        pass


async def rate(url: str, data: Path, texts: list[str], themes: bool) -> float:
    worker.Theming = worker.Theming if themes else NoThemes  # type: ignore[misc]
    nc = await nats.connect(url)
    js = nc.jetstream()
    settings = Settings(data=data, batch_size=64)
    await ensure_streams(js, settings)
    from datetime import UTC, datetime

    for n, text in enumerate(texts):
        it = Item(id=item_id("native", f"cost-{n}"), source="native", kind="standard", event_type="feedback.created",
                  delivery_id=f"cost-{n}", received_at=datetime.now(UTC), text=text)
        await publish_item(js, names.event_subject("native", it.id), it.model_dump_json().encode(), it.id, 5)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_enrich(js, load_config(ROOT / "examples" / "config"), settings, stop))
    first, start = 0, None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # from the first enriched item (model loaded) to the last
        done = (await js.stream_info(names.ENRICHED)).state.messages
        if done and start is None:
            first, start = done, time.perf_counter()
        if done >= len(texts):
            break
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - (start or time.perf_counter())
    stop.set()
    await asyncio.gather(task, return_exceptions=True)
    await nc.close()
    return (len(texts) - first) / max(elapsed, 1e-9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=480)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    if not DATA.is_file():
        print(f"theme cost: skipped ({DATA} not found)")
        return 0
    with DATA.open(newline="", encoding="utf-8") as fh:
        texts = [r["text"] for r in csv.DictReader(fh)][: args.items]
    original = worker.Theming
    for _ in range(args.repeat):
        for themes in (False, True):
            worker.Theming = original  # type: ignore[misc]
            with tempfile.TemporaryDirectory() as tmp:
                server = EmbeddedNats(Path(tmp) / "nats").start()
                try:
                    per_s = asyncio.run(rate(server.url, Path(tmp) / "data", texts, themes))
                finally:
                    server.stop()
            print(f"enrich, {len(texts)} items, themes {'on ' if themes else 'off'}: {per_s:6.1f} items/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
