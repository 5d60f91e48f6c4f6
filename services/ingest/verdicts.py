"""Recording "did this help?" (contract 5): a verdict from a Slack button (a verified `block_actions`
interaction on the Slack source's URL) or from a signed feedback link (services/ingest/feedback_pages.py).

Both paths end here: the verdict must name an item that was answered (SB_ANSWERS; of that Slack source for a
click), it is published as a `schemas.outbox.Feedback` on `sb.feedback.<item id>`, and SB_FEEDBACK keeps the
first verdict per item (one message per subject, new ones refused), so a second click or a replayed link
changes nothing and is answered with the verdict that was kept. Route re-decides a `not_helpful` one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from schemas.item import Item
from schemas.outbox import Feedback
from services.common import names
from services.common.answered import answered_item
from services.common.broker import publish_item
from services.common.feedback_tokens import Verdict as VerdictName
from services.common.logging import get_logger
from services.common.settings import Settings
from services.ingest.errors import NotAnswered
from services.ingest.metrics import IngestMetrics

log = get_logger("switchboard.ingest")

Via = Literal["slack", "link"]


@dataclass(frozen=True)
class Recorded:
    item: Item  # the answered item
    feedback: Feedback  # the verdict SB_FEEDBACK keeps for it (the first one)
    first: bool  # this request's verdict is the one kept


class FeedbackRecorder:
    def __init__(self, js: JetStreamContext, metrics: IngestMetrics, settings: Settings) -> None:
        self.js = js
        self.metrics = metrics
        self.timeout = settings.publish_timeout_s

    async def answered(self, item_id: str, source: str | None = None) -> Item:
        """The answered item, or NotAnswered (404)."""
        item = await answered_item(self.js, item_id, source)
        if item is None:
            raise NotAnswered(f"no answer was given for item {item_id!r}" + (f" from source {source!r}" if source else ""))
        return item

    async def record(self, item_id: str, verdict: VerdictName, via: Via, by: str | None = None, source: str | None = None) -> Recorded:
        """Store the verdict unless one is already stored. Raises NotAnswered; broker errors propagate (503)."""
        item = await self.answered(item_id, source)
        assert item.answer is not None
        feedback = Feedback(item_id=item.id, verdict=verdict, via=via, by=by, article=item.answer.article, at=datetime.now(UTC))
        subject = names.feedback_subject(item.id)
        stored = await publish_item(
            self.js, subject, feedback.model_dump_json().encode(), msg_id=f"feedback:{item.id}", timeout=self.timeout
        )
        if stored.duplicate:
            kept = await self._kept(subject) or feedback
            log.info("feedback.repeat", id=item.id, verdict=verdict, kept=kept.verdict, via=via)
            return Recorded(item, kept, first=False)
        self.metrics.answer_feedback.labels(item.answer.article, verdict).inc()
        log.info("feedback.recorded", id=item.id, article=item.answer.article, verdict=verdict, via=via)
        return Recorded(item, feedback, first=True)

    async def _kept(self, subject: str) -> Feedback | None:
        try:
            msg = await self.js.get_msg(names.FEEDBACK, subject=subject)
        except NotFoundError:  # refused by the 2-minute Nats-Msg-Id window, and not visible yet
            return None
        return Feedback.model_validate_json(msg.data or b"")
