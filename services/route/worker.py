"""The route stage: SB_ENRICHED → rules.yaml → a team queue, the answers stream, a drop or a record; and
SB_FEEDBACK → a "not helpful" answer re-decided into its team queue (services/route/feedback.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Sequence

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from pydantic import ValidationError

from schemas.item import Decision, Item
from services.common import names
from services.common.broker import publish_item
from services.common.consumer import Stage, run_stage
from services.common.errors import PermanentError
from services.common.logging import get_logger
from services.common.settings import Settings
from services.common.streams import config_bucket, decisions_bucket
from services.config.errors import ConfigError
from services.config.live import LiveConfig
from services.config.models import Config
from services.config.versions import UnknownVersion
from services.route.decisions import pin_decision
from services.route.feedback import FEEDBACK_STAGE, FeedbackHandler
from services.route.outputs import decided_item, outcome_subject, with_thresholds
from services.route.rules import CompiledRule, compile_rules, decide

log = get_logger("switchboard.route")

STAGE = Stage("route", names.ENRICHED, names.ROUTE_CONSUMER, names.all_stream_filter(names.ENRICHED))


class RouteHandler:
    def __init__(
        self, js: JetStreamContext, config: Config, settings: Settings, decisions: KeyValue,
        versions: KeyValue | None = None,
    ) -> None:
        self.js = js
        self.decisions = decisions
        self.live: LiveConfig[list[CompiledRule]] = LiveConfig(lambda c: compile_rules(c.rules), config)
        self.versions = versions  # sb_config: published versions, to decide with the one enrich judged with
        self._unpublished: set[str] = set()  # versions enrich used that sb_config does not hold (a local --config)
        self.settings = settings

    async def __call__(self, msgs: Sequence[Msg]) -> list[BaseException | None]:
        current = self.live.current  # once per batch: a config switch never splits an item's decision
        return list(await asyncio.gather(*(self._one(m, current) for m in msgs)))

    async def _rules_for(self, item: Item, current: tuple[Config, list[CompiledRule]]) -> tuple[Config, list[CompiledRule]]:
        """The version enrich judged the item with, when it is known (built, or published); else the current."""
        if not item.config_version or item.config_version == current[0].version:
            return current
        known = self.live.get(item.config_version)
        if known is None and self.versions is not None and item.config_version not in self._unpublished:
            try:
                known = await self.live.load(self.versions, item.config_version, self.settings.data / "configs")
            except (UnknownVersion, ConfigError):
                self._unpublished.add(item.config_version)  # asked once, not once per item
        return known or current

    async def _one(self, msg: Msg, current: tuple[Config, list[CompiledRule]]) -> BaseException | None:
        try:
            item = Item.model_validate_json(msg.data)
        except ValidationError as exc:
            return PermanentError(f"not a valid item: {exc.errors()[0]['msg']}")
        try:
            config, rules = await self._rules_for(item, current)
            decision = await self._first_decision(
                item.id,
                with_thresholds(decide(item, rules, config.areas, config.thresholds.kb, config.version), config.thresholds),
            )
            out = decided_item(item, decision, datetime.now(UTC))
            subject = outcome_subject(out, decision)
            stored = await publish_item(
                self.js,
                subject,
                out.model_dump_json().encode(),
                msg_id=f"{item.id}:decided",
                timeout=self.settings.publish_timeout_s,
            )
        except Exception as exc:  # noqa: BLE001 - classified by the consumer
            return exc
        # The one wide event of this item: what came in, what enrich found, what was decided, and when.
        log.info(
            "item.decided",
            id=item.id,
            source=item.source,
            kind=item.kind,
            event_type=item.event_type,
            category=item.category,
            delivery_id=item.delivery_id,
            account=item.account.id if item.account else None,
            arr=item.account.arr if item.account else None,
            matched_by=item.account.matched_by if item.account else None,
            area=item.area.id if item.area else None,
            area_confidence=round(item.area.confidence, 3) if item.area else None,
            intent=item.intent,
            kb=item.kb.article if item.kb else None,
            kb_score=round(item.kb.score, 3) if item.kb else None,
            action=decision.action,
            team=decision.team,
            priority=decision.priority,
            rule=decision.rule,
            reason=decision.reason,
            config_version=decision.config_version,
            subject=subject,
            duplicate=stored.duplicate,
            received_to_decided_ms=round((out.decided_at - item.received_at).total_seconds() * 1000, 1)
            if out.decided_at
            else None,
        )
        return None

    async def _first_decision(self, item_id: str, decision: Decision) -> Decision:
        """Pin the first decision for this item (services/route/decisions.py)."""
        return await pin_decision(self.decisions, item_id, decision)


async def run_route(js: JetStreamContext, config: Config, settings: Settings, stop: asyncio.Event) -> None:
    """Two durable consumers, one loop each: enriched items, and "did this help?" verdicts (a rejected answer
    is re-decided into a team queue with the current config, services/route/feedback.py)."""
    versions = await config_bucket(js, settings)
    decisions = await decisions_bucket(js, settings)
    handler = RouteHandler(js, config, settings, decisions, versions)
    feedback = FeedbackHandler(js, handler.live, settings, decisions)
    follow = asyncio.create_task(handler.live.follow(versions, settings.data / "configs", stop), name="route-config")
    try:
        await asyncio.gather(
            run_stage(js, STAGE, handler, settings, stop),
            run_stage(js, FEEDBACK_STAGE, feedback, settings, stop),
        )
    finally:
        follow.cancel()
