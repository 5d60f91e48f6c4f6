"""The knowledge base's gaps (pure): questions that got no confident answer (routed instead of answered) or
whose answer the asker rejected, grouped like themes, with counts, distinct accounts, ARR, example questions and
a suggested article title; and the `kb/<slug>.md` drafts a writer starts from (never overwriting a file)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable

import yaml

from schemas.item import Item
from services.digest.build import arr_by_account, item_time, latest_per_item
from services.digest.grouping import content_words, group_of, item_text, top_terms

EXAMPLES = 5
QUESTIONS_IN_DRAFT = 20
SLUG_CHARS = 60
TITLE_CHARS = 90


@dataclass
class Gap:
    id: str
    label: str
    area: str | None
    title: str
    slug: str
    questions: int = 0
    unanswered: int = 0  # routed: no article scored above the threshold
    rejected: int = 0  # answered, and the asker said it did not help
    accounts: int = 0
    arr: float = 0.0
    examples: list[str] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)  # the real questions (distinct, newest first) for the draft
    item_ids: list[str] = field(default_factory=list)
    best_articles: list[str] = field(default_factory=list)  # the near misses: what the KB had closest


def is_gap(item: Item) -> bool:
    """A question the KB did not settle: rejected, or decided by anything but an answer."""
    if item.category != "feedback" or item.intent != "question":
        return False
    if item.answer_rejected:
        return True
    return item.decision is not None and item.decision.action != "answer"


def suggest_title(questions: list[str]) -> str:
    """"How do I <the group's top terms>?": a short question a writer renames, built from common words."""
    distinct = list(dict.fromkeys(" ".join(q.split()) for q in questions))
    if len(distinct) == 1 and len(distinct[0]) <= TITLE_CHARS and distinct[0].endswith("?"):
        return distinct[0]  # one question, asked as a short question: it is its own best title
    terms = top_terms(questions, 4, min_share=0.5)
    positions: dict[str, list[int]] = {t: [] for t in terms}
    for question in questions:  # in the order people write them: the mean place of each word
        words = content_words(question)
        for t in terms:
            if t in words:
                positions[t].append(words.index(t))
    terms.sort(key=lambda t: sum(positions[t]) / max(1, len(positions[t])))
    return f"How do I {' '.join(terms)}?" if terms else "Untitled question"


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:SLUG_CHARS].strip("-")
    return slug or "gap"


def find_gaps(items: Iterable[Item], start: datetime, end: datetime) -> list[Gap]:
    """The period's gaps, most questions first (then ARR)."""
    groups: dict[str, list[Item]] = {}
    for item in latest_per_item(items):
        if is_gap(item) and start <= item_time(item) < end:
            groups.setdefault(group_of(item).id, []).append(item)
    gaps: list[Gap] = []
    used: set[str] = set()
    for members in groups.values():
        members.sort(key=item_time, reverse=True)
        g = group_of(members[0])
        texts = [item_text(i) for i in members if item_text(i)]
        title = suggest_title(texts)
        accounts = arr_by_account(members)
        near = [i.kb.article for i in members if i.kb is not None and i.kb.article]
        gaps.append(Gap(
            id=g.id, label=g.label, area=g.area, title=title, slug="", questions=len(members),
            unanswered=sum(not i.answer_rejected for i in members), rejected=sum(i.answer_rejected for i in members),
            accounts=len(accounts), arr=sum(accounts.values()), examples=list(dict.fromkeys(texts))[:EXAMPLES],
            asked=list(dict.fromkeys(texts))[:QUESTIONS_IN_DRAFT],
            item_ids=[i.id for i in members], best_articles=sorted(set(near), key=near.count, reverse=True)[:3]))
    gaps.sort(key=lambda x: (-x.questions, -x.arr, x.title))
    for gap in gaps:  # unique slugs in one run, in rank order
        base = slug = slugify(gap.title)
        n = 2
        while slug in used:
            slug, n = f"{base}-{n}", n + 1
        used.add(slug)
        gap.slug = slug
    return gaps


def draft(gap: Gap) -> str:
    """A KB article draft: front matter (title, area, the real questions), then a TODO body."""
    front = {"title": gap.title, "area": gap.area, "questions": [" ".join(t.split()) for t in gap.asked]}
    meta = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1000)
    return (f"---\n{meta}---\n\n"
            f"TODO: answer the questions above. {gap.questions} questions from {gap.accounts} accounts "
            f"({gap.arr:,.0f} ARR) found no confident answer"
            + (f"; closest articles today: {', '.join(gap.best_articles)}" if gap.best_articles else "") + ".\n")


def write_drafts(gaps: Iterable[Gap], directory: Path) -> list[tuple[Path, bool]]:
    """Write `<directory>/kb/<slug>.md` per gap; an existing file is left alone. [(path, written)]."""
    folder = directory / "kb"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for gap in gaps:
        path = folder / f"{gap.slug}.md"
        try:
            with path.open("x", encoding="utf-8") as fh:  # exclusive create: never overwrite
                fh.write(draft(gap))
            out.append((path, True))
        except FileExistsError:
            out.append((path, False))
    return out
