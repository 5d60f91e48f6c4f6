"""Two `switchboard enrich` processes on one stream build ONE set of themes: each topic gets one theme (no
duplicate created by a race, none merged away later), every item is counted once, each account once in `arr`,
and both processes did part of the work."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

import nats
import pytest

from schemas.item import Item, Person
from services.cli.reading import read_subjects
from services.common import names
from services.common.broker import publish_item
from services.common.embedded import EmbeddedNats
from services.common.settings import Settings
from services.common.streams import ensure_streams, themes_bucket
from services.themes.catalog import load_themes
from tests.conftest import EXAMPLE_CONFIG, ROOT
from tests.e2e.conftest import SB
from tests.integration.test_stages import make_item
from tests.integration.test_themes import EMAILS, OTHER, SIMILAR

pytestmark = pytest.mark.e2e
ROUNDS = 4


async def publish(url: str) -> list[Item]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, Settings())
        items = [make_item(f"tp-{r}-{n}", text, person=Person(email=EMAILS[(n + r) % 4]))
                 for r in range(ROUNDS) for n, text in enumerate(SIMILAR + OTHER)]
        for it in items:
            await publish_item(js, names.event_subject("native", it.id), it.model_dump_json().encode(), it.id, 5)
        return items
    finally:
        await nc.close()


async def outcome(url: str) -> tuple[dict[str, Item], dict]:  # type: ignore[type-arg]
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        rows = await read_subjects(js, names.ENRICHED, [names.all_stream_filter(names.ENRICHED)])
        themes = await load_themes(await themes_bucket(js, Settings()))
        return {i.id: i for i in (Item.model_validate_json(d) for _, d in rows)}, themes
    finally:
        await nc.close()


def test_two_enrich_processes_build_one_set_of_themes(nats_server: EmbeddedNats, tmp_path: Path) -> None:
    env = {**os.environ, "SWITCHBOARD_BATCH_SIZE": "2", "SWITCHBOARD_LOG_LEVEL": "debug"}
    logs = [tmp_path / f"enrich-{n}.log" for n in range(2)]
    procs = [subprocess.Popen([SB, "enrich", "--nats", nats_server.url, "--config", str(EXAMPLE_CONFIG),
                               "--data", str(tmp_path / f"data{n}")], cwd=ROOT, env=env,
                              stdout=log.open("w"), stderr=subprocess.STDOUT) for n, log in enumerate(logs)]
    try:
        ready_by = time.monotonic() + 120
        while not all("enrich.ready" in log.read_text() for log in logs):  # both pulling before items arrive
            assert all(p.poll() is None for p in procs), [log.read_text()[-2000:] for log in logs]
            assert time.monotonic() < ready_by, "enrich did not start"
            time.sleep(0.2)
        items = asyncio.run(publish(nats_server.url))
        deadline = time.monotonic() + 180
        while True:
            enriched, themes = asyncio.run(outcome(nats_server.url))
            if len(enriched) == len(items):
                break
            assert all(p.poll() is None for p in procs), [log.read_text()[-2000:] for log in logs]
            assert time.monotonic() < deadline, f"{len(enriched)} of {len(items)} enriched"
            time.sleep(0.5)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    assert len(themes) == 2, [(t.label, t.items, t.merged_into) for t in themes.values()]  # one per topic, no merges
    by_text = {}
    for it in items:
        ref = enriched[it.id].theme
        assert ref is not None
        by_text.setdefault(it.text in SIMILAR, set()).add(ref.id)
    assert len(by_text[True]) == 1 and len(by_text[False]) == 1 and by_text[True] != by_text[False]
    csv_theme = themes[next(iter(by_text[True]))]
    assert csv_theme.items == ROUNDS * len(SIMILAR) and len(csv_theme.accounts) == 4
    assert csv_theme.arr == 250000 + 480000 + 120000 + 96000
    worked = [sum(1 for it in items if it.id in log.read_text()) for log in logs]
    assert all(n > 0 for n in worked) and sum(worked) >= len(items), worked  # both processes enriched items
