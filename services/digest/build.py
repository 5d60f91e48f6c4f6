"""Building a digest from the period's items and verdicts: pure (`build_digest`), so every figure is tested
without a broker. ARR is always summed over distinct accounts, each account once."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable, Mapping

from schemas.digest import AccountStat, ArticleHelp, ChurnItem, Digest, ThemeStat, Trend
from schemas.item import Item
from schemas.outbox import Feedback
from services.config.teams import duration_seconds
from services.digest.grouping import Group, group_of, item_text

TOP = 10
EXAMPLES = 3
ITEM_IDS = 20


def item_time(item: Item) -> datetime:
    return item.decided_at or item.enriched_at or item.received_at


def item_team(item: Item, area_teams: Mapping[str, str]) -> str | None:
    """The team the item went to; an answered item belongs to the team that owns its area."""
    if item.decision is not None and item.decision.team:
        return item.decision.team
    area = item.theme.area if item.theme and item.theme.area else (item.area.id if item.area else None)
    return area_teams.get(area or "")


def latest_per_item(items: Iterable[Item]) -> list[Item]:
    """One copy per item id: the last decided (a rejected answer's re-decision supersedes the answer)."""
    kept: dict[str, Item] = {}
    for item in items:
        old = kept.get(item.id)
        if old is None or (item.answer_rejected, item_time(item)) >= (old.answer_rejected, item_time(old)):
            kept[item.id] = item
    return list(kept.values())


def snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class _Acc:
    group: Group
    items: list[Item] = field(default_factory=list)


def arr_by_account(items: Iterable[Item]) -> dict[str, float]:
    accounts: dict[str, float] = {}
    for item in items:
        if item.account is not None:
            accounts[item.account.id] = max(accounts.get(item.account.id, 0.0), item.account.arr or 0.0)
    return accounts


def trend(items: int, previous: int) -> Trend:
    if previous == 0:
        return "new"
    return "growing" if items > previous else "steady" if items == previous else "shrinking"


def themes(current: list[Item], previous: list[Item], area_teams: Mapping[str, str] | None = None) -> list[ThemeStat]:
    groups: dict[str, _Acc] = {}
    for item in current:
        g = group_of(item)
        groups.setdefault(g.id, _Acc(g)).items.append(item)
    before: dict[str, int] = defaultdict(int)
    for item in previous:
        before[group_of(item).id] += 1
    out = []
    for acc in groups.values():
        accounts = arr_by_account(acc.items)
        ordered = sorted(acc.items, key=item_time, reverse=True)
        teams = Counter(item_team(i, area_teams or {}) for i in ordered)
        out.append(ThemeStat(
            id=acc.group.id, label=acc.group.label, area=acc.group.area, team=teams.most_common(1)[0][0],
            items=len(acc.items),
            accounts=len(accounts), arr=sum(accounts.values()), previous=before[acc.group.id],
            trend=trend(len(acc.items), before[acc.group.id]),
            examples=[snippet(item_text(i)) for i in ordered if item_text(i)][:EXAMPLES],
            item_ids=[i.id for i in ordered][:ITEM_IDS]))
    return out


def top_accounts(items: list[Item]) -> list[AccountStat]:
    rows: dict[str, AccountStat] = {}
    theme_ids: dict[str, set[str]] = defaultdict(set)
    for item in items:
        if item.account is None:
            continue
        a = item.account
        row = rows.setdefault(a.id, AccountStat(id=a.id, name=a.name, arr=a.arr or 0.0, items=0, themes=0))
        row.items += 1
        row.arr = max(row.arr, a.arr or 0.0)
        theme_ids[a.id].add(group_of(item).id)
    for account_id, row in rows.items():
        row.themes = len(theme_ids[account_id])
    return sorted(rows.values(), key=lambda r: (-r.arr, -r.items, r.id))[:TOP]


def churn(items: list[Item], area_teams: Mapping[str, str]) -> list[ChurnItem]:
    risky = [i for i in items if i.intent == "churn_risk"]
    risky.sort(key=lambda i: (-(i.account.arr or 0.0) if i.account else 0.0, item_time(i)))
    return [ChurnItem(id=i.id, text=snippet(item_text(i)), account=(i.account.name or i.account.id) if i.account else None,
                      arr=i.account.arr if i.account else None, team=item_team(i, area_teams),
                      theme=group_of(i).label) for i in risky[:TOP]]


def articles(items: list[Item], feedback: Iterable[Feedback], start: datetime, end: datetime) -> list[ArticleHelp]:
    """Per article: the period's answers, and the verdicts given in the period; only articles that helped."""
    rows: dict[str, ArticleHelp] = {}
    article_of: dict[str, str] = {}
    for item in items:
        if item.answer is not None:
            row = rows.setdefault(item.answer.article, ArticleHelp(article=item.answer.article))
            row.answers += 1
            row.title = row.title or item.answer.title
            article_of[item.id] = item.answer.article
    for fb in feedback:
        article = article_of.get(fb.item_id) or fb.article
        if article is None or not (start <= fb.at < end):
            continue
        row = rows.setdefault(article, ArticleHelp(article=article))
        if fb.verdict == "helpful":
            row.helpful += 1
        else:
            row.not_helpful += 1
    helped = [r for r in rows.values() if r.helpful]
    return sorted(helped, key=lambda r: (-r.helpful, r.not_helpful, r.article))[:TOP]


def build_digest(items: Iterable[Item], feedback: Iterable[Feedback], since: str, team: str | None,
                 now: datetime, area_teams: Mapping[str, str] | None = None) -> Digest:
    """The digest of the `since` period ending at `now`, for `team` (None: every team). `items` may hold
    the period before too (for the trend) and several copies of an item (the last decided one counts)."""
    span = timedelta(seconds=duration_seconds(since))
    start, prev_start = now - span, now - 2 * span
    teams = area_teams or {}
    feedback_items = [i for i in latest_per_item(items) if i.category == "feedback"
                      and (team is None or item_team(i, teams) == team)]
    current = [i for i in feedback_items if start <= item_time(i) < now]
    previous = [i for i in feedback_items if prev_start <= item_time(i) < start]
    stats = themes(current, previous, teams)
    accounts = arr_by_account(current)
    questions = [i for i in current if i.intent == "question"]
    answers = [i for i in questions if i.decision is not None and i.decision.action == "answer" and not i.answer_rejected]
    growing = [t for t in stats if t.trend == "growing"]
    return Digest(
        team=team, since=since, start=start, end=now, items=len(current), previous_items=len(previous),
        accounts=len(accounts), arr=sum(accounts.values()), questions=len(questions), answers=len(answers),
        answer_rate=len(answers) / len(questions) if questions else None,
        top_by_arr=sorted(stats, key=lambda t: (-t.arr, -t.items, t.label))[:TOP],
        top_by_count=sorted(stats, key=lambda t: (-t.items, -t.arr, t.label))[:TOP],
        new_themes=sorted((t for t in stats if t.trend == "new"), key=lambda t: (-t.arr, -t.items, t.label))[:TOP],
        growing_themes=sorted(growing, key=lambda t: (-(t.items - t.previous), -t.arr, t.label))[:TOP],
        top_accounts=top_accounts(current), churn_risk=churn(current, teams),
        articles_helped=articles(current, feedback, start, now),
    )
