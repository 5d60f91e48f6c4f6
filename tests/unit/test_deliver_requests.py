"""Each kind's request (method, URL, headers, JSON body, auth) as contract 5's table says, from items made by
the real ingest adapters out of the bundled samples (so the ids are read where the adapters put them)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from schemas.item import Answer, Decision, Item
from schemas.outbox import Reply
from services.config.models import Config, ReplyConfig, SourceConfig
from services.config.teams import TeamsFile
from services.deliver import plans, requests
from services.deliver.requests import BadTarget, NoTarget
from services.ingest.adapters import adapter_for
from services.ingest.adapters.base import InboundRequest
from services.outbound.guard import AllowList

pytestmark = pytest.mark.unit

SAMPLES = Path(__file__).resolve().parents[2] / "examples" / "samples"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ENV = {"ZD": "agent@acme.com/token:zd-api-token", "IC": "ic-token", "FD": "fd-key", "SL": "xoxb-bot",
       "CB": SECRET, "SWITCHBOARD_FEEDBACK_SECRET": "fb-secret", "HOOK": "https://hooks.slack.com/services/T/B/X"}
NONE = AllowList.parse("")


def item_from_sample(kind: str, sample: str | None = None, **extra: object) -> Item:
    adapter = adapter_for(kind)
    body = (SAMPLES / f"{sample or kind}.json").read_bytes()
    source = SourceConfig(name=kind, kind=kind)  # type: ignore[arg-type]
    request = InboundRequest("POST", f"/webhooks/{kind}", {"content-type": "application/json"}, body)
    draft = adapter.normalise(adapter.decode(request), request, source)[0]
    return Item(id="it0123456789abcdef012345", source=kind, kind=kind, event_type=draft.event_type,
                delivery_id=draft.delivery_id, received_at=NOW, text=draft.text, attributes=draft.attributes,
                raw=draft.raw, decided_at=NOW,
                decision=Decision(rule="answer-how-to", action="answer", reason="KB article csv-export scored 0.91"),
                answer=Answer(article="csv-export", score=0.91, title="Exporting large reports to CSV",
                              url="https://help.example.com/csv-export"), **extra)  # type: ignore[arg-type]


def config(**replies: ReplyConfig) -> Config:
    return Config(directory=".", sources=[SourceConfig(name=k, kind=k, reply=r) for k, r in replies.items()],  # type: ignore[arg-type]
                  teams=TeamsFile.model_validate({"teams": [{"id": "insights", "notify": {"slack_webhook": "HOOK", "min_priority": "normal"}}]}))


def ctx(cfg: Config, env: dict[str, str] = ENV) -> plans.Context:
    return plans.Context(cfg, env, NONE, "https://sb.example.com", NOW)


def basic(value: str) -> str:
    return base64.b64decode(value.removeprefix("Basic ")).decode()


def test_zendesk_internal_note_on_the_ticket_with_basic_email_token_auth() -> None:
    item = item_from_sample("zendesk")
    [p] = plans.plan_answer(item, ctx(config(zendesk=ReplyConfig(url="https://acme.zendesk.com", credentials="ZD"))))
    req = p.request
    assert req is not None and p.target == "answer"
    assert (req.method, req.url) == ("PUT", "https://acme.zendesk.com/api/v2/tickets/35436.json")
    assert basic(req.auth or "") == "agent@acme.com/token:zd-api-token"
    comment = req.body["ticket"]["comment"]
    assert comment["public"] is False
    assert "Exporting large reports to CSV" in comment["body"] and "https://help.example.com/csv-export" in comment["body"]
    assert "[sb:it0123456789abcdef012345:answer]" in comment["body"]
    assert "https://sb.example.com/feedback/" in comment["body"]  # the "did this help?" links
    assert req.lookup is not None and req.lookup.url.startswith("https://acme.zendesk.com/api/v2/tickets/35436/comments.json")
    assert "Authorization" not in json.dumps(req.record().model_dump())


def test_zendesk_public_reply_and_no_links_without_the_feedback_secret() -> None:
    env = {k: v for k, v in ENV.items() if k != "SWITCHBOARD_FEEDBACK_SECRET"}
    cfg = config(zendesk=ReplyConfig(url="https://acme.zendesk.com", credentials="ZD", public=True))
    [p] = plans.plan_answer(item_from_sample("zendesk"), ctx(cfg, env))
    assert p.request is not None
    assert p.request.body["ticket"]["comment"]["public"] is True
    assert "/feedback/" not in p.request.body["ticket"]["comment"]["body"]


def test_intercom_note_as_admin_with_bearer_and_comment_when_public() -> None:
    item = item_from_sample("intercom")
    reply = ReplyConfig(url="https://api.intercom.io", credentials="IC", admin_id="814")
    [p] = plans.plan_answer(item, ctx(config(intercom=reply)))
    req = p.request
    assert req is not None
    assert (req.method, req.url) == ("POST", "https://api.intercom.io/conversations/147000321/reply")
    assert req.auth == "Bearer ic-token"
    assert {k: req.body[k] for k in ("message_type", "type", "admin_id")} == {"message_type": "note", "type": "admin", "admin_id": "814"}
    assert req.body["body"].startswith("<p>") and "[sb:it0123456789abcdef012345:answer]" in req.body["body"]
    public = reply.model_copy(update={"public": True})
    [p2] = plans.plan_answer(item, ctx(config(intercom=public)))
    assert p2.request is not None and p2.request.body["message_type"] == "comment"


def test_intercom_without_admin_id_is_a_configuration_error() -> None:
    [p] = plans.plan_answer(item_from_sample("intercom"), ctx(config(intercom=ReplyConfig(url="https://api.intercom.io", credentials="IC"))))
    assert p.request is None and p.error and "admin_id" in p.error


def test_freshdesk_private_note_with_basic_key_x() -> None:
    [p] = plans.plan_answer(item_from_sample("freshdesk"), ctx(config(freshdesk=ReplyConfig(url="https://acme.freshdesk.com", credentials="FD"))))
    req = p.request
    assert req is not None
    assert (req.method, req.url) == ("POST", "https://acme.freshdesk.com/api/v2/tickets/8812/notes")
    assert basic(req.auth or "") == "fd-key:X"
    assert req.body["private"] is True and "csv-export" in req.body["body"]


def test_slack_message_event_gets_a_threaded_chat_post_message_with_feedback_buttons() -> None:
    item = item_from_sample("slack")
    [p] = plans.plan_answer(item, ctx(config(slack=ReplyConfig(url="https://slack.com", credentials="SL"))))
    req = p.request
    assert req is not None
    assert (req.method, req.url, req.auth) == ("POST", "https://slack.com/api/chat.postMessage", "Bearer xoxb-bot")
    assert req.body["channel"] == "C05CUSTFDBK" and req.body["thread_ts"] == "1772444400.100200"
    assert req.expect_ok
    buttons = [e for b in req.body["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [(b["action_id"], b["value"]) for b in buttons] == [("sb_helpful", item.id), ("sb_not_helpful", item.id)]


def slash(response_url: str) -> Item:
    item = item_from_sample("slack")
    return item.model_copy(update={"event_type": "slash_command",
                                   "attributes": {"command": "/ask", "channel_id": "C1", "response_url": response_url}})


def test_slack_slash_command_answers_ephemerally_on_its_response_url_without_auth() -> None:
    url = "https://hooks.slack.com/commands/T1/123/abc"
    [p] = plans.plan_answer(slash(url), ctx(config()))
    req = p.request
    assert req is not None and (req.method, req.url, req.auth) == ("POST", url, None)
    assert req.body["response_type"] == "ephemeral" and req.body["blocks"][1]["type"] == "actions"
    assert "commands" not in req.record().url  # response URLs are credentials: kept out of records


def test_a_response_url_off_slack_is_refused_never_connected_to() -> None:
    [p] = plans.plan_answer(slash("https://169.254.169.254/latest/meta-data/"), ctx(config()))
    assert p.request is None and p.error and "refused" in p.error
    with pytest.raises(BadTarget):
        requests.slack(slash("https://evil.example/x"), None, ENV, "t", [], NONE)


def test_standard_callback_is_signed_and_keeps_one_webhook_id() -> None:
    item = item_from_sample("standard").model_copy(update={"kind": "standard", "source": "standard"})
    cfg = config(standard=ReplyConfig(url="https://bot.example.com/callback", secret="CB"))
    [p] = plans.plan_answer(item, ctx(cfg))
    [again] = plans.plan_answer(item, plans.Context(cfg, ENV, NONE, "https://sb.example.com", datetime(2026, 3, 2, 11, tzinfo=UTC)))
    req = p.request
    assert req is not None and again.request is not None
    assert (req.method, req.url) == ("POST", "https://bot.example.com/callback")
    assert req.headers["webhook-id"] == again.request.headers["webhook-id"] == f"sb_{item.id}_answer"
    body = json.loads(req.payload())
    assert body["type"] == "answer.created"
    assert body["data"]["article"] == {"id": "csv-export", "title": "Exporting large reports to CSV",
                                       "url": "https://help.example.com/csv-export"}
    assert body["data"]["item_id"] == item.id and body["data"]["score"] == 0.91
    expected = Webhook(SECRET).sign(req.headers["webhook-id"], NOW, req.payload().decode())
    assert req.headers["webhook-signature"] == expected


def test_items_without_a_reply_target_are_skipped() -> None:
    [p] = plans.plan_answer(item_from_sample("zendesk"), ctx(config()))
    assert p.request is None and p.skip and "no reply" in p.skip
    item = item_from_sample("zendesk").model_copy(update={"attributes": {}})
    with pytest.raises(NoTarget):
        requests.zendesk(item, ReplyConfig(url="https://a.zendesk.com", credentials="ZD"), ENV, "t", "[m]")


def test_missing_credentials_are_a_configuration_error_not_a_crash() -> None:
    [p] = plans.plan_answer(item_from_sample("zendesk"), ctx(config(zendesk=ReplyConfig(url="https://a.zendesk.com", credentials="NOPE"))))
    assert p.request is None and p.error and "NOPE" in p.error


def routed(priority: str) -> Item:
    item = item_from_sample("zendesk")
    return item.model_copy(update={"answer": None, "decision": Decision(rule="by-area", action="route", team="insights",
                                                                         priority=priority, reason="area csv")})


def test_team_notification_only_at_or_above_min_priority() -> None:
    [p] = plans.plan_notify(routed("normal"), ctx(config()))
    assert p.target == "notify.insights" and p.request is not None
    assert p.request.url == ENV["HOOK"] and set(p.request.body) == {"text", "blocks"}
    fields = json.dumps(p.request.body["blocks"])
    assert "Item" in fields and routed("normal").id in fields and "by-area" in fields
    [low] = plans.plan_notify(routed("low"), ctx(config()))
    assert low.request is None and "below" in (low.skip or "")
    [unset] = plans.plan_notify(routed("high"), ctx(config(), {}))
    assert unset.request is None and "HOOK" in (unset.skip or "")
    other = routed("high").model_copy(update={"decision": Decision(rule="r", action="route", team="platform",
                                                                    priority="high", reason="x")})
    assert plans.plan_notify(other, ctx(config())) == []  # a team without notify: nothing, not even a record


def test_pm_reply_goes_to_the_ticket_and_the_owner_is_told_in_the_team_channel() -> None:
    item = routed("high")
    reply = Reply(item_id=item.id, seq=3, text="Fixed in 4.2, rolling out today.", by="dana@example.com",
                  by_name="Dana", team="insights", at=NOW, item=item)
    first, owner = plans.plan_reply(reply, ctx(config(zendesk=ReplyConfig(url="https://acme.zendesk.com", credentials="ZD"))))
    assert first.target == "reply.3" and first.request is not None
    assert "Fixed in 4.2" in first.request.body["ticket"]["comment"]["body"]
    assert "[sb:" + item.id + ":reply.3]" in first.request.body["ticket"]["comment"]["body"]
    assert owner.target == "owner.3" and owner.request is not None and "Dana" in owner.request.body["text"]


def test_jira_comment_with_basic_email_token() -> None:
    item = item_from_sample("jira")
    [p] = plans.plan_answer(item, ctx(config(jira=ReplyConfig(url="https://acme.atlassian.net", credentials="JI")),
                                      {**ENV, "JI": "ops@acme.com:jira-token"}))
    req = p.request
    assert req is not None
    key = item.attributes["issue_key"]
    assert (req.method, req.url) == ("POST", f"https://acme.atlassian.net/rest/api/2/issue/{key}/comment")
    assert basic(req.auth or "") == "ops@acme.com:jira-token"
    assert "[sb:it0123456789abcdef012345:answer]" in req.body["body"]
    assert req.lookup is not None and "orderBy=-created" in req.lookup.url


def test_github_issue_comment_with_bearer_and_api_version() -> None:
    item = item_from_sample("github")
    [p] = plans.plan_answer(item, ctx(config(github=ReplyConfig(url="https://api.github.com", credentials="GH")),
                                      {**ENV, "GH": "ghp_token"}))
    req = p.request
    assert req is not None
    repo, number = item.attributes["repository"], item.attributes["number"]
    assert (req.method, req.url) == ("POST", f"https://api.github.com/repos/{repo}/issues/{number}/comments")
    assert req.auth == "Bearer ghp_token" and req.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert set(req.body) == {"body"}


def test_html_bodies_escape_the_text_and_make_links_clickable() -> None:
    body = requests.as_html("Read <this> & https://help.example.com/a?b=1&c=2 now\n\n[sb:x:answer]")
    assert body == ('<p>Read &lt;this&gt; &amp; <a href="https://help.example.com/a?b=1&amp;c=2">'
                    'https://help.example.com/a?b=1&amp;c=2</a> now</p><p>[sb:x:answer]</p>')
