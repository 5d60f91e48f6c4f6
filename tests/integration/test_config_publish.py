"""Config versions in NATS: a rules change published while 2,000 items are in flight is picked up by the
running enrich and route workers without a restart; every decision matches exactly one version, and every
item that enters after the switch is decided by the new one. Rollback switches back."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.aio.client import Client
from typer.testing import CliRunner

from schemas.item import Item, item_id
from services.cli.main import app
from services.cli.reading import read_subjects
from services.common import names
from services.common.broker import publish_item
from services.common.settings import Settings
from services.common.streams import config_bucket, ensure_streams
from services.config.loader import load_config
from services.config.versions import current_version, list_versions, startup_config
from services.enrich.worker import run_enrich
from services.route.worker import run_route
from tests.conftest import EXAMPLE_CONFIG

pytestmark = pytest.mark.integration

TOTAL = 2000


def item(n: int) -> Item:
    # no text: enrich matches accounts only (no model), so 2,000 items move fast
    return Item(id=item_id("native", f"cfg-{n}"), source="native", kind="standard", event_type="feedback.created",
                delivery_id=f"cfg-{n}", received_at=datetime.now(UTC))


def changed_config(tmp_path: Path) -> Path:
    target = tmp_path / "config-next"
    shutil.copytree(EXAMPLE_CONFIG, target)
    rules = (target / "rules.yaml").read_text()
    new_rule = "rules:\n  - name: switched\n    when: {source: native}\n    route: {team: switched, priority: low}\n"
    (target / "rules.yaml").write_text(rules.replace("rules:\n", new_rule, 1))
    return target


async def decided(js) -> dict[str, tuple[str, dict]]:  # type: ignore[no-untyped-def]
    rows = await read_subjects(js, names.QUEUES, [names.all_stream_filter(names.QUEUES)])
    return {json.loads(data)["id"]: (subject, json.loads(data)["decision"]) for subject, data in rows}


async def test_publish_switches_running_workers_mid_stream(nc: Client, nats_server, tmp_path: Path) -> None:
    settings = Settings(data=tmp_path / "data", batch_size=32)
    js = nc.jetstream()
    await ensure_streams(js, settings)
    old = load_config(EXAMPLE_CONFIG)
    kv = await config_bucket(js, settings)
    await startup_config(kv, old, settings.data / "configs", publish_local=True)  # what `up --config` does
    assert await current_version(kv) == old.version
    stop = asyncio.Event()
    workers = [asyncio.create_task(run_enrich(js, old, settings, stop)), asyncio.create_task(run_route(js, old, settings, stop))]
    new_dir = changed_config(tmp_path)
    new_version = load_config(new_dir).version
    half = TOTAL // 2

    async def send(n: int) -> None:
        it = item(n)
        await publish_item(js, names.event_subject("native", it.id), it.model_dump_json().encode(), it.id, 5)

    async def until_decided(count: int) -> dict[str, tuple[str, dict]]:
        deadline = asyncio.get_running_loop().time() + 90
        while True:
            seen = await decided(js)
            if len(seen) >= count:
                return seen
            assert asyncio.get_running_loop().time() < deadline, f"only {len(seen)} of {count} decided"
            await asyncio.sleep(0.1)

    try:
        for n in range(half):  # the first half is in flight while the change is published
            await send(n)
        result = await asyncio.to_thread(CliRunner().invoke, app, ["config", "publish", str(new_dir), "--nats", nats_server.url])
        assert result.exit_code == 0, result.output
        assert new_version in result.stdout
        probes = 0
        while True:  # one probe at a time until one comes out decided by the new version: both have switched
            await send(TOTAL + probes)
            probes += 1
            seen = await until_decided(half + probes)
            if seen[item(TOTAL + probes - 1).id][1]["config_version"] == new_version:
                break
            assert probes < 300, "the workers never switched to the published version"
        for n in range(half, TOTAL):  # everything after the switch
            await send(n)
        seen = await until_decided(TOTAL + probes)
    finally:
        stop.set()
        await asyncio.wait(workers, timeout=10)

    expected = {
        old.version: ("by-area", f"{names.QUEUE_PREFIX}.unrouted."),
        new_version: ("switched", f"{names.QUEUE_PREFIX}.switched."),
    }
    versions = {old.version: 0, new_version: 0}
    for n in range(TOTAL + probes):
        subject, decision = seen[item(n).id]
        rule, prefix = expected[decision["config_version"]]  # KeyError: a decision of neither version
        assert decision["rule"] == rule and subject.startswith(prefix), (n, decision, subject)
        versions[decision["config_version"]] += 1
    assert versions[old.version] > 0 and versions[new_version] >= TOTAL - half, versions
    late = [n for n in range(half, TOTAL) if seen[item(n).id][1]["config_version"] != new_version]
    assert late == [], f"items published after the switch decided with the old version: {late[:5]}"

    listed = [v.version for v in await list_versions(kv)]
    assert listed == [old.version, new_version]
    result = await asyncio.to_thread(CliRunner().invoke, app, ["config", "rollback", old.version, "--nats", nats_server.url])
    assert result.exit_code == 0, result.output
    assert await current_version(kv) == old.version
    bad = await asyncio.to_thread(CliRunner().invoke, app, ["config", "rollback", "nope", "--nats", nats_server.url])
    assert bad.exit_code == 1 and "no published config version" in bad.output


async def test_publish_refuses_an_invalid_folder(nats_server, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(EXAMPLE_CONFIG, broken)
    (broken / "rules.yaml").write_text("rules:\n  - name: x\n    when: {intent: {bogus: 1}}\n    route: {team: t}\n")
    result = await asyncio.to_thread(CliRunner().invoke, app, ["config", "publish", str(broken), "--nats", nats_server.url])
    assert result.exit_code == 1
    assert "rules.yaml:3" in result.output and "not published" in result.output
