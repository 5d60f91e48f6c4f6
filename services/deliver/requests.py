"""Per-kind requests (pure): contract 5's table. Ids come from the item's original payload, as the ingest
adapters kept them in `item.attributes` (zendesk/freshdesk `ticket_id`, intercom `conversation_id`, slack
`response_url` or `channel` + `ts`/`thread_ts`). Credentials are read from the environment by NAME.

| kind      | request                                                        | auth                              | lookup before a re-post         |
|-----------|----------------------------------------------------------------|-----------------------------------|---------------------------------|
| zendesk   | PUT {url}/api/v2/tickets/{id}.json {"ticket":{"comment":...}}  | Basic `email/token:API_TOKEN`     | GET .../tickets/{id}/comments.json |
| intercom  | POST {url}/conversations/{id}/reply (note, or comment)         | Bearer token                      | GET {url}/conversations/{id}    |
| freshdesk | POST {url}/api/v2/tickets/{id}/notes {"body","private"}        | Basic `KEY:X`                     | GET .../tickets/{id}/conversations |
| slack     | POST {response_url} (ephemeral) or {url}/api/chat.postMessage  | none / Bearer bot token           | none (see docs/delivery.md)     |
| standard  | POST {url}, Standard Webhooks signature, same webhook-id always | whsec_ secret signs               | the receiver dedups webhook-id  |
| jira      | POST {url}/rest/api/2/issue/{key}/comment {"body"}              | Basic `email:API_TOKEN`           | GET .../comment?orderBy=-created |
| github    | POST {url}/repos/{owner/repo}/issues/{n}/comments {"body"}      | Bearer token                      | GET .../comments?per_page=100   |
"""

from __future__ import annotations

import base64
import html
import re
from datetime import datetime
from typing import Any, Mapping
from urllib.parse import quote, urlsplit

from standardwebhooks.webhooks import Webhook

from schemas.item import Item
from services.config.models import ReplyConfig
from services.outbound.client import Lookup, OutboundRequest, encode_json
from services.outbound.guard import SLACK_RESPONSE_HOST, AllowList

REPLY_KINDS = frozenset({"zendesk", "intercom", "freshdesk", "slack", "standard", "jira", "github"})
GITHUB_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


class NoTarget(Exception):
    """This item has nowhere to be delivered (the reason is recorded as `skipped`)."""


class BadTarget(Exception):
    """The target is misconfigured or refused (a missing credential, a response_url off Slack): dead-letter."""


def _env(env: Mapping[str, str], name: str | None, what: str) -> str:
    value = env.get(name or "", "")
    if not name or not value:
        raise BadTarget(f"{what}: environment variable {name or '(none configured)'} is not set")
    return value


def _attr(item: Item, *names: str) -> str | None:
    for name in names:
        value = item.attributes.get(name)
        if value not in (None, ""):
            return str(value)
    return None


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _basic_pair(env: Mapping[str, str], reply: ReplyConfig, kind: str, shape: str) -> str:
    """HTTP Basic from a `user:secret` credentials variable (zendesk `email/token:API_TOKEN`, jira `email:API_TOKEN`)."""
    credentials = _env(env, reply.credentials, f"{kind} reply.credentials")
    if ":" not in credentials:
        raise BadTarget(f"{kind} reply.credentials: {reply.credentials} must hold `{shape}`")
    return _basic(*credentials.split(":", 1))

URL_RE = re.compile(r"https?://[^\s<>\"']+")


def as_html(text: str) -> str:
    """Intercom and Freshdesk bodies are HTML: escape the text, one paragraph per line, links clickable."""

    def line_html(line: str) -> str:
        out, last = [], 0
        for m in URL_RE.finditer(line):
            out.append(html.escape(line[last:m.start()]))
            url = html.escape(m.group(0))
            out.append(f'<a href="{url}">{url}</a>')
            last = m.end()
        return "".join(out) + html.escape(line[last:])

    return "".join(f"<p>{line_html(line)}</p>" for line in text.splitlines() if line.strip())


