"""Contract 6's JSON API against a real nats-server: listing, access (401/403/404/422), every transition, the
activity events and the PM reply on the streams, state shared through KV, and races: of 50 concurrent
claims exactly one wins; concurrent reassign/resolve lose nothing and leave a complete history."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from schemas.inbox import ActivityEvent
from schemas.outbox import Reply
from services.cli.reading import read_subjects
from services.common import names
from services.common.embedded import EmbeddedNats
from tests.inbox_support import InboxServer, bearer, inbox_config, queued_item

pytestmark = pytest.mark.integration


def wait_until(predicate, timeout: float = 15.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = predicate()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def test_list_get_and_access_rules(nats_server: EmbeddedNats) -> None:
    strategic = [queued_item(i, priority=p, arr=a) for i, (p, a) in enumerate([("low", 5e4), ("high", 9e5), ("normal", 2e5)])]
    platform = [queued_item(10, team="platform", age=timedelta(days=3), priority="normal")]
    with InboxServer(nats_server.url, strategic + platform) as s:
        c = httpx.Client(base_url=s.url, timeout=10)
        assert c.get("/api/teams").status_code == 401
        assert c.get("/api/teams", headers=bearer("not-a-token")).status_code == 401
        teams = {t["id"]: t for t in c.get("/api/teams", headers=bearer("DANA")).json()}
        assert set(teams) == {"strategic-pm", "insights"}
        assert teams["strategic-pm"] == {"id": "strategic-pm", "open": 3, "overdue": 0}
        ops = {t["id"]: t for t in c.get("/api/teams", headers=bearer("OPS")).json()}
        assert ops["platform"]["open"] == 1 and ops["platform"]["overdue"] == 1  # 3 days old, SLA 2d

        items = c.get("/api/items", params={"team": "strategic-pm"}, headers=bearer("DANA")).json()["items"]
        assert [i["id"] for i in items] == [i.id for i in strategic]  # oldest first (same age: publish order)
        assert set(items[0]["state"]) == {"status", "team", "assignee", "sla_due", "overdue", "updated_at", "version"}
        assert items[0]["state"]["status"] == "open" and items[0]["state"]["version"] == 0
        by_arr = c.get("/api/items", params={"team": "strategic-pm", "sort": "arr"}, headers=bearer("DANA")).json()
        assert [i["account"]["arr"] for i in by_arr["items"]] == [9e5, 2e5, 5e4]
        by_prio = c.get("/api/items", params={"team": "strategic-pm", "sort": "priority"}, headers=bearer("DANA")).json()
        assert [i["decision"]["priority"] for i in by_prio["items"]] == ["high", "normal", "low"]
        assert len(c.get("/api/items", params={"team": "strategic-pm", "limit": 2}, headers=bearer("DANA")).json()["items"]) == 2

        assert c.get("/api/items", params={"team": "platform"}, headers=bearer("DANA")).status_code == 403
        assert c.get(f"/api/items/{platform[0].id}", headers=bearer("DANA")).status_code == 403
        assert c.post(f"/api/items/{platform[0].id}/claim", headers=bearer("DANA")).status_code == 403
        assert c.get("/api/items/nope", headers=bearer("DANA")).status_code == 404
        assert c.post("/api/items/nope/claim", headers=bearer("DANA")).status_code == 404
        for bad in ({"state": "weird"}, {"limit": "0"}, {"limit": "x"}, {"sort": "name"}):
            assert c.get("/api/items", params=bad, headers=bearer("DANA")).status_code == 422, bad
        one = c.get(f"/api/items/{strategic[1].id}", headers=bearer("DANA")).json()
        assert one["history"] == [] and one["account"]["arr"] == 9e5 and one["decision"]["reason"] == "area owner"
        spec = c.get("/api/openapi.json").json()
        for path in ("/api/teams", "/api/items", "/api/items/{item_id}", "/api/items/{item_id}/claim",
                     "/api/items/{item_id}/snooze", "/api/items/{item_id}/reassign", "/api/items/{item_id}/resolve",
                     "/api/items/{item_id}/reopen"):
            assert path in spec["paths"], path


def test_transitions_events_and_reply(nats_server: EmbeddedNats) -> None:
    a, b = queued_item(1), queued_item(2)
    with InboxServer(nats_server.url, [a, b]) as s:
        c = httpx.Client(base_url=s.url, timeout=10)
        post = lambda who, item, action, body=None: c.post(f"/api/items/{item.id}/{action}", headers=bearer(who), json=body)  # noqa: E731

        claimed = post("DANA", a, "claim")
        assert claimed.status_code == 200, claimed.text
        assert claimed.json()["state"]["status"] == "claimed" and claimed.json()["state"]["assignee"] == "dana@example.com"
        assert post("OPS", a, "claim").status_code == 409
        assert post("DANA", a, "snooze", {"until": "not a date"}).status_code == 422
        assert post("DANA", a, "snooze", {"until": "2001-01-01T00:00:00Z"}).status_code == 422
        until = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
        snoozed = post("DANA", a, "snooze", {"until": until}).json()["state"]
        assert snoozed["status"] == "snoozed"
        assert [i["id"] for i in c.get("/api/items", params={"team": "strategic-pm", "state": "snoozed"}, headers=bearer("DANA")).json()["items"]] == [a.id]
        assert a.id not in [i["id"] for i in c.get("/api/items", params={"team": "strategic-pm"}, headers=bearer("DANA")).json()["items"]]
        assert post("DANA", a, "reopen").json()["state"]["status"] == "open"
        assert post("DANA", a, "reassign", {"team": "no_such_team"}).status_code == 422
        moved = post("DANA", a, "reassign", {"team": "platform", "note": "theirs"})
        assert moved.status_code == 200 and moved.json()["state"]["team"] == "platform"
        # the item now lists under platform, and Dana (not on platform) no longer sees it
        assert a.id in [i["id"] for i in c.get("/api/items", params={"team": "platform"}, headers=bearer("PRIYA")).json()["items"]]
        assert a.id not in [i["id"] for i in c.get("/api/items", params={"team": "strategic-pm"}, headers=bearer("DANA")).json()["items"]]
        assert c.get(f"/api/items/{a.id}", headers=bearer("DANA")).status_code == 403
        assert post("PRIYA", a, "resolve", {"reply": True}).status_code == 422  # a reply needs a note
        done = post("PRIYA", a, "resolve", {"note": "Fixed in 4.2 <b>thanks</b>", "reply": True})
        assert done.status_code == 200 and done.json()["state"]["status"] == "resolved"
        assert post("PRIYA", a, "resolve", {"note": "again"}).status_code == 409
        assert post("PRIYA", a, "claim").status_code == 409
        assert post("PRIYA", a, "resolve", body=None).status_code == 409
        assert c.post(f"/api/items/{b.id}/resolve", headers={**bearer("DANA"), "content-type": "application/json"}, content=b"[1").status_code == 422
        assert c.post(f"/api/items/{b.id}/resolve", headers=bearer("DANA"), json=[1]).status_code == 422

        history = c.get(f"/api/items/{a.id}", headers=bearer("PRIYA")).json()["history"]
        assert [(h["action"], h["from_status"], h["to_status"]) for h in history] == [
            ("claim", "open", "claimed"), ("snooze", "claimed", "snoozed"), ("reopen", "snoozed", "open"),
            ("reassign", "open", "open"), ("resolve", "open", "resolved")]
        assert [h["version"] for h in history] == [1, 2, 3, 4, 5]
        assert history[3]["from_team"] == "strategic-pm" and history[3]["to_team"] == "platform" and history[3]["note"] == "theirs"

        events = s.call(lambda js: read_subjects(js, names.ACTIVITY, [names.activity_filter(item_id=a.id)]))
        parsed = [ActivityEvent.model_validate_json(data) for _, data in events]
        assert [e.action for e in parsed] == ["claim", "snooze", "reopen", "reassign", "resolve"]
        assert events[0][0] == names.activity_subject("strategic-pm", a.id)
        assert events[4][0] == names.activity_subject("platform", a.id)
        replies = s.call(lambda js: read_subjects(js, names.OUTBOX, [names.outbox_subject("reply", a.id, ">")]))
        assert len(replies) == 1 and replies[0][0] == names.outbox_subject("reply", a.id, "5")
        reply = Reply.model_validate_json(replies[0][1])
        assert reply.text == "Fixed in 4.2 <b>thanks</b>" and reply.by == "priya@example.com" and reply.item.id == a.id


def test_snooze_that_has_passed_reads_open(nats_server: EmbeddedNats) -> None:
    item = queued_item(1)
    with InboxServer(nats_server.url, [item]) as s:
        c = httpx.Client(base_url=s.url, timeout=10)
        until = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        assert c.post(f"/api/items/{item.id}/snooze", headers=bearer("DANA"), json={"until": until}).json()["state"]["status"] == "snoozed"
        wait_until(lambda: c.get(f"/api/items/{item.id}", headers=bearer("DANA")).json()["state"]["status"] == "open",
                   what="the snooze to pass")
        assert c.post(f"/api/items/{item.id}/claim", headers=bearer("DANA")).status_code == 200


def test_state_is_shared_through_kv_between_two_web_processes(nats_server: EmbeddedNats) -> None:
    item = queued_item(1)
    with InboxServer(nats_server.url, [item]) as one, InboxServer(nats_server.url, []) as two:
        assert httpx.post(f"{one.url}/api/items/{item.id}/claim", headers=bearer("DANA")).status_code == 200
        # the second replica learns it from the KV watch and the activity stream, and refuses a second claim
        wait_until(lambda: httpx.get(f"{two.url}/api/items/{item.id}", headers=bearer("OPS")).json()["state"]["status"] == "claimed",
                   what="replica two to see the claim")
        assert httpx.post(f"{two.url}/api/items/{item.id}/claim", headers=bearer("OPS")).status_code == 409
        wait_until(lambda: len(httpx.get(f"{two.url}/api/items/{item.id}", headers=bearer("OPS")).json()["history"]) == 1)


def test_fifty_concurrent_claims_exactly_one_wins(nats_server: EmbeddedNats) -> None:
    item = queued_item(1)
    config, env = inbox_config(extra_users=50)
    with InboxServer(nats_server.url, [item], config, env) as s:
        def claim(n: int) -> int:
            return httpx.post(f"{s.url}/api/items/{item.id}/claim", headers=bearer(env[f"T_PM{n}"]), timeout=30).status_code

        with ThreadPoolExecutor(max_workers=50) as pool:
            codes = list(pool.map(claim, range(50)))
        assert sorted(codes) == [200] + [409] * 49, codes
        got = httpx.get(f"{s.url}/api/items/{item.id}", headers=bearer("OPS")).json()
        assert got["state"]["status"] == "claimed" and got["state"]["version"] == 1
        winner = got["state"]["assignee"]
        assert [h["by"] for h in got["history"]] == [winner]
        events = s.call(lambda js: read_subjects(js, names.ACTIVITY, [names.activity_filter(item_id=item.id)]))
        assert len(events) == 1 and json.loads(events[0][1])["by"] == winner


def test_concurrent_reassign_and_resolve_lose_nothing(nats_server: EmbeddedNats) -> None:
    items = [queued_item(i) for i in range(5)]
    with InboxServer(nats_server.url, items) as s:
        def act(args: tuple[int, int]) -> tuple[str, int]:
            k, n = args
            item = items[k]
            if n % 2:
                r = httpx.post(f"{s.url}/api/items/{item.id}/resolve", headers=bearer("OPS"), json={"note": f"r{n}"}, timeout=30)
            else:
                r = httpx.post(f"{s.url}/api/items/{item.id}/reassign", headers=bearer("OPS"),
                               json={"team": ["platform", "insights", "mobile"][n % 3], "note": f"a{n}"}, timeout=30)
            return item.id, r.status_code

        with ThreadPoolExecutor(max_workers=40) as pool:
            results = list(pool.map(act, [(k, n) for k in range(5) for n in range(10)]))
        assert {code for _, code in results} <= {200, 409}
        for item in items:
            wins = sum(1 for i, code in results if i == item.id and code == 200)
            assert wins >= 1
            got = httpx.get(f"{s.url}/api/items/{item.id}", headers=bearer("OPS")).json()
            # every change that answered 200 is in the history, once, with consecutive versions
            assert got["state"]["version"] == wins
            assert [h["version"] for h in got["history"]] == list(range(1, wins + 1))
            events = s.call(lambda js, i=item.id: read_subjects(js, names.ACTIVITY, [names.activity_filter(item_id=i)]))
            assert len(events) == wins
