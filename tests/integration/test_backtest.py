"""`switchboard rules backtest` against a real nats-server: items decided by the running route worker, then
re-decided with a changed rules.yaml — the moves name exactly the items that would change destination."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.aio.client import Client
from typer.testing import CliRunner

from schemas.item import Account, AreaMatch, Item, item_id
from services.cli.main import app
from services.common import names
from services.common.broker import publish_item
from services.common.settings import Settings
from services.common.streams import decisions_bucket, ensure_streams
from services.config.loader import load_config
from services.route.worker import run_route
from tests.conftest import EXAMPLE_CONFIG

pytestmark = pytest.mark.integration


def enriched(delivery: str, intent: str, area: str, arr: float = 1000.0) -> Item:
    return Item(
        id=item_id("native", delivery), source="native", kind="standard", event_type="feedback.created",
        delivery_id=delivery, received_at=datetime.now(UTC), text=f"{intent} about {area}",
        account=Account(id=f"acc_{delivery}", arr=arr), area=AreaMatch(id=area, confidence=0.9, best=area),
        intent=intent, intent_confidence=0.9, enriched_at=datetime.now(UTC),
    )


async def test_backtest_moves_exactly_the_changed_items(nc: Client, nats_server, tmp_path: Path) -> None:
    settings = Settings(data=tmp_path, batch_size=16)
    js = nc.jetstream()
    await ensure_streams(js, settings)
    items = [
        enriched("p1", "praise", "reporting"), enriched("p2", "praise", "mobile"),
        enriched("b1", "bug", "reporting"), enriched("b2", "bug", "billing", arr=250000.0),
        enriched("f1", "feature_request", "reporting"),
    ]
    for item in items:
        await publish_item(js, names.enriched_subject("native", item.id), item.model_dump_json().encode(), item.id, 5)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_route(js, load_config(EXAMPLE_CONFIG), settings, stop))
    decisions = await decisions_bucket(js, settings)
    deadline = asyncio.get_running_loop().time() + 30
    while True:  # wait until route has decided every item
        try:
            keys = set(await decisions.keys())
        except Exception:  # noqa: BLE001 - no keys yet
            keys = set()
        if {i.id for i in items} <= keys:
            break
        assert asyncio.get_running_loop().time() < deadline, "route did not decide every item"
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait([worker], timeout=10)

    changed = tmp_path / "config-next"
    shutil.copytree(EXAMPLE_CONFIG, changed)
    rules = (changed / "rules.yaml").read_text()
    new_rule = "rules:\n  - name: praise-is-recorded\n    when: {intent: praise}\n    drop: {reason: praise goes to the wall of love}\n"
    (changed / "rules.yaml").write_text(rules.replace("rules:\n", new_rule, 1))

    result = await asyncio.to_thread(
        CliRunner().invoke, app,
        ["rules", "backtest", "--config", str(changed), "--current", str(EXAMPLE_CONFIG), "--since", "1h",
         "--json", "--nats", nats_server.url],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["items"] == 5 and report["rejudged"] is False
    moves = {(m["from"], m["to"]): sorted(m["ids"]) for m in report["moves"]}
    assert moves == {
        ("queue:insights", "drop"): [items[0].id],
        ("queue:mobile", "drop"): [items[1].id],
    }
    assert all(m["count"] == len(m["ids"]) for m in report["moves"])

    # the same config compared with itself moves nothing
    same = await asyncio.to_thread(
        CliRunner().invoke, app,
        ["rules", "backtest", "--config", str(EXAMPLE_CONFIG), "--current", str(EXAMPLE_CONFIG), "--json",
         "--nats", nats_server.url],
    )
    assert same.exit_code == 0, same.output
    assert json.loads(same.stdout.strip().splitlines()[-1])["moves"] == []


TEXTS = [
    "How do I download last year's invoices?", "I was charged twice this month", "Please add dark mode to the mobile app",
    "The Salesforce sync is broken and drops every deal", "How do I set up SSO with Okta?", "Love the new dashboards!",
    "Our dashboards are empty since this morning", "Can we get a refund for unused seats?",
    "The iOS app crashes when I open a report", "Where do I find my API key?", "We are thinking of cancelling, too expensive",
    "Export to CSV cuts off wide tables", "Push notifications stopped arriving on Android", "How do I add more seats?",
]


async def test_backtest_predicts_what_publishing_does(nc: Client, nats_server, tmp_path: Path) -> None:
    """Backtest a change over a recorded period, publish it, send the same texts again as new items: the
    destinations observed equal the backtest's prediction, text for text."""
    from services.config.versions import startup_config
    from services.common.streams import config_bucket
    from services.enrich.worker import run_enrich
    from tests.integration.test_stages import make_item

    settings = Settings(data=tmp_path / "data", batch_size=16)
    js = nc.jetstream()
    await ensure_streams(js, settings)
    old = load_config(EXAMPLE_CONFIG)
    await startup_config(await config_bucket(js, settings), old, settings.data / "configs", publish_local=True)
    stop = asyncio.Event()
    workers = [asyncio.create_task(run_enrich(js, old, settings, stop)), asyncio.create_task(run_route(js, old, settings, stop))]
    decisions = await decisions_bucket(js, settings)

    async def send_and_wait(prefix: str) -> dict[str, str]:
        """text -> item id, once route has decided every one."""
        ids = {}
        for n, text in enumerate(TEXTS):
            it = make_item(f"{prefix}-{n}", text)
            ids[text] = it.id
            await publish_item(js, names.event_subject("native", it.id), it.model_dump_json().encode(), it.id, 5)
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            try:
                keys = set(await decisions.keys())
            except Exception:  # noqa: BLE001 - no keys yet
                keys = set()
            if set(ids.values()) <= keys:
                return ids
            assert asyncio.get_running_loop().time() < deadline, "route did not decide every item"
            await asyncio.sleep(0.1)

    try:
        recorded = await send_and_wait("before")
        changed = tmp_path / "config-next"
        shutil.copytree(EXAMPLE_CONFIG, changed)
        rules = (changed / "rules.yaml").read_text()
        new_rules = ("rules:\n  - name: billing-desk\n    when: {area: billing}\n    route: {team: billing-desk}\n"
                     "  - name: no-praise\n    when: {intent: praise}\n    drop: {reason: praise is read elsewhere}\n")
        (changed / "rules.yaml").write_text(rules.replace("rules:\n", new_rules, 1))
        run = lambda *args: CliRunner().invoke(app, [*args, "--nats", nats_server.url])  # noqa: E731
        result = await asyncio.to_thread(run, "rules", "backtest", "--config", str(changed), "--current", str(EXAMPLE_CONFIG), "--json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert report["items"] == len(TEXTS) and report["moves"], report  # the change moves something
        from services.route.backtest import destination
        from schemas.item import Decision

        before = {t: destination(Decision.model_validate_json((await decisions.get(i)).value)) for t, i in recorded.items()}
        predicted = dict(before)
        by_id = {i: t for t, i in recorded.items()}
        for move in report["moves"]:
            for item_id_ in move["ids"]:
                assert before[by_id[item_id_]] == move["from"]
                predicted[by_id[item_id_]] = move["to"]

        published = await asyncio.to_thread(run, "config", "publish", str(changed))
        assert published.exit_code == 0, published.output
        new_version = load_config(changed).version
        probe = 0
        while True:  # wait (on a condition) until the workers decide with the new version
            probe_ids = await send_and_wait(f"probe{probe}")
            entry = await decisions.get(probe_ids[TEXTS[0]])
            if Decision.model_validate_json(entry.value).config_version == new_version:
                break
            probe += 1
            assert probe < 60, "workers did not switch"
        replayed = await send_and_wait("after")
        observed = {t: destination(Decision.model_validate_json((await decisions.get(i)).value)) for t, i in replayed.items()}
    finally:
        stop.set()
        await asyncio.wait(workers, timeout=10)
    assert observed == predicted