def zendesk(item: Item, reply: ReplyConfig, env: Mapping[str, str], text: str, marker: str) -> OutboundRequest:
    ticket = _attr(item, "ticket_id")
    if not ticket:
        raise NoTarget("zendesk item without a ticket id")
    auth = _basic_pair(env, reply, "zendesk", "email/token:API_TOKEN")
    base = f"{reply.url}/api/v2/tickets/{quote(ticket, safe='')}"
    return OutboundRequest(
        kind="zendesk", method="PUT", url=f"{base}.json",
        body={"ticket": {"comment": {"body": text, "public": reply.public}}}, auth=auth,
        lookup=Lookup(f"{base}/comments.json?sort_order=desc", marker, auth=auth),
    )


def intercom(item: Item, reply: ReplyConfig, env: Mapping[str, str], text: str, marker: str) -> OutboundRequest:
    conversation = _attr(item, "conversation_id")
    if not conversation:
        raise NoTarget("intercom item without a conversation id")
    if not reply.admin_id:
        raise BadTarget("intercom reply needs reply.admin_id")
    auth = "Bearer " + _env(env, reply.credentials, "intercom reply.credentials")
    url = f"{reply.url}/conversations/{quote(conversation, safe='')}"
    body = {"message_type": "comment" if reply.public else "note", "type": "admin", "admin_id": reply.admin_id,
            "body": as_html(text)}
    headers = {"Accept": "application/json"}
    return OutboundRequest(kind="intercom", method="POST", url=f"{url}/reply", body=body, auth=auth, headers=headers,
                           lookup=Lookup(url, marker, headers=headers, auth=auth))


def freshdesk(item: Item, reply: ReplyConfig, env: Mapping[str, str], text: str, marker: str) -> OutboundRequest:
    ticket = _attr(item, "ticket_id")
    if not ticket:
        raise NoTarget("freshdesk item without a ticket id")
    auth = _basic(_env(env, reply.credentials, "freshdesk reply.credentials"), "X")
    base = f"{reply.url}/api/v2/tickets/{quote(ticket, safe='')}"
    return OutboundRequest(kind="freshdesk", method="POST", url=f"{base}/notes",
                           body={"body": as_html(text), "private": not reply.public}, auth=auth,
                           lookup=Lookup(f"{base}/conversations?per_page=100", marker, auth=auth))


def jira(item: Item, reply: ReplyConfig, env: Mapping[str, str], text: str, marker: str) -> OutboundRequest:
    """Jira Cloud REST v2 (plain-text body; v3 would need Atlassian Document Format)."""
    key = _attr(item, "issue_key", "issue_id")
    if not key:
        raise NoTarget("jira item without an issue key")
    auth = _basic_pair(env, reply, "jira", "email:API_TOKEN")
    url = f"{reply.url}/rest/api/2/issue/{quote(key, safe='')}/comment"
    return OutboundRequest(kind="jira", method="POST", url=url, body={"body": text}, auth=auth,
                           lookup=Lookup(f"{url}?orderBy=-created&maxResults=100", marker, auth=auth))


def github(item: Item, reply: ReplyConfig, env: Mapping[str, str], text: str, marker: str) -> OutboundRequest:
    """An issue or pull-request comment (both are issues to this endpoint); discussions have no REST comment API."""
    repository, number = _attr(item, "repository"), _attr(item, "number")
    if not repository or not number or str(item.attributes.get("github_event", "")).startswith("discussion"):
        raise NoTarget("github item without a repository and issue number")
    auth = "Bearer " + _env(env, reply.credentials, "github reply.credentials")
    url = f"{reply.url}/repos/{quote(repository, safe='/')}/issues/{quote(number, safe='')}/comments"
    return OutboundRequest(kind="github", method="POST", url=url, body={"body": text}, auth=auth,
                           headers=dict(GITHUB_HEADERS),
                           lookup=Lookup(f"{url}?per_page=100", marker, headers=dict(GITHUB_HEADERS), auth=auth))


