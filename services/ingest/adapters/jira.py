"""Jira Cloud admin webhooks (developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks).

Signature: `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>` (webhooks registered with a
secret). Jira signs no timestamp; `X-Atlassian-Webhook-Identifier` is the same across retries, so dedup
on it makes replays harmless. Webhooks from Connect/OAuth apps are unsigned and are not accepted here.

Events -> items (delivery id = `X-Atlassian-Webhook-Identifier`, else a hash of the body):
- `jira:issue_created`, `jira:issue_updated` -> `feedback`: summary as title, description as text.
- `comment_created`, `comment_updated` -> `feedback`: the comment body as text, issue summary as title.
- anything else (deletions, worklogs, sprints, projects...) -> `system`.
url = `<site>/browse/<KEY>` from the issue's `self`; person = the comment author or the `user`;
attributes: project key, issue key, issue type, status, priority. Atlassian Document Format bodies
(REST v3 shape) are flattened to text.
"""

from __future__ import annotations

from typing import Any, Sequence
from urllib.parse import urlsplit

from schemas.item import Person
from services.config.models import SourceConfig
from services.ingest.adapters.base import Draft, InboundRequest, Reply, accepted_reply, decode_json
from services.ingest.adapters.fields import as_dict, as_str, stable_hash, unix_utc
from services.ingest.adapters.hmac_hex import verify_hex
from services.ingest.errors import NormaliseError
from services.ingest.text import html_to_text

kind = "jira"
content_types = frozenset({"application/json"})
SIGNATURE = "x-hub-signature"
IDENTIFIER = "x-atlassian-webhook-identifier"
ISSUE_EVENTS = {"jira:issue_created", "jira:issue_updated"}
COMMENT_EVENTS = {"comment_created", "comment_updated"}


def verify(
    request: InboundRequest, secrets: Sequence[str], tokens: Sequence[str], source: SourceConfig, now: float
) -> None:
    verify_hex(request.headers.get(SIGNATURE), secrets, [request.body], "sha256", "sha256", "X-Hub-Signature")


def decode(request: InboundRequest) -> Any:
    return decode_json(request.body)


def reply(payload: Any, request: InboundRequest) -> Reply | None:
    return None


def text_of(value: Any) -> str | None:
    """A plain string, or the text of an Atlassian Document Format node (iterative)."""
    if isinstance(value, str):
        return as_str(value)
    if not isinstance(value, dict):
        return None
    parts: list[str] = []
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "text" and isinstance(node.get("text"), str):
                parts.append(node["text"])
            elif node.get("type") in ("paragraph", "heading", "hardBreak", "listItem") and parts:
                parts.append("\n")
            content = node.get("content")
            if isinstance(content, list):
                stack.extend(reversed(content))
    return as_str("".join(parts))


def _browse_url(issue: dict[str, Any]) -> str | None:
    self_url = as_str(issue.get("self"))
    key = as_str(issue.get("key"))
    if not self_url:
        return None
    try:
        parts = urlsplit(self_url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}/browse/{key}" if key else self_url


def _person(user: dict[str, Any]) -> Person | None:
    pid = as_str(user.get("accountId")) or as_str(user.get("name"))
    email = as_str(user.get("emailAddress"))
    name = as_str(user.get("displayName"))
    return Person(id=pid, email=email, name=name) if (pid or email or name) else None


def normalise(payload: Any, request: InboundRequest, source: SourceConfig) -> list[Draft]:
    if not isinstance(payload, dict):
        raise NormaliseError("Jira body must be a JSON object")
    event = as_str(payload.get("webhookEvent"))
    if not event:
        raise NormaliseError("Jira body without `webhookEvent`")
    issue = as_dict(payload.get("issue"))
    fields = as_dict(issue.get("fields"))
    comment = as_dict(payload.get("comment"))
    attributes = {
        k: v
        for k, v in {
            "issue_key": as_str(issue.get("key")),
            "issue_id": as_str(issue.get("id")),
            "project": as_str(as_dict(fields.get("project")).get("key")),
            "issue_type": as_str(as_dict(fields.get("issuetype")).get("name")),
            "status": as_str(as_dict(fields.get("status")).get("name")),
            "priority": as_str(as_dict(fields.get("priority")).get("name")),
            "issue_event_type": as_str(payload.get("issue_event_type_name")),
            "retry": as_str(request.headers.get("x-atlassian-webhook-retry")),
        }.items()
        if v is not None
    }
    base: dict[str, Any] = {
        "delivery_id": as_str(request.headers.get(IDENTIFIER)) or stable_hash(request.body),
        "event_type": event,
        "occurred_at": unix_utc(payload.get("timestamp"), millis=True),
        "url": _browse_url(issue),
        "attributes": attributes,
        "raw": payload,
    }
    summary = as_str(fields.get("summary"))
    if event in COMMENT_EVENTS:
        body = text_of(comment.get("body"))
        person = _person(as_dict(comment.get("author"))) or _person(as_dict(payload.get("user")))
    elif event in ISSUE_EVENTS:
        body = text_of(fields.get("description"))
        person = _person(as_dict(payload.get("user"))) or _person(as_dict(fields.get("reporter")))
    else:
        return [Draft(**base, category="system", title=summary)]
    if not (body or summary):
        return [Draft(**base, category="system")]
    text, html = html_to_text(body) if body else (summary or "", None)
    return [Draft(**base, title=summary, text=text or summary, html=html, person=person)]


def acknowledge(ids: Sequence[str]) -> Reply:
    return accepted_reply(ids)
