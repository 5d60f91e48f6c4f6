"""`switchboard themes --json` on recorded items, and `themes rename` / `themes merge`, against a real nats-server."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import nats
import numpy as np
import pytest
from typer.testing import CliRunner

from schemas.item import Account, Decision, Item, ThemeRef, item_id
from services.cli.main import app
from services.common import names
from services.common.broker import publish_item
from services.common.settings import Settings
from services.common.streams import ensure_streams, themes_bucket
from services.themes.clustering import Member, unit
from services.themes.store import ThemeStore

pytestmark = pytest.mark.integration
ACCOUNTS = {"acme": 300_000.0, "globex": 250_000.0, "initech": 40_000.0}
X, Y = unit(np.array([1, 0, 0, 0], np.float32)), unit(np.array([0, 1, 0, 0], np.float32))


async def record(url: str) -> dict[str, str]:
    """Six items in two themes (csv: 3 accounts; sso: 1 account), recorded as enrich and route would."""
    settings = Settings()
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, settings)
        store = ThemeStore(await themes_bucket(js, settings), "test", 4)
        await store.start()
        plan = [("csv export cuts columns", X, "acme"), ("csv export missing columns", X, "globex"),
                ("csv export broken", X, "initech"), ("csv export broken again", X, "acme"),
                ("sso login loops", Y, "acme"), ("sso login fails", Y, "acme")]
        ids = {}
        for n, (text, v, account) in enumerate(plan):
            iid = item_id("native", f"cli-{n}")
            theme = await store.assign("reporting", v, Member(iid, text, account, ACCOUNTS[account]), datetime.now(UTC))
            it = Item(id=iid, source="native", kind="standard", event_type="feedback.created", delivery_id=f"cli-{n}",
                      received_at=datetime.now(UTC) - timedelta(minutes=10), text=text,
                      account=Account(id=account, arr=ACCOUNTS[account]),
                      theme=ThemeRef(id=theme.id, label=theme.label, area="reporting", items=theme.items,
                                     accounts=len(theme.accounts), arr=theme.arr))
            await publish_item(js, names.enriched_subject("native", iid), it.model_dump_json().encode(), f"{iid}:e", 5)
            decided = it.model_copy(update={"decision": Decision(rule="by-area", action="route", team="insights", reason="x")})
            await publish_item(js, names.queue_subject("insights", iid), decided.model_dump_json().encode(), f"{iid}:q", 5)
            ids[text] = theme.id
        await store.stop()
        return ids
    finally:
        await nc.close()


def themes_json(url: str, *args: str) -> list[dict]:  # type: ignore[type-arg]
    result = CliRunner().invoke(app, ["themes", "--json", "--nats", url, *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_themes_json_rename_and_merge(nats_server) -> None:
    ids = asyncio.run(record(nats_server.url))
    csv_id, sso_id = ids["csv export broken"], ids["sso login fails"]
    rows = themes_json(nats_server.url, "--since", "1d")
    assert [r["id"] for r in rows] == [csv_id, sso_id]  # by ARR: 590k before 300k
    csv = rows[0]
    assert set(csv) == {"id", "label", "area", "team", "items", "accounts", "arr", "previous", "examples", "item_ids"}
    assert (csv["items"], csv["accounts"], csv["arr"], csv["previous"]) == (4, 3, 590_000.0, 0)
    assert (csv["area"], csv["team"]) == ("reporting", "insights")
    assert "csv export" in csv["label"] and len(csv["item_ids"]) == 4 and csv["examples"]
    assert themes_json(nats_server.url, "--team", "nobody") == []
    assert [r["id"] for r in themes_json(nats_server.url, "--team", "insights")] == [csv_id, sso_id]

    runner = CliRunner()
    renamed = runner.invoke(app, ["themes", "rename", sso_id, "SSO login loop", "--nats", nats_server.url])
    assert renamed.exit_code == 0, renamed.output
    assert json.loads(renamed.stdout)["label"] == "SSO login loop"
    merged = runner.invoke(app, ["themes", "merge", sso_id, csv_id, "--nats", nats_server.url])
    assert merged.exit_code == 0, merged.output
    assert json.loads(merged.stdout)["items"] == 6
    [row] = themes_json(nats_server.url, "--since", "1d")  # items keep their old id; the report resolves it
    assert (row["id"], row["items"], row["accounts"], row["arr"]) == (csv_id, 6, 3, 590_000.0)
    missing = runner.invoke(app, ["themes", "merge", "th-nope", csv_id, "--nats", nats_server.url])
    assert missing.exit_code == 1 and "no theme th-nope" in missing.output