def slack(item: Item, reply: ReplyConfig | None, env: Mapping[str, str], text: str, blocks: list[dict[str, Any]],
          allow: AllowList, prefer_channel: bool = False) -> OutboundRequest:
    """A slash command or shortcut is answered on its `response_url` (ephemeral); a message event by a threaded
    `chat.postMessage`. `prefer_channel` (PM replies, hours later, when response URLs have expired): post to
    the command's channel when a bot token is configured."""
    response_url = _attr(item, "response_url")
    channel = _attr(item, "channel", "channel_id")
    token = env.get(reply.credentials or "", "") if reply else ""
    if response_url and not (prefer_channel and channel and token):
        host = (urlsplit(response_url).hostname or "").lower()
        if host != SLACK_RESPONSE_HOST and not allow.allows(host):
            raise BadTarget(f"response_url host {host!r} is not {SLACK_RESPONSE_HOST}: refused, never connected to")
        return OutboundRequest(kind="slack", method="POST", url=response_url, secret_url=True,
                               body={"response_type": "ephemeral", "text": text, "blocks": blocks})
    if not channel:
        raise NoTarget("slack item without a response_url or a channel")
    if reply is None:
        raise NoTarget("slack message event: the source has no reply: block (bot token)")
    auth = "Bearer " + _env(env, reply.credentials, "slack reply.credentials (bot token)")
    body: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks}
    thread = _attr(item, "thread_ts", "ts", "message_ts")
    if thread:  # a message event: answer (and reply) in its thread
        body["thread_ts"] = thread
    return OutboundRequest(kind="slack", method="POST", url=f"{reply.url}/api/chat.postMessage", body=body, auth=auth,
                           headers={"Content-Type": "application/json; charset=utf-8"}, expect_ok=True)


def standard(reply: ReplyConfig, env: Mapping[str, str], event_type: str, data: dict[str, Any], webhook_id: str,
             at: datetime, now: datetime) -> OutboundRequest:
    """A Standard Webhooks callback; `webhook_id` is the same on every attempt so the receiver can dedup."""
    secret = _env(env, reply.secret, "standard reply.secret")
    body = {"type": event_type, "timestamp": at.isoformat().replace("+00:00", "Z"), "data": data}
    content = encode_json(body)
    signature = Webhook(secret).sign(webhook_id, now, content.decode())
    headers = {"webhook-id": webhook_id, "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature}
    return OutboundRequest(kind="standard", method="POST", url=reply.url, body=body, content=content, headers=headers)


def answer_data(item: Item, text: str) -> dict[str, Any]:
    answer = item.answer
    assert answer is not None
    return {"item_id": item.id, "delivery_id": item.delivery_id,
            "article": {"id": answer.article, "title": answer.title, "url": answer.url},
            "score": answer.score, "text": text}


def comment_request(item: Item, reply: ReplyConfig | None, env: Mapping[str, str], text: str,
                    blocks: list[dict[str, Any]], marker: str, allow: AllowList,
                    prefer_channel: bool = False) -> OutboundRequest:
    """The comment for the item's own tool (answers and PM replies alike; standard is built by the caller)."""
    if item.kind == "slack":
        return slack(item, reply, env, text, blocks, allow, prefer_channel)
    if reply is None:
        raise NoTarget(f"source {item.source} has no reply: block")
    if item.kind == "zendesk":
        return zendesk(item, reply, env, text, marker)
    if item.kind == "intercom":
        return intercom(item, reply, env, text, marker)
    if item.kind == "freshdesk":
        return freshdesk(item, reply, env, text, marker)
    if item.kind == "jira":
        return jira(item, reply, env, text, marker)
    if item.kind == "github":
        return github(item, reply, env, text, marker)
    raise NoTarget(f"kind {item.kind} has no reply request")


def slack_webhook(url: str, text: str, blocks: list[dict[str, Any]]) -> OutboundRequest:
    """A Slack incoming webhook (teams.yaml notify); the URL itself is the secret: never recorded whole."""
    return OutboundRequest(kind="slack_webhook", method="POST", url=url, body={"text": text, "blocks": blocks},
                           secret_url=True)
