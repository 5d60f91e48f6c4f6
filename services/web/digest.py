"""The digest as a page of the inbox app: `/teams/{team}/digest[?since=7d]`, with the server-side SVG chart
(inline markup, no script, no style attribute: the CSP holds). Read from the streams, kept a minute per
(team, period) so a refresh storm does not re-read them."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Callable

from nats.js import JetStreamContext
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from schemas.digest import Digest
from services.config.models import Config
from services.digest.build import build_digest
from services.digest.reader import read_period
from services.digest.render import html_context
from services.web.pages import Pages

PERIODS = ("1d", "7d", "14d", "30d")
CACHE_S = 60.0


class DigestPage:
    def __init__(self, pages: Pages, js: JetStreamContext, config: Config,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.pages = pages
        self.js = js
        self.area_teams = {a.id: a.team for a in config.areas.areas}
        self.clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Digest]] = {}

    async def _digest(self, team: str, since: str) -> Digest:
        key = (team, since)
        hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < CACHE_S:
            return hit[1]
        now = self.clock()
        items, feedback = await read_period(self.js, since, now)
        digest = build_digest(items, feedback, since, team, now, self.area_teams)
        self._cache[key] = (time.monotonic(), digest)
        return digest

    async def show(self, request: Request) -> Response:
        user = self.pages.user(request)
        if user is None:
            return RedirectResponse("/login", status_code=303)
        team = request.path_params["team"]
        if not user.sees(team):
            return self.pages._denied(request, user, f"{team} is not one of your teams.")
        since = request.query_params.get("since", "7d")
        if since not in PERIODS:
            return self.pages._page(request, "inbox_message.html", 422, user, title="Bad period",
                                    message=f"since must be one of {', '.join(PERIODS)}.")
        digest = await self._digest(team, since)
        return self.pages._page(request, "inbox_digest.html", user=user, team=team,
                                team_name=self.pages.inbox.team_name(team), periods=PERIODS, **html_context(digest))
