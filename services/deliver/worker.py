"""The deliver stage: three durable pull consumers on the existing consumer loop (`run_stage`):
SB_ANSWERS (answers back into the source tool), SB_QUEUES (team notifications) and SB_OUTBOX (PM replies;
deliveries replayed from the DLQ). Thin: decode, plan (plans.py), deliver each target once (once.py)."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from typing import Callable, Sequence
from urllib.parse import urlsplit

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from pydantic import ValidationError

from schemas.digest import DigestMessage
from schemas.item import Item
from schemas.outbox import Reply
from services.common import names
from services.common.consumer import Stage, run_stage
from services.common.errors import PermanentError, is_permanent
from services.common.logging import get_logger
from services.common.settings import Settings
from services.common.streams import config_bucket, deliveries_bucket
from services.config.live import LiveConfig
from services.config.models import Config
from services.deliver import metrics
from services.deliver.ledger import Ledger
from services.deliver.once import deliver_once
from services.deliver.plans import Context, Planned, plan_answer, plan_digest, plan_notify, plan_reply
from services.digest.scheduler import run_schedule
from services.outbound.client import OutboundClient, OutboundSettings
from services.outbound.guard import SLACK_RESPONSE_HOST, AllowList

log = get_logger("switchboard.deliver")

STAGES = (
    Stage("deliver", names.ANSWERS, names.DELIVER_ANSWERS_CONSUMER, names.all_stream_filter(names.ANSWERS),
          names.deliver_dead_letter_token),
    Stage("deliver", names.QUEUES, names.DELIVER_QUEUES_CONSUMER, names.all_stream_filter(names.QUEUES),
          names.deliver_dead_letter_token),
    Stage("deliver", names.OUTBOX, names.DELIVER_OUTBOX_CONSUMER, names.all_stream_filter(names.OUTBOX),
          names.deliver_dead_letter_token),
)


def configured_hosts(config: Config, env: dict[str, str]) -> frozenset[str]:
    """The only hosts deliver may call: each source's reply.url, each team's Slack webhooks, Slack's response host."""
    urls = [s.reply.url for s in config.sources if s.reply]
    for team in config.teams.teams:
        for hook in (team.notify, team.digest):
            if hook is not None and env.get(hook.slack_webhook):
                urls.append(env[hook.slack_webhook])
    return frozenset({SLACK_RESPONSE_HOST} | {(urlsplit(u).hostname or "").lower() for u in urls} - {""})


