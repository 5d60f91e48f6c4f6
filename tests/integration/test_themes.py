"""Themes in KV with compare-and-set, on a real nats-server: two enrich processes build ONE set of themes (no
duplicate of a theme from a creation race), themes survive a restart, merge and rename."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import nats
import numpy as np
import pytest
from nats.aio.client import Client

from schemas.item import Item, Person
from schemas.theme import AreaIndex
from services.cli.reading import read_subjects
from services.common import names
from services.common.broker import publish_item
from services.common.settings import Settings
from services.common.streams import ensure_streams, themes_bucket
from services.config.loader import load_config
from services.enrich.worker import run_enrich
from services.themes.clustering import Member, unit
from services.themes.entries import merge, read_theme, rename, resolve
from services.themes.store import ThemeStore
from tests.conftest import EXAMPLE_CONFIG
from tests.integration.test_stages import make_item

pytestmark = pytest.mark.integration
NOW = datetime(2026, 1, 5, tzinfo=UTC)
TOPICS, PER_TOPIC, DIM = 6, 20, 64


def topic_vectors(seed: int = 3) -> tuple[list[np.ndarray], list[tuple[int, np.ndarray, Member]]]:
    rng = np.random.default_rng(seed)
    centres = [unit(rng.standard_normal(DIM).astype(np.float32)) for _ in range(TOPICS)]
    rows = []
    for t, centre in enumerate(centres):
        for n in range(PER_TOPIC):
            v = unit(centre + 0.05 * rng.standard_normal(DIM).astype(np.float32))
            account = f"acct-{(t * 7 + n) % 9}"
            rows.append((t, v, Member(f"t{t}-{n}", f"topic {t} text {n}", account, 1000.0 * (1 + (t * 7 + n) % 9))))
    random.Random(seed).shuffle(rows)
    return centres, rows


async def live_themes(kv) -> list:  # type: ignore[no-untyped-def]
    entry = await kv.get(names.theme_area_key("billing"))
    index = AreaIndex.model_validate_json(entry.value)
    return [(await read_theme(kv, i))[0] for i in index.ids]  # type: ignore[index]


async def test_two_processes_build_one_set_of_themes_and_it_survives_a_restart(nats_server, tmp_path) -> None:
    settings = Settings(data=tmp_path / "data")
    conns = [await nats.connect(nats_server.url) for _ in range(2)]
    try:
        kvs = [await themes_bucket(c.jetstream(), settings) for c in conns]
        stores = [ThemeStore(kv, "test", DIM) for kv in kvs]
        for store in stores:
            await store.start()
        _, rows = topic_vectors()
        rows.sort(key=lambda r: r[0])  # topic by topic, alternating: both processes meet each new topic at once,
        halves = [rows[0::2], rows[1::2]]  # so they race to create its theme

        async def work(store: ThemeStore, part) -> dict[str, str]:  # type: ignore[no-untyped-def]
            out = {}
            for _, v, m in part:
                out[m.item_id] = (await store.assign("billing", v, m, NOW)).id
            return out

        assigned = await asyncio.gather(*(work(s, h) for s, h in zip(stores, halves, strict=True)))
        by_item = {**assigned[0], **assigned[1]}
        themes = await live_themes(kvs[0])
        assert len(themes) == TOPICS, [t.label for t in themes]  # one theme per topic: no duplicate from a race
        entries = [k for k in await kvs[0].keys() if k.startswith("t.")]
        assert len(entries) == TOPICS  # none was created and merged away later either: the CAS prevented them
        for t in range(TOPICS):
            ids = {(await resolve(kvs[0], by_item[m.item_id]))[0].id for tt, _, m in rows if tt == t}  # type: ignore[index]
            assert len(ids) == 1, f"topic {t} split over {ids}"
        assert sum(t.items for t in themes) == TOPICS * PER_TOPIC  # every join counted once, none lost to a race
        for theme in themes:
            members = [m for _, _, m in rows if (await resolve(kvs[0], by_item[m.item_id]))[0].id == theme.id]  # type: ignore[index]
            expected = {m.account_id: m.arr for m in members}
            assert theme.accounts == expected and theme.arr == sum(expected.values())  # type: ignore[arg-type]
        for store in stores:
            await store.stop()

        # restart: a new process loads the themes from KV and joins them
        again = ThemeStore(kvs[1], "test", DIM)
        await again.start()
        assert len(again.cache.area("billing")) == TOPICS
        t0, v0, _ = rows[0]
        joined = await again.assign("billing", v0, Member("late-1", "late text", "acct-new", 5.0), NOW)
        assert joined.id == (await resolve(kvs[1], by_item[rows[0][2].item_id]))[0].id  # type: ignore[index]
        assert joined.items == PER_TOPIC + 1 and joined.accounts["acct-new"] == 5.0
        await again.stop()
    finally:
        for c in conns:
            await c.close()


async def test_merge_points_at_the_survivor_and_rename_sticks(nc: Client, tmp_path) -> None:
    kv = await themes_bucket(nc.jetstream(), Settings(data=tmp_path / "data"))
    store = ThemeStore(kv, "test", 4)
    await store.start()
    a = await store.assign("billing", unit(np.array([1, 0, 0, 0], np.float32)), Member("a1", "refund late", "x", 10.0), NOW)
    b = await store.assign("billing", unit(np.array([0, 1, 0, 0], np.float32)), Member("b1", "refund slow", "y", 20.0), NOW)
    b = await store.assign("billing", unit(np.array([0, 1, 0.1, 0], np.float32)), Member("b2", "refund slow", "x", 10.0), NOW)
    assert a.id != b.id
    survivor = await merge(kv, a.id, b.id, NOW)
    assert survivor.id == b.id and survivor.items == 3 and survivor.arr == 30.0  # x counted once
    assert (await read_theme(kv, a.id))[0].merged_into == b.id  # type: ignore[index]
    assert (await resolve(kv, a.id))[0].id == b.id  # type: ignore[index]
    assert [t.id for t in await live_themes(kv)] == [b.id]
    assert (await merge(kv, a.id, b.id, NOW)).items == 3  # repeating the merge changes nothing
    renamed = await rename(kv, a.id, "Refunds take too long", NOW)  # the old id resolves to the survivor
    assert renamed.id == b.id and renamed.label_fixed
    # a joiner that still has the merged theme cached follows the pointer
    store.cache.area("billing").put(a.id, np.array([1, 0, 0, 0], np.float32))
    store.cache.area_of[a.id] = "billing"
    joined = await store.assign("billing", unit(np.array([1, 0, 0, 0], np.float32)), Member("a2", "refund", "z", 1.0), NOW)
    assert joined.id == b.id and joined.label == "Refunds take too long" and joined.items == 4
    await store.stop()


SIMILAR = [
    "The CSV export cuts off wide tables", "CSV export truncates columns on wide tables",
    "Exporting to CSV drops the last columns", "Our CSV exports are missing columns",
]
OTHER = ["Please add dark mode to the mobile app", "Dark mode for the iOS app please",
         "We need a dark theme in the mobile app", "Any plans for dark mode on mobile?"]
EMAILS = ["ops@northwind.com", "pm@globex.com", "it@initech.io", "dev@umbrellahealth.org"]


async def test_two_enrich_workers_on_one_stream_share_one_set_of_themes(nats_server, tmp_path) -> None:
    settings = Settings(data=tmp_path / "data", batch_size=4)
    config = load_config(EXAMPLE_CONFIG)
    conns: list[Client] = [await nats.connect(nats_server.url) for _ in range(2)]
    js = conns[0].jetstream()
    await ensure_streams(js, settings)
    stop = asyncio.Event()
    workers = [asyncio.create_task(run_enrich(c.jetstream(), config, settings, stop)) for c in conns]
    try:
        items: list[Item] = []
        for round_ in range(3):
            for n, text in enumerate(SIMILAR + OTHER):
                items.append(make_item(f"th-{round_}-{n}", text, person=Person(email=EMAILS[(n + round_) % 4])))
        for it in items:
            await publish_item(js, names.event_subject("native", it.id), it.model_dump_json().encode(), it.id, 5)
        deadline = asyncio.get_running_loop().time() + 120
        while True:
            rows = await read_subjects(js, names.ENRICHED, [names.all_stream_filter(names.ENRICHED)])
            if len(rows) == len(items):
                break
            assert asyncio.get_running_loop().time() < deadline, f"{len(rows)} of {len(items)} enriched"
            await asyncio.sleep(0.2)
        enriched = {i.id: i for i in (Item.model_validate_json(d) for _, d in rows)}
        assert all(i.theme is not None for i in enriched.values())
        kv = await themes_bucket(js, settings)
        resolved = {}
        for it in items:
            ref = enriched[it.id].theme
            assert ref is not None
            resolved[it.id] = (await resolve(kv, ref.id))[0]  # type: ignore[index]
        csv_themes = {resolved[it.id].id for it in items if it.text in SIMILAR}
        dark_themes = {resolved[it.id].id for it in items if it.text in OTHER}
        assert len(csv_themes) == 1 and len(dark_themes) == 1 and csv_themes != dark_themes
        csv_theme = resolved[next(it.id for it in items if it.text in SIMILAR)]
        assert csv_theme.items == 12 and len(csv_theme.accounts) == 4
        assert csv_theme.arr == 250000 + 480000 + 120000 + 96000  # each of the four accounts once
        last = max((enriched[it.id] for it in items if it.text in SIMILAR), key=lambda i: i.theme.items)  # type: ignore[union-attr]
        assert last.theme.items == 12 and last.theme.arr == csv_theme.arr  # type: ignore[union-attr]
    finally:
        stop.set()
        await asyncio.gather(*workers, return_exceptions=True)
        for c in conns:
            await c.close()


async def test_a_batch_joins_one_theme_in_one_compare_and_set(nc: Client, tmp_path) -> None:
    kv = await themes_bucket(nc.jetstream(), Settings(data=tmp_path / "data"))
    store = ThemeStore(kv, "test", 4)
    await store.start()
    x, y = unit(np.array([1, 0, 0, 0], np.float32)), unit(np.array([0, 1, 0, 0], np.float32))
    first = await store.assign("billing", x, Member("x0", "refund late", "a", 10.0), NOW)
    writes: list[str] = []
    update = kv.update

    async def counted(key, value, last=None, **kw):  # type: ignore[no-untyped-def]
        writes.append(key)
        return await update(key, value, last=last, **kw)

    kv.update = counted  # type: ignore[method-assign]
    batch = [("billing", x, Member(f"x{n}", "refund late again", f"acct{n % 2}", 5.0)) for n in range(1, 5)]
    batch.insert(2, ("billing", y, Member("y0", "dark mode", "b", 1.0)))  # a new topic in the middle
    batch.append(("billing", x, Member("x2", "refund late again", "acct0", 5.0)))  # a redelivery inside the batch
    out = await store.assign_batch(batch, NOW)
    assert [t.items for t in out if not isinstance(t, BaseException) and t.id == first.id] == [2, 3, 4, 5, 5]
    assert [t.arr for t in out if not isinstance(t, BaseException) and t.id == first.id] == [15.0, 20.0, 20.0, 20.0, 20.0]
    new = out[2]
    assert not isinstance(new, BaseException) and new.id != first.id and new.items == 1
    stored, _ = await read_theme(kv, first.id)  # type: ignore[misc]
    assert stored.items == 5 and stored.arr == 20.0
    assert writes.count(names.theme_key(first.id)) == 1  # four joins, one compare-and-set
    await store.stop()


async def test_a_join_reads_kv_only_when_another_process_wrote_the_theme(nats_server, tmp_path) -> None:
    settings = Settings(data=tmp_path / "data")
    conns = [await nats.connect(nats_server.url) for _ in range(2)]
    try:
        here, there = [ThemeStore(await themes_bucket(c.jetstream(), settings), "test", 4) for c in conns]
        await here.start()
        await there.start()
        await here.stop()  # no watch here: what `here` knows comes only from its own writes, so nothing races it
        x = unit(np.array([1, 0, 0, 0], np.float32))
        first = await here.assign("billing", x, Member("x0", "refund late", "a", 10.0), NOW)
        reads: list[str] = []
        get = here.kv.get

        async def counted(key, *args, **kw):  # type: ignore[no-untyped-def]
            reads.append(key)
            return await get(key, *args, **kw)

        here.kv.get = counted  # type: ignore[method-assign]
        await here.assign("billing", x, Member("x1", "refund late again", "b", 5.0), NOW)
        assert names.theme_key(first.id) not in reads  # its own last write is the latest: one compare-and-set

        # the other process joins the theme: our revision is stale, the compare-and-set fails, we read and retry
        await there.assign("billing", x, Member("x2", "refund still late", "c", 7.0), NOW)
        joined = await here.assign("billing", x, Member("x3", "refund late, again", "d", 1.0), NOW)
        assert joined.items == 4 and joined.arr == 23.0
        assert reads == [names.theme_key(first.id)]  # the failed compare-and-set, then one read
        stored, _ = await read_theme(here.kv, first.id)  # type: ignore[misc]
        assert stored.items == 4 and {m.item_id for m in stored.samples} >= {"x0"}
        await here.stop()
        await there.stop()
    finally:
        for c in conns:
            await c.close()
