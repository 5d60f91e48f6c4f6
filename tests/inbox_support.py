"""Test support for the inbox: queued items made to order, and the inbox web app served by a real uvicorn on
a free port, in its own thread and event loop, against a real nats-server (sync tests like schemathesis and
async tests can both call it over HTTP)."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats
import uvicorn

from schemas.item import Account, AreaMatch, Decision, Item, Person, item_id
from services.common import names
from services.common.broker import publish_item
from services.common.embedded import free_port
from services.common.settings import Settings
from services.common.streams import ensure_streams
from services.config.loader import load_config
from services.config.models import Config
from services.config.teams import UserConfig
from tests.conftest import EXAMPLE_CONFIG

TOKENS = {"OPS": "ops-secret-token", "DANA": "dana-secret-token", "PRIYA": "priya-secret-token"}


def inbox_config(extra_users: int = 0) -> tuple[Config, dict[str, str]]:
    """The example config with its three users (tokens set here) and `extra_users` more on strategic-pm."""
    config = load_config(EXAMPLE_CONFIG)
    users = [
        UserConfig(email="ops@example.com", name="Ops", teams=["*"], token="T_OPS"),
        UserConfig(email="dana@example.com", name="Dana", teams=["strategic-pm", "insights"], token="T_DANA"),
        UserConfig(email="priya@example.com", name="Priya", teams=["platform", "mobile"], token="T_PRIYA"),
    ]
    env = {"T_OPS": TOKENS["OPS"], "T_DANA": TOKENS["DANA"], "T_PRIYA": TOKENS["PRIYA"]}
    for n in range(extra_users):
        users.append(UserConfig(email=f"pm{n}@example.com", teams=["strategic-pm"], token=f"T_PM{n}"))
        env[f"T_PM{n}"] = f"pm{n}-secret-token"
    return config.model_copy(update={"users": users}), env


def queued_item(n: int, team: str = "strategic-pm", priority: str = "high", text: str | None = None,
                account: str = "Stark Manufacturing", arr: float = 185000.0, age: timedelta = timedelta(minutes=5),
                area: str = "integrations", intent: str = "bug") -> Item:
    now = datetime.now(UTC)
    delivery = f"inbox-test-{n}-{time.monotonic_ns()}"
    return Item(
        id=item_id("native", delivery), source="native", kind="standard", event_type="feedback.created",
        delivery_id=delivery, received_at=now - age, title=f"Item {n}",
        text=text or f"Feedback number {n}: the sync is broken", person=Person(email=f"user{n}@starkmfg.com"),
        account=Account(id=f"acc_{n % 7}", name=account, arr=arr, plan="enterprise", owner="owner@example.com"),
        area=AreaMatch(id=area, confidence=0.8), intent=intent, intent_confidence=0.7,
        decision=Decision(rule="by-area", action="route", team=team, priority=priority, reason="area owner"),
        decided_at=now - age, raw={"text": text or f"Feedback number {n}"},
    )


async def publish_items(js: Any, items: list[Item]) -> None:
    for item in items:
        team = item.decision.team if item.decision and item.decision.team else names.UNROUTED_TEAM
        await publish_item(js, names.queue_subject(team, item.id), item.model_dump_json().encode(), item.id, 5.0)


class InboxServer:
    """`with InboxServer(nats_url, items) as s:` → s.url serves the inbox; s.publish(items) adds to queues."""

    def __init__(self, nats_url: str, items: list[Item], config: Config | None = None,
                 env: dict[str, str] | None = None) -> None:
        if config is None:
            config, env = inbox_config()
        self.nats_url = nats_url
        self.items = items
        self.config = config
        self.env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: uvicorn.Server | None = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            self._error = exc

    async def _serve(self) -> None:
        from services.web.app import create_app

        settings = Settings(nats_url=self.nats_url)
        self.nc = await nats.connect(self.nats_url)
        self.js = self.nc.jetstream()
        await ensure_streams(self.js, settings)
        await publish_items(self.js, self.items)
        app = create_app(self.config, settings, self.nc, self.env)
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                     lifespan="on"))
        await self._server.serve()
        await self.nc.close()

    def publish(self, items: list[Item]) -> None:
        asyncio.run_coroutine_threadsafe(publish_items(self.js, items), self._loop).result(10)

    def call(self, coro_factory: Any) -> Any:
        """Run `coro_factory(js)` on the server's loop (its NATS connection) and return the result."""
        return asyncio.run_coroutine_threadsafe(coro_factory(self.js), self._loop).result(30)

    def __enter__(self) -> "InboxServer":
        self._thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._error is not None:
                raise RuntimeError(f"inbox server failed: {self._error!r}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("inbox server did not start")

    def __exit__(self, *exc: Any) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(timeout=15)


def bearer(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS.get(who, who)}"}
