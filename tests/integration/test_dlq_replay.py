"""Dead letters and `switchboard dlq list|show|replay` (issue 4).

Integration tier (a real nats-server, no workers): what a replay publishes for each stage, the replay
marks, and that replaying twice stores nothing new. End-to-end tier: a real poison item in route (its
outcome stream refuses it: an operator capped the message size) reaches SB_DLQ after max deliveries
while the rest flows on; after the fix `switchboard dlq replay --all` puts it in its queue exactly once,
and a second replay changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import nats
import pytest

from schemas.item import DeadLetter, Item
from services.common import names
from services.common.broker import publish_item
from services.common.settings import Settings
from services.common.streams import ensure_streams
from services.config.loader import load_config
from services.dlq.plan import Entry, NotReplayable, plan_replay, replay_key
from services.dlq.replay import replay_entries
from services.dlq.store import find_entries, read_entries, read_stream
from tests.conftest import EXAMPLE_CONFIG, ROOT
from tests.pipeline_idle import wait_idle

SB = str(Path(sys.executable).parent / "switchboard")
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def item(n: str) -> Item:
    return Item(id=f"it{n}", source="native", kind="standard", event_type="feedback.created", delivery_id=f"d{n}",
                received_at=NOW, text="The CSV export times out for big workspaces")


def ingest_dead_letter(body: dict, delivery: str) -> DeadLetter:  # type: ignore[type-arg]
    return DeadLetter(id=f"raw{delivery}", stage="ingest", reason="NormaliseError: adapter bug", error="NormaliseError",
                      failed_at=NOW, source="native", raw_body=json.dumps(body),
                      headers={"content-type": "application/json", "webhook-id": delivery, "webhook-timestamp": "1",
                               ":path": "/webhooks/native", ":method": "POST"})


async def put_dead_letter(js, dl: DeadLetter, subject: str | None = None) -> None:  # type: ignore[no-untyped-def]
    subject = subject or names.dlq_subject(dl.stage, dl.id)
    assert not (await publish_item(js, subject, dl.model_dump_json().encode(), subject, 5)).duplicate


def cli(nats_url: str, *args: str) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    return subprocess.run([SB, *args, "--nats", nats_url], capture_output=True, text=True, timeout=60, cwd=ROOT)


# ---- pure: what a replay publishes --------------------------------------------------------------


@pytest.mark.unit
def test_plan_replay_targets_per_stage() -> None:
    config = load_config(EXAMPLE_CONFIG)
    enrich = Entry(7, "sb.dlq.enrich.itA", DeadLetter(id="itA", stage="enrich", reason="x", failed_at=NOW, item=item("A")))
    [p] = plan_replay(enrich, config)
    assert p.subject == "sb.events.native.itA.replay7" and p.msg_id == p.subject
    route = Entry(9, "sb.dlq.route.itA", DeadLetter(id="itA", stage="route", reason="x", failed_at=NOW, item=item("A")))
    assert plan_replay(route, None)[0].subject == "sb.enriched.native.itA.replay9"
    assert replay_key("sb.dlq.route.itA.replay3") == "route.itA.replay3"
    good = ingest_dead_letter({"type": "feedback.created", "data": {"text": "Dark mode please"}}, "msg_fixed")
    [p] = plan_replay(Entry(3, "sb.dlq.ingest.x", good), config)
    replayed = Item.model_validate_json(p.payload)
    assert p.subject == names.event_subject("native", replayed.id) and replayed.delivery_id == "msg_fixed"
    assert replayed.received_at == NOW and replayed.text == "Dark mode please"
    bad = ingest_dead_letter({"type": "feedback.created", "data": {"text": ""}}, "msg_bad")
    with pytest.raises(NotReplayable, match="still cannot be normalised"):
        plan_replay(Entry(4, "sb.dlq.ingest.y", bad), config)
    with pytest.raises(NotReplayable, match="needs the config"):
        plan_replay(Entry(4, "sb.dlq.ingest.y", good), None)


# ---- integration: replay against a real nats-server ---------------------------------------------


@pytest.mark.integration
async def test_replay_publishes_marks_and_never_doubles(nats_server) -> None:  # type: ignore[no-untyped-def]
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    settings = Settings(nats_url=nats_server.url)
    await ensure_streams(js, settings)
    config = load_config(EXAMPLE_CONFIG)
    fixed = ingest_dead_letter({"type": "feedback.created", "data": {"text": "Dark mode please"}}, "msg_fixed")
    still_bad = ingest_dead_letter({"type": "feedback.created", "data": {"text": ""}}, "msg_bad")
    enrich_dl = DeadLetter(id="itE", stage="enrich", reason="RuntimeError: boom", failed_at=NOW, attempts=5, item=item("E"))
    route_dl = DeadLetter(id="itR", stage="route", reason="APIError: too big", failed_at=NOW, attempts=5, item=item("R"))
    for dl in (fixed, still_bad, enrich_dl, route_dl):
        await put_dead_letter(js, dl)

    entries = await read_entries(js)
    assert [e.dead_letter.id for e in entries] == ["rawmsg_fixed", "rawmsg_bad", "itE", "itR"]
    assert not any(e.replayed for e in entries)

    results = await replay_entries(js, entries, config, settings)
    assert [r.status for r in results] == ["replayed", "not-replayable", "replayed", "replayed"]
    events = await read_stream(js, names.EVENTS, ["sb.events.>"])
    enriched = await read_stream(js, names.ENRICHED, ["sb.enriched.>"])
    seq_e = entries[2].seq
    assert sorted(s for _, s, _, _ in events) == sorted(
        [results[0].subjects[0], f"sb.events.native.itE.replay{seq_e}"])
    assert [s for _, s, _, _ in enriched] == [f"sb.enriched.native.itR.replay{entries[3].seq}"]

    marked = await read_entries(js)
    assert [e.replayed is not None for e in marked] == [True, False, True, True]
    assert (await find_entries(js, "itE"))[0].replayed is not None
    assert (await find_entries(js, str(seq_e)))[0].dead_letter.id == "itE"

    # replaying again: marked entries are skipped; forced (--again) they store nothing new
    again = await replay_entries(js, marked, config, settings)
    assert [r.status for r in again] == ["skipped", "not-replayable", "skipped", "skipped"]
    forced = await replay_entries(js, marked, config, settings, again=True)
    assert [r.status for r in forced] == ["already-there", "not-replayable", "already-there", "already-there"]
    assert len(await read_stream(js, names.EVENTS, ["sb.events.>"])) == 2
    assert len(await read_stream(js, names.ENRICHED, ["sb.enriched.>"])) == 1
    await nc.close()


@pytest.mark.integration
def test_dlq_cli_list_show_replay(nats_server) -> None:  # type: ignore[no-untyped-def]
    async def setup() -> None:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await ensure_streams(js, Settings())
        await put_dead_letter(js, DeadLetter(id="itC", stage="route", reason="RuntimeError: boom", failed_at=NOW,
                                             attempts=5, source="native", item=item("C")))
        await put_dead_letter(js, ingest_dead_letter({"type": "x", "data": {"text": "Fixed now"}}, "msg_c"))
        await nc.close()

    asyncio.run(setup())
    listed = cli(nats_server.url, "dlq", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["stage"], r["id"], r["replayed"]) for r in rows] == [("route", "itC", False), ("ingest", "rawmsg_c", False)]
    only_route = cli(nats_server.url, "dlq", "list", "--json", "--stage", "route")
    assert [json.loads(x)["id"] for x in only_route.stdout.splitlines()] == ["itC"]
    table = cli(nats_server.url, "dlq", "list")
    assert "itC" in table.stdout and "boom" in table.stdout
    shown = cli(nats_server.url, "dlq", "show", str(rows[0]["seq"]))
    assert shown.returncode == 0 and "RuntimeError: boom" in shown.stdout and "not replayed" in shown.stdout
    assert cli(nats_server.url, "dlq", "show", "999").returncode == 1

    replayed = cli(nats_server.url, "dlq", "replay", "--all", "--config", str(EXAMPLE_CONFIG))
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "2 replayed" in replayed.stdout
    twice = cli(nats_server.url, "dlq", "replay", "itC")
    assert twice.returncode == 0 and "skipped" in twice.stdout
    rows = [json.loads(line) for line in cli(nats_server.url, "dlq", "list", "--json").stdout.splitlines()]
    assert all(r["replayed"] for r in rows)
    assert cli(nats_server.url, "dlq", "replay").returncode == 2  # neither ID nor --all


# ---- end to end: a real poison item in route, replayed after the fix -------------------------------


def native(text: str) -> bytes:
    return json.dumps({"type": "feedback.created", "timestamp": "2026-03-02T10:00:00Z",
                       "data": {"text": text, "email": "a@hooli.dev"}}).encode()


OUTCOME_STREAMS = (names.QUEUES, names.ANSWERS, names.DROPPED, names.RECORDS)


async def _set_outcome_limit(url: str, limit: int) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    for stream in OUTCOME_STREAMS:
        info = await js.stream_info(stream)
        await js.update_stream(info.config.evolve(max_msg_size=limit))
    await nc.close()


async def _landed(url: str) -> dict[str, int]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    counts: dict[str, int] = {}
    for stream in OUTCOME_STREAMS:
        for _, subject, _, _ in await read_stream(js, stream, [names.all_stream_filter(stream)]):
            item_id = names.split_item_subject(subject)[0]
            counts[item_id] = counts.get(item_id, 0) + 1
    await nc.close()
    return counts


@pytest.mark.e2e
def test_route_poison_dead_lettered_then_replayed_once(nats_server, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tests.e2e.conftest import start_switchboard

    monkeypatch.setenv("SWITCHBOARD_MAX_DELIVER", "3")
    monkeypatch.setenv("SWITCHBOARD_PUBLISH_TIMEOUT_S", "2")
    sb = start_switchboard(nats_server.url, tmp_path)
    try:
        # the "bug": an operator capped the outcome streams at 8 KiB; one customer wrote a long message
        asyncio.run(_set_outcome_limit(nats_server.url, 8192))
        poison = sb.post("native", native("Our exports keep failing. " + "Here is the full log line. " * 300), f"msg_{uuid.uuid4().hex}")
        assert poison.status_code == 202
        poison_id = poison.json()["ids"][0]
        others = []
        for i in range(20):
            r = sb.post("native", native(f"Feature request {i}: let us pin dashboards to the sidebar"), f"msg_{uuid.uuid4().hex}")
            assert r.status_code == 202
            others.append(r.json()["ids"][0])
        deadline = time.monotonic() + 60
        rows: list[dict] = []  # type: ignore[type-arg]
        while time.monotonic() < deadline:
            out = sb.cli("dlq", "list", "--json", "--stage", "route")
            rows = [json.loads(x) for x in out.stdout.splitlines()]
            landed = asyncio.run(_landed(nats_server.url))
            if rows and all(o in landed for o in others):
                break
            time.sleep(0.5)
        assert [r["id"] for r in rows] == [poison_id], rows
        assert rows[0]["attempts"] == 3 and rows[0]["item"]["id"] == poison_id and rows[0]["replayed"] is False
        assert "maximum" in rows[0]["reason"].lower() or "size" in rows[0]["reason"].lower(), rows[0]["reason"]
        landed = asyncio.run(_landed(nats_server.url))
        assert poison_id not in landed and all(landed[o] == 1 for o in others)

        asyncio.run(_set_outcome_limit(nats_server.url, -1))  # the fix
        replay = sb.cli("dlq", "replay", "--all")
        assert replay.returncode == 0 and "1 replayed" in replay.stdout, replay.stdout + replay.stderr
        deadline = time.monotonic() + 30
        while poison_id not in asyncio.run(_landed(nats_server.url)) and time.monotonic() < deadline:
            time.sleep(0.3)
        again = sb.cli("dlq", "replay", "--all", "--again")
        assert again.returncode == 0 and "already-there" in again.stdout, again.stdout
        wait_idle(nats_server.url)  # a second copy, had there been one, is through route by now
        landed = asyncio.run(_landed(nats_server.url))
        assert landed[poison_id] == 1 and all(landed[o] == 1 for o in others)
        rows = [json.loads(x) for x in sb.cli("dlq", "list", "--json").stdout.splitlines()]
        assert [(r["id"], r["replayed"]) for r in rows] == [(poison_id, True)]
        trace = sb.cli("trace", poison_id)
        assert "dead-lettered" in trace.stdout and ("queued" in trace.stdout or "answered" in trace.stdout)
    finally:
        sb.process.terminate()
        sb.process.wait(timeout=15)
