"""`switchboard themes` and the web themes page, pure: per theme, what the stored items of a period say.

Items carry the theme id they were given (contract 7); a theme merged since then resolves to its survivor, and
the label is the theme's current one (a rename shows at once). Per theme: items of the period, distinct accounts,
ARR of those accounts (each counted once, at the ARR its latest item carried), the previous period's item count
(the trend), example quotes (the most central texts first) and the item ids. Sorted by ARR, then items.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from schemas.item import Item
from schemas.theme import Theme, ThemeReport

EXAMPLES = 3


@dataclass(frozen=True)
class Directory:
    """What the report resolves item themes with: live themes by id (merged ones too), and teams."""

    themes: Mapping[str, Theme]
    area_teams: Mapping[str, str]  # area id -> owning team (areas.yaml)
    item_teams: Mapping[str, str]  # item id -> the team whose queue it went to (its decision)

    def resolve(self, theme_id: str) -> Theme | None:
        seen = set()
        theme = self.themes.get(theme_id)
        while theme is not None and theme.merged_into and theme.id not in seen:
            seen.add(theme.id)
            theme = self.themes.get(theme.merged_into)
        return theme


def theme_key(item: Item, directory: Directory) -> str | None:
    if item.theme is None:
        return None
    theme = directory.resolve(item.theme.id)
    return theme.id if theme is not None else item.theme.id


def _examples(members: list[Item], theme: Theme | None) -> list[str]:
    central = [s.item_id for s in theme.samples] if theme else []
    rank = {item_id: n for n, item_id in enumerate(central)}
    ordered = sorted(members, key=lambda i: (rank.get(i.id, len(rank)), -i.received_at.timestamp()))
    out: list[str] = []
    for item in ordered:
        text = " ".join(part for part in (item.title, item.text) if part).strip()
        if text and text not in out:
            out.append(text[:280])
        if len(out) == EXAMPLES:
            break
    return out


def _team(members: list[Item], theme: Theme | None, area: str | None, directory: Directory) -> str | None:
    teams = Counter(directory.item_teams[i.id] for i in members if i.id in directory.item_teams)
    if teams:
        return sorted(teams.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    return directory.area_teams.get(area or "") if area else None


def theme_reports(
    period: Iterable[Item], previous: Iterable[Item], directory: Directory, team: str | None = None,
) -> list[ThemeReport]:
    groups: dict[str, list[Item]] = {}
    for item in sorted(period, key=lambda i: i.received_at):
        key = theme_key(item, directory)
        if key is not None:
            groups.setdefault(key, []).append(item)
    before = Counter(k for k in (theme_key(i, directory) for i in previous) if k is not None)
    rows = []
    for key, members in groups.items():
        theme = directory.themes.get(key)
        area = theme.area if theme else (members[-1].theme.area if members[-1].theme else None)
        owner = _team(members, theme, area, directory)
        if team is not None and owner != team:
            continue
        arr: dict[str, float] = {}
        for item in members:  # oldest first: an account's latest ARR wins
            if item.account is not None:
                arr[item.account.id] = float(item.account.arr or 0.0)
        label = theme.label if theme else (members[-1].theme.label if members[-1].theme else key)
        rows.append(ThemeReport(
            id=key, label=label, area=area, team=owner, items=len(members), accounts=len(arr),
            arr=sum(arr.values()), previous=before.get(key, 0), examples=_examples(members, theme),
            item_ids=[i.id for i in members],
        ))
    rows.sort(key=lambda r: (-r.arr, -r.items, r.label))
    return rows


def item_themes(item: Item, siblings: Iterable[Item], directory: Directory, limit: int = 20) -> tuple[Theme | None, list[Item]]:
    """The item's theme (resolved) and the other items of it among `siblings`, newest first."""
    if item.theme is None:
        return None, []
    key = theme_key(item, directory)
    others = [s for s in siblings if s.id != item.id and theme_key(s, directory) == key]
    others.sort(key=lambda i: i.received_at, reverse=True)
    return directory.resolve(item.theme.id), others[:limit]
