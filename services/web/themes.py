"""Themes in the inbox (contract 7): `/teams/{team}/themes` (per theme: label, items, accounts, ARR, trend,
examples, links to the items) and the theme card with its sibling items on each item's page.

Computed from the inbox's in-memory index (the team's queue items, every state) with the same pure report as
`switchboard themes`; the theme entries (current labels, merges) come from KV `sb_themes`, re-read at most every
few seconds. Rendered only through services.common.html.render (no inline script or style)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.js.kv import KeyValue
from starlette.requests import Request
from starlette.responses import Response

from schemas.theme import Theme
from services.config.teams import duration_seconds
from services.inbox.index import Entry, Query
from services.inbox.service import Inbox
from services.inbox.state import STATE_FILTERS
from services.themes.catalog import load_themes
from services.themes.report import Directory, item_themes, theme_reports
from services.web.views import money, when

REFRESH_S = 5.0
ALL = 10**9
SINCE_CHOICES = ("24h", "7d", "30d", "90d")
SIBLINGS = 10


class ThemeCatalog:
    """The theme entries, re-read from KV when older than REFRESH_S (one read at a time)."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        self._themes: dict[str, Theme] = {}
        self._at = float("-inf")
        self._lock = asyncio.Lock()

    async def themes(self) -> dict[str, Theme]:
        async with self._lock:
            if time.monotonic() - self._at > REFRESH_S:
                self._themes = await load_themes(self.kv)
                self._at = time.monotonic()
        return self._themes


def _entries(inbox: Inbox, teams: list[str]) -> list[Entry]:
    return inbox.index.query(Query(teams=tuple(teams), statuses=STATE_FILTERS["all"], limit=ALL), datetime.now(UTC))


def _trend(items: int, previous: int) -> str:
    if previous == 0:
        return "new"
    return f"{(items - previous) / previous:+.0%}"


class ThemePages:
    def __init__(self, pages: Any, catalog: ThemeCatalog) -> None:
        self.pages = pages  # services.web.pages.Pages: login, CSRF and the page renderer
        self.inbox: Inbox = pages.inbox
        self.catalog = catalog

    async def team_themes(self, request: Request) -> Response:
        user = self.pages.user(request)
        if user is None:
            return self.pages._login_redirect()
        team = request.path_params["team"]
        if not user.sees(team):
            return self.pages._denied(request, user, f"{team} is not one of your teams.")
        since = request.query_params.get("since") or "7d"
        try:
            window = timedelta(seconds=duration_seconds(since))
        except ValueError as exc:
            return self.pages._page(request, "inbox_message.html", 422, user, title="Bad period", message=str(exc))
        start = datetime.now(UTC) - window
        entries = _entries(self.inbox, [team])
        items = [e.item for e in entries if e.item.theme is not None and e.item.received_at >= start - window]
        directory = Directory(themes=await self.catalog.themes(), area_teams={},
                              item_teams={e.item.id: e.state.team for e in entries})
        rows = theme_reports([i for i in items if i.received_at >= start], [i for i in items if i.received_at < start],
                             directory, team)
        themes = [{"id": r.id, "label": r.label, "area": r.area or "", "count": r.items, "accounts": r.accounts,
                   "arr": money(r.arr) or "$0", "previous": r.previous, "trend": _trend(r.items, r.previous),
                   "examples": r.examples, "item_ids": r.item_ids[-SIBLINGS:][::-1], "more": max(0, r.items - SIBLINGS)}
                  for r in rows]
        return self.pages._page(request, "inbox_themes.html", user=user, team=team,
                                team_name=self.inbox.team_name(team), themes=themes, since=since,
                                since_choices=SINCE_CHOICES)

    async def item_theme(self, request: Request) -> Response:
        """The theme card of one item with its siblings (the item page's `theme-box` fragment)."""
        user = self.pages.user(request)
        if user is None:
            return self.pages._login_redirect()
        entry = self.inbox.index.get(request.path_params["item_id"])
        if entry is None or not user.sees(entry.state.team):
            return self.pages._page(request, "inbox_message.html", 404, user, title="No such item",
                                    message="No item with that id is in any of your queues.")
        card = await self.card(user, entry)
        return self.pages._page(request, "inbox_item_theme.html", user=user, theme=card)

    async def card(self, user: Any, entry: Entry) -> dict[str, Any] | None:
        """What the item page shows of the item's theme: label, counts, and the other items of it."""
        ref = entry.item.theme
        if ref is None:
            return None
        visible = _entries(self.inbox, self.inbox.teams_of(user))
        directory = Directory(themes=await self.catalog.themes(), area_teams={}, item_teams={})
        theme, siblings = item_themes(entry.item, [e.item for e in visible], directory, limit=SIBLINGS)
        return {
            "id": theme.id if theme else ref.id, "label": theme.label if theme else ref.label,
            "area": ref.area or "", "count": theme.items if theme else ref.items,
            "accounts": len(theme.accounts) if theme else ref.accounts,
            "arr": money(theme.arr if theme else ref.arr) or "$0", "team": entry.state.team,
            "siblings": [{"id": s.id, "title": ((s.title or s.text or "").strip()[:100] or "(no text)"),
                          "account": (s.account.name or s.account.id) if s.account else "",
                          "received": when(s.received_at)} for s in siblings],
        }
