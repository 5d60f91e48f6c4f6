"""`switchboard answers --stats`: per KB article, the answers given and what askers said of them.

Read from the streams, the record of truth (SB_ANSWERS: one message per answer; SB_FEEDBACK: the first
verdict per answered item), so the figures are the same whichever process recorded a click; ingest's
`/metrics` counter `switchboard_answer_feedback_total{article,verdict}` is the live, per-process view.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from schemas.item import Item
from schemas.outbox import Feedback
from services.cli.reading import read_subjects
from services.common import names
from services.common.broker import connect_briefly


@dataclass
class ArticleStats:
    article: str
    title: str | None = None
    answers: int = 0
    helpful: int = 0
    not_helpful: int = 0

    @property
    def rated(self) -> int:
        return self.helpful + self.not_helpful


def count(answers: list[Item], feedback: list[Feedback]) -> list[ArticleStats]:
    """Per article (most answers first): answers given, helpful and not-helpful verdicts. A verdict counts
    under the article of the answer it judged (the answer's own record when it is still kept)."""
    rows: dict[str, ArticleStats] = {}
    article_of: dict[str, str] = {}
    for item in answers:
        if item.answer is None:
            continue
        row = rows.setdefault(item.answer.article, ArticleStats(item.answer.article))
        row.answers += 1
        row.title = row.title or item.answer.title
        article_of[item.id] = item.answer.article
    for fb in feedback:
        article = article_of.get(fb.item_id) or fb.article
        if article is None:
            continue
        row = rows.setdefault(article, ArticleStats(article))
        if fb.verdict == "helpful":
            row.helpful += 1
        else:
            row.not_helpful += 1
    return sorted(rows.values(), key=lambda r: (-r.answers, r.article))


async def read_stats(settings) -> list[ArticleStats]:  # type: ignore[no-untyped-def]
    nc = await connect_briefly(settings)
    try:
        js = nc.jetstream()
        answers = await read_subjects(js, names.ANSWERS, [names.all_stream_filter(names.ANSWERS)])
        verdicts = await read_subjects(js, names.FEEDBACK, [names.all_stream_filter(names.FEEDBACK)])
    finally:
        await nc.close()
    items, feedback = [], []
    for _, data in answers:
        try:
            items.append(Item.model_validate_json(data))
        except ValidationError:
            continue
    for _, data in verdicts:
        try:
            feedback.append(Feedback.model_validate_json(data))
        except ValidationError:
            continue
    return count(items, feedback)


def print_stats(rows: list[ArticleStats], as_json: bool, console: Console) -> None:
    if as_json:
        for row in rows:
            typer.echo(json.dumps(asdict(row)))
        return
    table = Table(title=f"answers per article ({sum(r.answers for r in rows)} given)", expand=True)
    for col in ("article", "title", "answers", "helpful", "not helpful", "helpful share"):
        table.add_column(col, overflow="fold")
    for r in rows:
        share = f"{r.helpful / r.rated:.0%} of {r.rated}" if r.rated else "-"
        table.add_row(r.article, r.title or "", str(r.answers), str(r.helpful), str(r.not_helpful), share)
    console.print(table)
