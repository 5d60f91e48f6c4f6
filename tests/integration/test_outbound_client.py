"""The outbound client against a real local HTTP server that behaves like the tools: 429 with Retry-After,
500 then 200, an answer slower than the read timeout, a connection dropped after the request was received
(outcome unknown: the marker check finds the comment and nothing is posted twice), redirects, size cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from services.deliver import requests
from services.config.models import ReplyConfig
from services.outbound.client import OutboundClient, OutboundRequest, OutboundSettings, retry_after_seconds
from services.outbound.errors import OutcomeUnknown, Redirected, Rejected, ServerFailed, Throttled, TooLarge
from services.outbound.guard import AllowList
from tests.fake_tool import FakeTool
from tests.unit.test_deliver_requests import ENV, item_from_sample

pytestmark = pytest.mark.integration

FAST = OutboundSettings(connect_timeout_s=1.0, read_timeout_s=0.5, budget_s=5.0, max_response_bytes=64 * 1024,
                        backoff_base_s=0.05, backoff_max_s=0.2)
MARKER = "[sb:it0123456789abcdef012345:answer]"


def client(settings: OutboundSettings = FAST, retries: list[str] | None = None) -> OutboundClient:
    return OutboundClient(frozenset({"127.0.0.1"}), AllowList.parse("127.0.0.1"), settings,
                          on_retry=(lambda req, exc: retries.append(type(exc).__name__)) if retries is not None else None)


def zendesk_request(tool: FakeTool):  # type: ignore[no-untyped-def]
    item = item_from_sample("zendesk")
    return requests.zendesk(item, ReplyConfig(url=tool.url, credentials="ZD"), ENV, f"Try the article\n{MARKER}", MARKER)


async def test_a_429_with_retry_after_is_retried_then_posted_once(tool: FakeTool) -> None:
    tool.faults = [("status", 429, {"Retry-After": "1"})]
    retries: list[str] = []
    c = client(retries=retries)
    try:
        outcome = await c.deliver(zendesk_request(tool))
    finally:
        await c.aclose()
    assert outcome.status == 200 and outcome.attempts == 2
    assert retries == ["Throttled"]
    assert tool.comments["35436"] == [f"Try the article\n{MARKER}"]
    assert tool.requests[0].headers["authorization"].startswith("Basic ")


async def test_a_retry_after_longer_than_the_budget_gives_up_at_once(tool: FakeTool) -> None:
    tool.faults = [("status", 429, {"Retry-After": "3600"})]
    c = client()
    try:
        with pytest.raises(Throttled) as caught:
            await c.deliver(zendesk_request(tool))
    finally:
        await c.aclose()
    assert caught.value.retry_after == 3600 and len(tool.requests) == 1 and not tool.all_comments()
    assert caught.value.record is not None and "authorization" not in {k.lower() for k in caught.value.record.headers}


async def test_500_then_200_posts_one_comment(tool: FakeTool) -> None:
    tool.faults = [("status", 500), ("status", 502)]
    c = client()
    try:
        outcome = await c.deliver(zendesk_request(tool))
    finally:
        await c.aclose()
    assert outcome.attempts == 3 and not outcome.found_by_lookup
    assert tool.count_marker(MARKER) == 1


async def test_an_answer_slower_than_the_read_timeout_is_found_by_the_marker_not_posted_again(tool: FakeTool) -> None:
    tool.faults = [("slow", 2.0)]  # applied, but answered after the 0.5 s read timeout
    retries: list[str] = []
    c = client(retries=retries)
    try:
        outcome = await c.deliver(zendesk_request(tool))
    finally:
        await c.aclose()
    assert retries == ["OutcomeUnknown"]
    assert outcome.found_by_lookup and outcome.attempts == 1
    assert tool.count_marker(MARKER) == 1
    assert [r.method for r in tool.requests] == ["PUT", "GET"]  # the retry looked, and did not PUT again


async def test_a_connection_dropped_after_the_request_was_received_is_checked_before_posting(tool: FakeTool) -> None:
    tool.faults = [("drop",)]
    c = client()
    try:
        outcome = await c.deliver(zendesk_request(tool))
    finally:
        await c.aclose()
    assert outcome.found_by_lookup
    assert tool.count_marker(MARKER) == 1 and [r.method for r in tool.requests] == ["PUT", "GET"]


async def test_an_unapplied_unknown_outcome_is_posted_after_the_check(tool: FakeTool) -> None:
    """Intercom this time: the server answers 500 to the first write (nothing applied), so the look finds
    nothing and the reply is posted."""
    tool.faults = [("status", 503)]
    item = item_from_sample("intercom")
    req = requests.intercom(item, ReplyConfig(url=tool.url, credentials="IC", admin_id="7"), ENV, f"hi {MARKER}", MARKER)
    c = client()
    try:
        outcome = await c.deliver(req)
    finally:
        await c.aclose()
    assert not outcome.found_by_lookup and outcome.attempts == 2
    assert [r.method for r in tool.requests] == ["POST", "GET", "POST"]
    assert tool.count_marker(MARKER) == 1


async def test_a_redirect_is_a_permanent_failure_and_is_not_followed(tool: FakeTool) -> None:
    tool.faults = [("status", 302, {"Location": "http://169.254.169.254/latest/meta-data/"})]
    c = client()
    try:
        with pytest.raises(Redirected):
            await c.deliver(zendesk_request(tool))
    finally:
        await c.aclose()
    assert len(tool.requests) == 1


async def test_other_4xx_are_permanent_without_retry(tool: FakeTool) -> None:
    tool.faults = [("status", 404)]
    c = client()
    try:
        with pytest.raises(Rejected) as caught:
            await c.deliver(zendesk_request(tool))
    finally:
        await c.aclose()
    assert caught.value.status == 404 and len(tool.requests) == 1


async def test_an_answer_over_the_size_cap_is_refused(tool: FakeTool) -> None:
    tool.faults = [("big", 200_000)]
    c = client()
    try:
        with pytest.raises(TooLarge):
            await c.send(zendesk_request(tool))
    finally:
        await c.aclose()


async def test_standard_webhook_retries_keep_one_webhook_id_and_the_receiver_dedups(tool: FakeTool) -> None:
    item = item_from_sample("standard").model_copy(update={"kind": "standard"})
    req = requests.standard(ReplyConfig(url=tool.url + "/cb", secret="CB"), ENV, "answer.created",
                            requests.answer_data(item, "t"), "sb_x_answer", datetime.now(UTC), datetime.now(UTC))
    tool.faults = [("drop",)]  # received and applied, but the answer never came
    c = client()
    try:
        outcome = await c.deliver(req)
    finally:
        await c.aclose()
    assert outcome.attempts == 2
    assert {r.headers["webhook-id"] for r in tool.requests} == {"sb_x_answer"} and len(tool.requests) == 2
    assert len(tool.posts) == 1


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_outcome_unknown_is_transient_and_may_have_applied() -> None:
    assert OutcomeUnknown("x").may_have_applied and not Throttled("x").may_have_applied


async def test_a_host_that_keeps_failing_gets_one_attempt_per_delivery_until_it_answers(tool: FakeTool) -> None:
    tool.fail_until = float("inf")
    c = client(OutboundSettings(read_timeout_s=0.5, budget_s=0.3, backoff_base_s=0.05, backoff_max_s=0.05))
    try:
        for _ in range(3):
            with pytest.raises(Throttled):
                await c.deliver(zendesk_request(tool))
        assert len(tool.requests) > 3  # retried in-process while the host was not yet known to be down
        before = len(tool.requests)
        with pytest.raises(Throttled):
            await c.deliver(zendesk_request(tool))
        assert len(tool.requests) == before + 1  # down: one attempt, back to JetStream at once
        tool.fail_until = 0.0
        await c.deliver(zendesk_request(tool))
        assert c.failing == {}
    finally:
        await c.aclose()


async def test_permanent_answers_do_not_mark_a_host_as_down(tool: FakeTool) -> None:
    tool.faults = [("status", 404)] * 4
    c = client()
    try:
        for _ in range(4):
            with pytest.raises(Rejected):
                await c.deliver(zendesk_request(tool))
        assert c.failing == {}
    finally:
        await c.aclose()


def each_kind(tool: FakeTool) -> dict[str, tuple]:  # type: ignore[type-arg]
    env = {**ENV, "JI": "ops@acme.com:jira-token", "GH": "ghp_x"}
    reply = lambda **kw: ReplyConfig(url=tool.url, **kw)  # noqa: E731
    return {
        "zendesk": (requests.zendesk, "zendesk", reply(credentials="ZD"), env),
        "intercom": (requests.intercom, "intercom", reply(credentials="IC", admin_id="7"), env),
        "freshdesk": (requests.freshdesk, "freshdesk", reply(credentials="FD"), env),
        "jira": (requests.jira, "jira", reply(credentials="JI"), env),
        "github": (requests.github, "github", reply(credentials="GH"), env),
    }


@pytest.mark.parametrize("kind", ["zendesk", "intercom", "freshdesk", "jira", "github"])
async def test_every_kind_with_a_look_up_finds_a_comment_whose_answer_was_lost(tool: FakeTool, kind: str) -> None:
    build, sample, reply, env = each_kind(tool)[kind]
    req = build(item_from_sample(sample), reply, env, f"Answer\n{MARKER}", MARKER)
    tool.faults = [("drop",)]
    c = client()
    try:
        outcome = await c.deliver(req)
    finally:
        await c.aclose()
    assert outcome.found_by_lookup, [(r.method, r.path) for r in tool.requests]
    assert tool.count_marker(MARKER) == 1
    assert [r.method for r in tool.requests] == [req.method, "GET"]


async def test_a_tighter_policy_caps_attempts_retry_after_and_the_whole_call(tool: FakeTool) -> None:
    """What CRM lookups configure (services/enrich/crm/http.py): few attempts, no long Retry-After waits, and a
    hard deadline on one call that a slow answer cannot stretch."""
    tight = OutboundSettings(connect_timeout_s=1.0, read_timeout_s=5.0, budget_s=5.0, backoff_base_s=0.01,
                             backoff_max_s=0.05, attempts=2, max_retry_after_s=0.5, deadline_s=0.3)
    c = client(tight)
    try:
        tool.faults = [("status", 500), ("status", 500), ("status", 500)]
        with pytest.raises(ServerFailed):
            await c.deliver(zendesk_request(tool))
        puts = lambda: sum(r.method == "PUT" for r in tool.requests)  # noqa: E731 - (a retry also looks first)
        assert puts() == 2  # attempts=2, although the budget had room for more
        tool.faults = [("status", 429, {"Retry-After": "1"})]
        with pytest.raises(Throttled):
            await c.deliver(zendesk_request(tool))
        assert puts() == 3  # a Retry-After over max_retry_after_s: gave up at once
        tool.faults = [("slow", 3.0)]
        with pytest.raises(OutcomeUnknown, match="no answer within 0.3s"):
            await c.deliver(zendesk_request(tool))  # the 5 s read timeout never fired: the deadline did
    finally:
        await c.aclose()


async def test_a_get_without_a_body_sends_none(tool: FakeTool) -> None:
    c = client()
    try:
        status, _ = await c.send(OutboundRequest(kind="crm", method="GET", url=f"{tool.url}/api/v2/tickets/1.json",
                                                 body=None, headers={"Accept": "application/json"}))
    finally:
        await c.aclose()
    assert status == 200 and tool.requests[0].body == b""
    assert "content-type" not in {k.lower() for k in tool.requests[0].headers}
