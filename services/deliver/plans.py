"""What one consumed message must deliver (pure): a list of `Planned` deliveries, each with its ledger target
and either the request to send, the reason nothing is sent (`skip`, recorded as skipped) or a configuration
error (`error`, dead-lettered). Targets: `answer`, `notify.<team>`, `reply.<n>`, `owner.<n>`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from schemas.digest import DigestMessage
from schemas.item import Item
from schemas.outbox import Reply
from services.common.feedback_tokens import BadToken, feedback_url
from services.config.models import Config
from services.config.teams import PRIORITIES
from services.deliver import requests, text
from services.deliver.requests import BadTarget, NoTarget
from services.digest import render as digest_render
from services.outbound.client import OutboundRequest
from services.outbound.guard import AllowList


@dataclass(frozen=True)
class Context:
    config: Config
    env: Mapping[str, str]
    allow: AllowList
    public_url: str
    now: datetime


@dataclass(frozen=True)
class Planned:
    item_id: str
    target: str
    kind: str
    request: OutboundRequest | None = None
    skip: str | None = None
    error: str | None = None


def request_id(item_id: str, target: str) -> str:
    """Stable across attempts and processes: the Standard Webhooks `webhook-id` of this delivery."""
    return f"sb_{item_id}_{target}"


def _links(item: Item, ctx: Context) -> text.FeedbackLinks | None:
    try:
        return text.FeedbackLinks(feedback_url(ctx.public_url, item.id, "helpful", ctx.env),
                                  feedback_url(ctx.public_url, item.id, "not_helpful", ctx.env))
    except BadToken:  # SWITCHBOARD_FEEDBACK_SECRET unset: no links
        return None


def _comment(item: Item, ctx: Context, target: str, body: str, blocks: list[dict[str, Any]],
             prefer_channel: bool = False) -> Planned:
    source = ctx.config.source(item.source)
    reply = source.reply if source else None
    try:
        req = requests.comment_request(item, reply, ctx.env, body, blocks, text.marker(item.id, target), ctx.allow,
                                       prefer_channel)
    except NoTarget as exc:
        return Planned(item.id, target, item.kind, skip=str(exc))
    except BadTarget as exc:
        return Planned(item.id, target, item.kind, error=str(exc))
    return Planned(item.id, target, req.kind, request=req)


def _standard(item: Item, ctx: Context, target: str, event_type: str, data: dict[str, Any], at: datetime) -> Planned:
    source = ctx.config.source(item.source)
    if source is None or source.reply is None:
        return Planned(item.id, target, "standard", skip=f"source {item.source} has no reply: block")
    try:
        req = requests.standard(source.reply, ctx.env, event_type, data, request_id(item.id, target), at, ctx.now)
    except BadTarget as exc:
        return Planned(item.id, target, "standard", error=str(exc))
    return Planned(item.id, target, "standard", request=req)


def plan_answer(item: Item, ctx: Context) -> list[Planned]:
    target = "answer"
    if item.answer is None:
        return [Planned(item.id, target, "none", skip="the item carries no answer")]
    if item.kind == "standard":
        body = text.answer_text(item, _links(item, ctx), target)
        data = requests.answer_data(item, body)
        return [_standard(item, ctx, target, "answer.created", data, item.decided_at or item.received_at)]
    if item.kind == "slack":  # buttons instead of links
        return [_comment(item, ctx, target, text.answer_text(item, None, target), text.answer_blocks(item))]
    return [_comment(item, ctx, target, text.answer_text(item, _links(item, ctx), target), [])]


def _team_webhook(team: str | None, ctx: Context, priority: str | None = None) -> tuple[str | None, str | None]:
    """(webhook URL, skip reason) of a team's Slack notify webhook."""
    notify = ctx.config.teams.team(team).notify
    if notify is None:
        return None, f"team {team} has no notify: in teams.yaml"
    if priority is not None and PRIORITIES.index(priority if priority in PRIORITIES else "normal") < PRIORITIES.index(
        notify.min_priority
    ):
        return None, f"priority {priority} is below {notify.min_priority}"
    url = ctx.env.get(notify.slack_webhook, "")
    if not url:
        return None, f"environment variable {notify.slack_webhook} is not set"
    return url, None


def plan_notify(item: Item, ctx: Context) -> list[Planned]:
    """Nothing at all (no ledger entry) for a team without `notify:`: most queue items concern no one in Slack."""
    team = item.decision.team if item.decision else None
    if ctx.config.teams.team(team).notify is None:
        return []
    target = f"notify.{team}"
    url, skip = _team_webhook(team, ctx, (item.decision.priority if item.decision else None) or "normal")
    if url is None:
        return [Planned(item.id, target, "slack_webhook", skip=skip)]
    req = requests.slack_webhook(url, text.notify_text(item), text.notify_blocks(item))
    return [Planned(item.id, target, "slack_webhook", request=req)]


def plan_reply(reply: Reply, ctx: Context) -> list[Planned]:
    item = reply.item
    target = f"reply.{reply.seq}"
    body = text.reply_text(reply, target)
    if item.kind == "standard":
        data = {"item_id": item.id, "delivery_id": item.delivery_id, "text": reply.text, "by": reply.by,
                "team": reply.team}
        first = _standard(item, ctx, target, "reply.created", data, reply.at)
    else:
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text.reply_text(reply, target)}}]
        first = _comment(item, ctx, target, body, blocks if item.kind == "slack" else [], prefer_channel=True)
    owner_target = f"owner.{reply.seq}"
    if not reply.notify_owner:
        return [first, Planned(item.id, owner_target, "slack_webhook", skip="notify_owner is off")]
    url, skip = _team_webhook(reply.team, ctx)
    if url is None:
        return [first, Planned(item.id, owner_target, "slack_webhook", skip=skip)]
    owner = text.owner_text(reply)
    req = requests.slack_webhook(url, owner, [{"type": "section", "text": {"type": "mrkdwn", "text": text.slack_escape(owner)}}])
    return [first, Planned(item.id, owner_target, "slack_webhook", request=req)]


def plan_digest(message: DigestMessage, ctx: Context) -> list[Planned]:
    """A team's scheduled digest to its `digest:` Slack webhook; ledger entry `digest-<team>` / `digest.<slot>`."""
    item_id, target = f"digest-{message.team}", f"digest.{message.slot}"
    digest = ctx.config.teams.team(message.team).digest
    if digest is None:
        return [Planned(item_id, target, "slack_webhook", skip=f"team {message.team} has no digest: in teams.yaml")]
    url = ctx.env.get(digest.slack_webhook, "")
    if not url:
        return [Planned(item_id, target, "slack_webhook", skip=f"environment variable {digest.slack_webhook} is not set")]
    body, blocks = digest_render.slack(message.digest)
    return [Planned(item_id, target, "slack_webhook", request=requests.slack_webhook(url, body, blocks))]
