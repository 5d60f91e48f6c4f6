"""The themes page per team and the theme card (with its siblings) on the item page, over HTTP against a real
nats-server; theme labels and merges come from KV sb_themes; hostile text stays escaped."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import nats
import numpy as np
import pytest

from schemas.item import Account, Item, ThemeRef
from services.common.embedded import EmbeddedNats
from services.common.html import CONTENT_SECURITY_POLICY
from services.common.settings import Settings
from services.common.streams import ensure_streams, themes_bucket
from services.themes.clustering import Member, unit
from services.themes.entries import rename
from services.themes.store import ThemeStore
from tests.inbox_support import InboxServer, bearer, queued_item

pytestmark = pytest.mark.integration
HOSTILE = "<script>alert(1)</script> dashboards by email"


async def themed(url: str) -> tuple[list[Item], str]:
    """Five strategic-pm items: four in one theme from three accounts (one of them older: the previous week),
    one alone in another theme; the big theme renamed by an ops person."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, Settings())
        kv = await themes_bucket(js, Settings())
        store = ThemeStore(kv, "test", 2)
        await store.start()
        plan = [(HOSTILE, [1, 0], "acc_a", 100_000.0, 1), ("dashboards emailed weekly", [1, 0.05], "acc_b", 200_000.0, 2),
                ("email the dashboard", [1, 0.1], "acc_a", 100_000.0, 3), ("schedule dashboard email", [1, 0], "acc_c", 7_000.0, 9),
                ("SSO with Okta loops", [0, 1], "acc_d", 50_000.0, 1)]
        items = []
        for n, (text, v, account, arr, days) in enumerate(plan):
            base = queued_item(n, text=text, account=account, arr=arr, age=timedelta(days=days))
            base = base.model_copy(update={"account": Account(id=account, name=account, arr=arr)})
            theme = await store.assign("reporting", unit(np.array(v, np.float32)), Member(base.id, text, account, arr),
                                       datetime.now(UTC))
            items.append(base.model_copy(update={"theme": ThemeRef(id=theme.id, label=theme.label, area="reporting",
                                                                     items=theme.items, accounts=len(theme.accounts),
                                                                     arr=theme.arr)}))
        await rename(kv, items[0].theme.id, "Scheduled dashboard e-mails", datetime.now(UTC))  # type: ignore[union-attr]
        await store.stop()
        return items, items[0].theme.id  # type: ignore[union-attr]
    finally:
        await nc.close()


def test_team_themes_page_and_item_theme_card(nats_server: EmbeddedNats) -> None:
    items, big = asyncio.run(themed(nats_server.url))
    with InboxServer(nats_server.url, items) as s:
        c = httpx.Client(base_url=s.url, timeout=10, headers=bearer("DANA"))
        page = c.get("/teams/strategic-pm/themes?since=7d")
        assert page.status_code == 200 and page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        text = page.text
        assert "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        first, second = text.index("Scheduled dashboard e-mails"), text.index(f"theme-{items[4].theme.id}")  # type: ignore[union-attr]
        assert first < second  # by ARR: $300k before $50k
        row = text[text.index(f'id="theme-{big}"'):second]
        cells = [c.strip() for c in row.split("<td>")[2:5]]
        assert [c.split("<")[0].strip() for c in cells] == ["3", "2", "$300k"]  # 3 items this week, acc_a once
        assert "+200%" in row and "(prev 1)" in row  # 1 item the week before
        for item in items[:3]:
            assert f'href="/items/{item.id}"' in row
        assert c.get("/teams/strategic-pm/themes?since=soon").status_code == 422
        assert c.get("/teams/platform/themes").status_code == 403

        item_page = c.get(f"/items/{items[1].id}")
        assert item_page.status_code == 200
        card = item_page.text[item_page.text.index('id="theme-card"'):]
        assert "Scheduled dashboard e-mails" in card
        for sibling in (items[0], items[2], items[3]):
            assert f'href="/items/{sibling.id}"' in card
        assert f'href="/items/{items[4].id}"' not in card
        fragment = c.get(f"/items/{items[4].id}/theme")
        assert fragment.status_code == 200 and "No other item of this theme" in fragment.text
        assert httpx.get(f"{s.url}/teams/strategic-pm/themes").status_code in (303, 307)  # no login
