"""What deliver says (pure): the answer's text and Slack blocks, the team notification, the PM's reply,
the account owner's heads-up. Every comment body carries a marker `[sb:<item id>:<target>]` so an attempt
whose outcome is unknown can be found in the tool before posting again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.item import Item
from schemas.outbox import Reply

HELPFUL = "sb_helpful"
NOT_HELPFUL = "sb_not_helpful"


@dataclass(frozen=True)
class FeedbackLinks:
    helpful: str
    not_helpful: str


def marker(item_id: str, target: str) -> str:
    return f"[sb:{item_id}:{target}]"


def answer_text(item: Item, links: FeedbackLinks | None, target: str = "answer") -> str:
    """Title and link of the article, one sentence of why, the feedback links, the marker."""
    answer = item.answer
    assert answer is not None
    title = answer.title or answer.article
    lines = [f"This article should answer your question: {title}" + (f" — {answer.url}" if answer.url else "")]
    lines.append(f"Why: it matches what you asked with {answer.score:.0%} confidence"
                 + (f" (rule {item.decision.rule})." if item.decision and item.decision.rule else "."))
    if links is not None:
        lines.append(f"Did this help? Yes: {links.helpful} · No: {links.not_helpful}")
    lines.append(marker(item.id, target))
    return "\n".join(lines)


def answer_blocks(item: Item) -> list[dict[str, Any]]:
    """Slack: the answer, then the two feedback buttons (value = the item id; the click comes back as a signed
    `block_actions` interaction on the Slack source's webhook URL)."""
    answer = item.answer
    assert answer is not None
    title = answer.title or answer.article
    link = f"<{answer.url}|{slack_escape(title)}>" if answer.url else f"*{slack_escape(title)}*"
    return [
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": f"This article should answer your question: {link}\n"
                                             f"_Matched with {answer.score:.0%} confidence._"}},
        {"type": "actions", "block_id": f"sb_feedback_{item.id}", "elements": [
            {"type": "button", "action_id": HELPFUL, "value": item.id, "style": "primary",
             "text": {"type": "plain_text", "text": "This helped"}},
            {"type": "button", "action_id": NOT_HELPFUL, "value": item.id,
             "text": {"type": "plain_text", "text": "Not what I needed"}},
        ]},
    ]


def _money(value: float | None) -> str:
    return f"${value:,.0f}" if value is not None else "—"


def notify_text(item: Item) -> str:
    account = item.account
    who = account.name or account.id if account else "unknown account"
    d = item.decision
    return (f"New {d.priority if d else ''} item for {d.team if d else '?'}: {item.title or (item.text or '')[:80]} "
            f"({who}, ARR {_money(account.arr if account else None)})")


def notify_blocks(item: Item) -> list[dict[str, Any]]:
    account = item.account
    d = item.decision
    fields = [
        ("Account", (account.name or account.id) if account else "unknown"),
        ("ARR", _money(account.arr if account else None)),
        ("Area", item.area.id if item.area else "unknown"),
        ("Intent", item.intent or "unknown"),
        ("Rule", (d.rule or "built-in") if d else "?"),
        ("Item", item.id),
    ]
    summary = slack_escape(item.title or (item.text or "")[:280])
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{summary}*" if summary else "_(no text)_"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{slack_escape(str(v))}"} for k, v in fields]},
    ]
    if d is not None:
        flag = " (the KB answer did not help)" if item.answer_rejected else ""
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(f"Why: {d.reason}{flag}")}]})
    return blocks


def reply_text(reply: Reply, target: str) -> str:
    by = reply.by_name or reply.by
    return f"{reply.text}\n— {by}, {reply.team}\n{marker(reply.item_id, target)}"


def owner_text(reply: Reply) -> str:
    item = reply.item
    account = item.account
    owner = account.owner if account and account.owner else "the account owner"
    who = (account.name or account.id) if account else "an unknown account"
    return (f"{owner}: {reply.by_name or reply.by} ({reply.team}) replied to {who} on \"{item.title or item.id}\" "
            f"via {item.source}: {reply.text[:300]}")


def slack_escape(text: str) -> str:
    """Slack mrkdwn control characters (api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
