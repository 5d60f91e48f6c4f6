"""Re-deciding an answer the asker rejected ("did this help?" -> no). Pure: no I/O.

The item is decided again by the same ordered rules minus every `answer` rule, so it lands where it would
have gone had the knowledge base not matched: usually its area's team. A rejected answer always reaches a
person: when the remaining rules would drop or merely record it, it goes to the `unrouted` queue (product
ops triage) instead, and the reason says so. The item keeps the `answer` it was given and carries
`answer_rejected: true`, so the PM sees what did not help. The rules see that flag too: a rule with
`when: {answer_rejected: true}` can send every rejected answer to one team (e.g. the docs owners).
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from schemas.item import Decision, Item
from schemas.outbox import Feedback
from services.common.names import UNROUTED_TEAM
from services.config.models import AreasFile, RuleConfig
from services.route.rules import CompiledRule, decide


def without_answer_rules(rules: Sequence[CompiledRule | RuleConfig]) -> list[CompiledRule | RuleConfig]:
    return [r for r in rules if (r.config if isinstance(r, CompiledRule) else r).answer is None]


def redecide_rejected(
    item: Item,
    feedback: Feedback,
    rules: Sequence[CompiledRule | RuleConfig],
    areas: AreasFile,
    kb_threshold: float,
    config_version: str | None = None,
) -> Decision:
    """The decision for an answered item whose asker said the answer did not help: always a route."""
    article = item.answer.article if item.answer else feedback.article
    note = f"the asker said KB answer {article} did not help (via {feedback.via}); re-decided without answer rules"
    flagged = item.model_copy(update={"answer_rejected": True})  # rules may test `answer_rejected: true`
    decision = decide(flagged, without_answer_rules(rules), areas, kb_threshold, config_version=config_version)
    if decision.action == "route":
        return decision.model_copy(update={"reason": f"{note}: {decision.reason}"})
    would = f"rule {decision.rule} would {decision.action} it" if decision.rule else f"it would be {decision.action}ed"
    return Decision(
        rule=decision.rule,
        action="route",
        team=UNROUTED_TEAM,
        priority="normal",
        reason=f"{note}: {would} ({decision.reason}), but a rejected answer always reaches a queue",
        config_version=config_version,
    )


def rejected_item(item: Item, decision: Decision, now: datetime) -> Item:
    """The item as published to its team queue: the new decision, the rejected answer kept, flagged."""
    return item.model_copy(update={"decision": decision, "answer_rejected": True, "decided_at": now})
