"""`switchboard digest --format json|md|html` and `switchboard kb gaps --json --write DIR` against a real
nats-server holding recorded items (queues and answers, as route stores them)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import pytest
from typer.testing import CliRunner

from schemas.item import Item
from services.cli.main import app
from services.common import names
from services.common.broker import publish_item
from services.common.embedded import EmbeddedNats
from services.common.settings import Settings
from services.common.streams import ensure_streams
from tests.digest_support import fb_item

pytestmark = pytest.mark.integration


def record(url: str, items: list[Item]) -> None:
    async def go() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        await ensure_streams(js, Settings())
        for item in items:
            subject = (names.answer_subject(item.source, item.id) if item.decision and item.decision.action == "answer"
                       else names.queue_subject(item.decision.team if item.decision else "unrouted", item.id))
            await publish_item(js, subject, item.model_dump_json().encode(), item.id, 5)
        await nc.close()

    asyncio.run(go())


def test_digest_json_md_and_html(nats_server: EmbeddedNats) -> None:
    now = datetime.now(UTC)
    record(nats_server.url, [
        fb_item(1, account="a", arr=300_000, now=now), fb_item(2, account="a", arr=300_000, now=now),
        fb_item(3, account="b", arr=50_000, now=now, age=timedelta(days=9)),  # the period before
        fb_item(4, intent="question", action="answer", article="kb-pdf", now=now, text="How do I export PDF?"),
        fb_item(5, intent="churn_risk", account="big", arr=900_000, now=now, theme="t-churn", label="cancel"),
    ])
    runner = CliRunner()
    out = runner.invoke(app, ["digest", "--team", "insights", "--since", "7d", "--format", "json", "--nats", nats_server.url])
    assert out.exit_code == 0, out.output
    d = json.loads(out.output)
    assert d["team"] == "insights" and d["items"] == 4 and d["previous_items"] == 1
    pdf = next(t for t in d["top_by_count"] if t["id"] == "t-pdf")
    assert (pdf["items"], pdf["accounts"], pdf["previous"], pdf["trend"]) == (3, 2, 1, "growing")
    assert d["top_by_arr"][0]["id"] == "t-churn" and d["churn_risk"][0]["arr"] == 900_000
    assert d["questions"] == 1 and d["answers"] == 1 and d["answer_rate"] == 1.0  # answered: team via its area
    md = runner.invoke(app, ["digest", "--team", "insights", "--nats", nats_server.url])
    assert md.exit_code == 0 and "# Digest for insights, last 7d" in md.output and "**pdf export**" in md.output
    html = runner.invoke(app, ["digest", "--format", "html", "--nats", nats_server.url])
    assert html.exit_code == 0 and "<svg" in html.output and "Digest: all teams" in html.output
    bad = runner.invoke(app, ["digest", "--since", "lately", "--nats", nats_server.url])
    assert bad.exit_code == 2


def test_kb_gaps_json_and_write(nats_server: EmbeddedNats, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    record(nats_server.url, [
        fb_item(1, intent="question", text="How do I export reports to PDF?", account="a", arr=200_000, now=now),
        fb_item(2, intent="question", text="Export my reports as PDF?", account="b", arr=50_000, now=now),
        fb_item(3, intent="question", text="Can reports export to PDF?", account="b", arr=50_000, now=now,
                action="answer", article="kb-csv", answer_rejected=True),
        fb_item(4, intent="question", text="How do I reset SSO?", theme="t-sso", label="sso", now=now,
                action="answer", article="kb-sso"),  # answered and not rejected: no gap
        fb_item(5, intent="question", text="Old question", theme="t-old", now=now, age=timedelta(days=45)),
    ])
    runner = CliRunner()
    out = runner.invoke(app, ["kb", "gaps", "--since", "30d", "--json", "--write", str(tmp_path), "--nats", nats_server.url])
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["id"], r["questions"], r["rejected"], r["accounts"], r["arr"]) for r in rows] == [
        ("t-pdf", 3, 1, 2, 250_000.0)]
    draft = tmp_path / "kb" / f"{rows[0]['slug']}.md"
    text = draft.read_text()
    assert text.startswith("---\ntitle: How do I export report pdf?\narea: reporting\nquestions:\n")
    assert "- How do I export reports to PDF?" in text and "TODO" in text
    draft.write_text("a writer's article")
    again = runner.invoke(app, ["kb", "gaps", "--write", str(tmp_path), "--nats", nats_server.url])
    assert again.exit_code == 0 and "kept existing" in again.output and draft.read_text() == "a writer's article"
