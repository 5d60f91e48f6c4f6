"""Putting the enrichment on an item (pure)."""

from __future__ import annotations

from datetime import datetime

from schemas.item import Account, Item, ThemeRef

from services.enrich.judge import Judgement

INTENT_HINT = "intent_hint"  # an adapter that knows the intent (Stripe cancellation = churn_risk) says so here


def text_of(item: Item) -> str:
    """The words the matcher reads: title and text."""
    return " \n".join(part for part in (item.title, item.text) if part).strip()


def needs_judgement(item: Item) -> bool:
    return item.category == "feedback" and bool(text_of(item))


def enrich_item(
    item: Item, account: Account | None, judgement: Judgement | None, now: datetime, config_version: str | None = None,
    theme: ThemeRef | None = None,
) -> Item:
    update: dict[str, object] = {"account": account, "enriched_at": now, "config_version": config_version}
    if theme is not None:
        update["theme"] = theme
    if judgement is not None:
        update.update(
            area=judgement.area,
            intent=judgement.intent,
            intent_confidence=judgement.intent_confidence,
            kb=judgement.kb,
        )
    hint = item.attributes.get(INTENT_HINT)
    if isinstance(hint, str) and hint:
        update.update(intent=hint, intent_confidence=1.0)
    return item.model_copy(update=update)