class DeliverHandler:
    def __init__(self, ledger: Ledger, client: OutboundClient, config: Config, settings: Settings,
                 env: dict[str, str]) -> None:
        self.ledger = ledger
        self.client = client
        # the published config (sources' reply blocks, teams' webhooks) and the hosts it allows, swapped together
        self.live: LiveConfig[frozenset[str]] = LiveConfig(lambda c: configured_hosts(c, env), config)
        self.settings = settings
        self.env = env
        self.allow = client.allow
        # the longest one delivery can take: retries start within the budget, the last one may look and post
        self.in_flight_s = (settings.deliver_budget_s + 2 * settings.deliver_read_timeout_s
                            + settings.deliver_connect_timeout_s)
        self._said: set[str] = set()

    async def __call__(self, msgs: Sequence[Msg]) -> list[BaseException | None]:
        config, hosts = self.live.current  # once per batch
        self.client.hosts = hosts
        return list(await asyncio.gather(*(self._one(m, config) for m in msgs)))

    def _plan(self, msg: Msg, config: Config) -> list[Planned]:
        origin = names.deliver_input(msg.subject)[0]
        ctx = Context(config, self.env, self.allow, self.settings.public_url, datetime.now(UTC))
        plans: dict[str, Callable[[Item, Context], list[Planned]]] = {"answer": plan_answer, "notify": plan_notify}
        try:
            if origin == names.OUTBOX_REPLY:
                return plan_reply(Reply.model_validate_json(msg.data), ctx)
            if origin == names.OUTBOX_DIGEST:
                return plan_digest(DigestMessage.model_validate_json(msg.data), ctx)
            if origin in plans:
                return plans[origin](Item.model_validate_json(msg.data), ctx)
        except ValidationError as exc:
            raise PermanentError(f"not a valid {origin} message: {exc.errors()[0]['msg']}") from None
        raise PermanentError(f"deliver does not handle {msg.subject!r} (outbox kind {origin!r})")

    async def _one(self, msg: Msg, config: Config) -> BaseException | None:
        try:
            planned = self._plan(msg, config)
        except PermanentError as exc:
            return exc
        heartbeat = asyncio.create_task(self._in_progress(msg))
        try:
            results = await asyncio.gather(
                *(deliver_once(self.ledger, self.client, p, self.in_flight_s) for p in planned), return_exceptions=True
            )
        finally:
            heartbeat.cancel()
        for p, r in zip(planned, results, strict=True):
            if isinstance(r, BaseException):
                log.warning("delivery.failed", id=p.item_id, target=p.target, kind=p.kind, error=str(r)[:300])
                continue
            delivery, changed = r
            if changed and delivery.status == "skipped" and p.skip and "environment variable" in p.skip:
                if p.skip not in self._said:  # a missing webhook URL is said once, not per item
                    self._said.add(p.skip)
                    log.warning("delivery.skipped", target=p.target, reason=p.skip)
            elif changed and delivery.status == "sent":
                log.info("delivery.sent", id=p.item_id, target=p.target, kind=p.kind, attempts=delivery.attempts,
                         status=delivery.http_status, found_by_lookup=delivery.checked)
        errors = [r for r in results if isinstance(r, BaseException)]
        transient = [e for e in errors if not is_permanent(e)]
        return (transient or errors or [None])[0]


    async def _in_progress(self, msg: Msg) -> None:
        """Tell JetStream this message is still being worked on, so a slow tool never gets it redelivered to a
        second worker mid-call (the ack deadline restarts each time)."""
        while True:
            await asyncio.sleep(max(0.5, self.settings.ack_wait_s / 3))
            try:
                await msg.in_progress()
            except Exception:  # noqa: BLE001 - broker away: the redelivery is absorbed by the ledger
                return


def outbound_client(config: Config, settings: Settings, env: dict[str, str]) -> OutboundClient:
    return OutboundClient(
        configured_hosts(config, env),
        AllowList.parse(settings.outbound_allow),
        OutboundSettings(connect_timeout_s=settings.deliver_connect_timeout_s,
                         read_timeout_s=settings.deliver_read_timeout_s, budget_s=settings.deliver_budget_s,
                         max_response_bytes=settings.deliver_max_response_bytes),
        on_retry=lambda req, exc: metrics.retried(req.kind, exc),
    )


async def run_deliver(js: JetStreamContext, config: Config, settings: Settings, stop: asyncio.Event) -> None:
    env = dict(os.environ)
    # a tool may be down for minutes: more redeliveries (NAK delays 0.5 s ... 30 s) than the other stages
    settings = settings.model_copy(update={"max_deliver": settings.deliver_max_deliver})
    client = outbound_client(config, settings, env)
    handler = DeliverHandler(Ledger(await deliveries_bucket(js, settings)), client, config, settings, env)
    if settings.deliver_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.deliver_metrics_port, addr=settings.host)
    # several fetch loops share each durable consumer: a batch waiting on a slow tool holds up only its own loop
    loops = [run_stage(js, stage, handler, settings, stop) for stage in STAGES for _ in range(settings.deliver_loops)]
    follow = handler.live.follow(await config_bucket(js, settings), settings.data / "configs", stop)
    schedule = run_schedule(js, lambda: handler.live.current[0], settings, stop)  # teams.yaml digest: (docs/digests.md)
    try:
        await asyncio.gather(*loops, follow, schedule)
    finally:
        await client.aclose()
