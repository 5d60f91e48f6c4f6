"""The inbox web app (contract 6): pages, JSON API, static files. `create_app` wires the pieces; the lifespan
builds the in-memory index from the streams before the first request is served."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Mapping

from nats.aio.client import Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from services.common.html import SECURITY_HEADERS
from services.common.settings import Settings
from services.common.streams import item_state_bucket, themes_bucket
from services.config.models import Config
from services.inbox.feed import Feed
from services.inbox.index import InboxIndex
from services.inbox.service import Inbox
from services.inbox.store import StateStore
from services.web.access import Access, users_from
from services.web.api import Api
from services.web.digest import DigestPage
from services.web.pages import Pages
from services.web.themes import ThemeCatalog, ThemePages

STATIC = Path(__file__).resolve().parent / "static"
_HEADERS = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]


class SecurityHeaders:
    """Every response (pages, fragments, JSON, static files) carries the CSP and its companions."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class WebState:
    """What the lifespan builds: filled in before the first request."""

    inbox: Inbox
    feed: Feed
    themes: ThemeCatalog


def create_app(config: Config, settings: Settings, nc: Client, environ: Mapping[str, str] | None = None) -> Any:
    env = environ if environ is not None else os.environ
    access = Access.from_env(users_from(config.users, env), env)
    state = WebState()
    js = nc.jetstream()

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        kv = await item_state_bucket(js, settings)
        index = InboxIndex(config.teams)
        state.inbox = Inbox(config, index, StateStore(js, kv, config.teams))
        state.feed = Feed(js, kv, index)
        state.themes = ThemeCatalog(await themes_bucket(js, settings))
        await state.feed.start()
        try:
            yield
        finally:
            await state.feed.stop()

    secure = settings.public_url.startswith("https://")

    handlers: dict[str, Any] = {}

    def api() -> Api:
        if "api" not in handlers:
            handlers["api"] = Api(state.inbox, access)
        return handlers["api"]

    def pages() -> Pages:
        if "pages" not in handlers:
            handlers["pages"] = Pages(state.inbox, access, secure_cookies=secure,
                                      theme_card=lambda user, entry: theme_pages().card(user, entry))
        return handlers["pages"]

    def digest_page() -> DigestPage:
        if "digest" not in handlers:
            handlers["digest"] = DigestPage(pages(), js, config)
        return handlers["digest"]
    def theme_pages() -> ThemePages:
        if "themes" not in handlers:
            handlers["themes"] = ThemePages(pages(), state.themes)
        return handlers["themes"]

    def via(factory: Any, method: str) -> Any:
        async def endpoint(request: Request) -> Response:
            return await getattr(factory(), method)(request)
        return endpoint

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "items": len(state.inbox.index)})

    routes = [
        Route("/healthz", healthz),
        Route("/api/openapi.json", via(api, "openapi")),
        Route("/api/teams", via(api, "teams")),
        Route("/api/version", via(api, "version")),
        Route("/api/items", via(api, "items")),
        Route("/api/items/{item_id}", via(api, "item")),
        Route("/api/items/{item_id}/{action}", via(api, "change"), methods=["POST"]),
        Route("/login", via(pages, "login_form")),
        Route("/login", via(pages, "login"), methods=["POST"]),
        Route("/logout", via(pages, "logout"), methods=["POST"]),
        Route("/", via(pages, "home")),
        Route("/teams/{team}", via(pages, "team")),
        Route("/teams/{team}/digest", via(digest_page, "show")),
        Route("/teams/{team}/themes", via(theme_pages, "team_themes")),
        Route("/items/{item_id}/theme", via(theme_pages, "item_theme")),
        Route("/items/{item_id}", via(pages, "item")),
        Route("/items/{item_id}/{action}", via(pages, "act"), methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return SecurityHeaders(Starlette(routes=routes, lifespan=lifespan))
