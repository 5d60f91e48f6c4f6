"""Items for digest and KB-gap tests: decided feedback items with a theme (as enrich will set it), an account
and its ARR, built directly (no pipeline)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.item import Account, Answer, AreaMatch, Decision, Item, KbMatch, ThemeRef, item_id

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def fb_item(n: int, text: str = "Please add PDF export for reports", theme: str | None = "t-pdf",
            label: str = "pdf export", account: str | None = "acc_1", arr: float = 100_000.0,
            intent: str = "feature_request", team: str | None = "insights", action: str = "route",
            age: timedelta = timedelta(hours=1), area: str = "reporting", answer_rejected: bool = False,
            now: datetime = NOW, article: str | None = None) -> Item:
    delivery = f"digest-{n}"
    at = now - age
    answer = Answer(article=article, score=0.9, title=f"Article {article}") if action == "answer" and article else None
    return Item(
        id=item_id("native", delivery), source="native", kind="standard", event_type="feedback.created",
        delivery_id=delivery, received_at=at, text=text,
        account=Account(id=account, name=f"Account {account}", arr=arr) if account else None,
        area=AreaMatch(id=area, confidence=0.8), intent=intent, intent_confidence=0.8,
        kb=KbMatch(article="kb-near", score=0.3) if intent == "question" else None,
        theme=ThemeRef(id=theme, label=label, area=area) if theme else None,
        decision=Decision(rule="r", action=action, team=team if action == "route" else None, reason="test"),
        answer=answer, decided_at=at, answer_rejected=answer_rejected,
    )
