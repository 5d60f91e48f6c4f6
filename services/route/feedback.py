"""Route's second consumer: SB_FEEDBACK ("did this help?") -> a rejected answer re-decided into a team queue.

`not_helpful`: load the answered item from SB_ANSWERS, decide it again without answer rules
(services/route/rejected.py), pin that decision in the decisions KV under `<id>.rejected`, and publish the
item to `sb.queue.<team>.<id>` with `answer_rejected: true`. Exactly once however often the button is
pressed: SB_FEEDBACK keeps the first verdict per item, the pinned decision sends a redelivery to the same
queue, and SB_QUEUES keeps one message per subject. `helpful`: nothing to do (ingest counted it).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Sequence

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from pydantic import ValidationError

from schemas.outbox import Feedback
from services.common import names
from services.common.answered import answered_item
from services.common.broker import publish_item
from services.common.consumer import Stage
from services.common.errors import PermanentError
from services.common.logging import get_logger
from services.common.settings import Settings
from services.config.live import LiveConfig
from services.config.models import Config
from services.route.decisions import pin_decision
from services.route.outputs import with_thresholds
from services.route.rejected import redecide_rejected, rejected_item
from services.route.rules import CompiledRule

log = get_logger("switchboard.route")

FEEDBACK_STAGE = Stage("route", names.FEEDBACK, names.ROUTE_FEEDBACK_CONSUMER, names.all_stream_filter(names.FEEDBACK))


class FeedbackHandler:
    def __init__(
        self, js: JetStreamContext, live: LiveConfig[list[CompiledRule]], settings: Settings, decisions: KeyValue
    ) -> None:
        self.js = js
        self.live = live  # route's live config: a rejected answer is re-decided with the current version
        self.settings = settings
        self.decisions = decisions

    async def __call__(self, msgs: Sequence[Msg]) -> list[BaseException | None]:
        current = self.live.current  # once per batch, as route's main consumer does
        return list(await asyncio.gather(*(self._one(m, current) for m in msgs)))

    async def _one(self, msg: Msg, current: tuple[Config, list[CompiledRule]]) -> BaseException | None:
        try:
            feedback = Feedback.model_validate_json(msg.data)
        except ValidationError as exc:
            return PermanentError(f"not a valid feedback message: {exc.errors()[0]['msg']}")
        if feedback.verdict == "helpful":
            log.info("answer.helpful", id=feedback.item_id, article=feedback.article, via=feedback.via)
            return None
        config, rules = current
        try:
            item = await answered_item(self.js, feedback.item_id)
            if item is None:
                return PermanentError(f"no answer is stored for item {feedback.item_id} (past retention?)")
            decision = await pin_decision(
                self.decisions,
                names.rejected_decision_key(item.id),
                with_thresholds(redecide_rejected(item, feedback, rules, config.areas, config.thresholds.kb, config.version),
                                config.thresholds),
            )
            out = rejected_item(item, decision, datetime.now(UTC))
            subject = names.queue_subject(decision.team or names.UNROUTED_TEAM, item.id)
            stored = await publish_item(
                self.js, subject, out.model_dump_json().encode(), msg_id=f"{item.id}:rejected",
                timeout=self.settings.publish_timeout_s,
            )
        except Exception as exc:  # noqa: BLE001 - classified by the consumer
            return exc
        log.info(
            "answer.rejected", id=item.id, article=feedback.article, via=feedback.via, team=decision.team,
            priority=decision.priority, rule=decision.rule, reason=decision.reason, subject=subject,
            duplicate=stored.duplicate,
        )
        return None
