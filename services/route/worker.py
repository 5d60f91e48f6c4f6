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
from services.common.streams import decisions_bucket
from services.config.models import Config
from services.route.decisions import pin_decision
from services.route.feedback import FEEDBACK_STAGE, FeedbackHandler
from services.route.outputs import decided_item, outcome_subject
from services.route.rules import compile_rules, decide

log = get_logger("switchboard.route")

STAGE = Stage("route", names.ENRICHED, names.ROUTE_CONSUMER, names.all_stream_filter(names.ENRICHED))


class RouteHandler:
    def __init__(self, js: JetStreamContext, config: Config, settings: Settings, decisions: KeyValue) -> None:
        self.js = js
        self.decisions = decisions
        self.config = config
        self.rules = compile_rules(config.rules)
        self.settings = settings

    async def __call__(self, msgs: Sequence[Msg]) -> list[BaseException | None]:
        return list(await asyncio.gather(*(self._one(m) for m in msgs)))

    async def _one(self, msg: Msg) -> BaseException | None:
        try:
            item = Item.model_validate_json(msg.data)
        except ValidationError as exc:
            return PermanentError(f"not a valid item: {exc.errors()[0]['msg']}")
        try:
            decision = await self._first_decision(
                item.id,
                decide(item, self.rules, self.config.areas, self.config.thresholds.kb, config_version=self.config.version),
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
    """Two durable consumers, one loop each: enriched items, and "did this help?" verdicts (a rejected
    answer is re-decided into a team queue, services/route/feedback.py)."""
    decisions = await decisions_bucket(js, settings)
    await asyncio.gather(
        run_stage(js, STAGE, RouteHandler(js, config, settings, decisions), settings, stop),
        run_stage(js, FEEDBACK_STAGE, FeedbackHandler(js, config, settings, decisions), settings, stop),
    )
