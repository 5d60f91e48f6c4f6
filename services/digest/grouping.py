"""Which group (theme) an item counts under, purely: its `theme` when enrich set one, else its area plus a
normalised-text key (the three longest content words), so digests and KB gaps work before themes exist."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from schemas.item import Item

WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below between
both but by can cannot could did do does doing don down during each else even ever every few for from further get
gets getting got had has have having he her here hers him his how i if in into is isn it its itself just let lets
like me more most much my myself need needs no nor not now of off on once only or other our ours out over own
please pls really same she should so some still such than thank thanks that the their theirs them then there these
they this those through to too under until up us use using very want wants was way we were what when where which
while who whom why will with would yes yet you your yours hi hello hey team guys great good able anyone someone
something anything make makes made also add adding allow option possible feature request there's it's i'm can't don't doesn't won't isn't we're you're
""".split())


@dataclass(frozen=True)
class Group:
    id: str
    label: str
    area: str | None


def content_words(text: str) -> list[str]:
    """Lower-cased words without stop words, digits-only tokens or one-letter words, a plural `s` dropped."""
    words = []
    for w in WORD_RE.findall(text.lower()):
        if w in STOPWORDS or len(w) < 3 or w.isdigit():
            continue
        w = w.split("'")[0]  # customer's -> customer
        if len(w) > 4 and w.endswith("ies"):
            w = w[:-3] + "y"
        elif len(w) > 4 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
            w = w[:-1]
        words.append(w)
    return words


def item_text(item: Item) -> str:
    return ": ".join(p.strip() for p in (item.title, item.text) if p and p.strip())


def area_of(item: Item) -> str | None:
    if item.theme is not None and item.theme.area:
        return item.theme.area
    return item.area.id if item.area is not None else None


def text_key(text: str) -> tuple[str, ...]:
    """The three longest distinct content words (ties alphabetically), sorted: word order and fillers vary."""
    distinct = sorted(set(content_words(text)), key=lambda w: (-len(w), w))
    return tuple(sorted(distinct[:3]))


def group_of(item: Item) -> Group:
    if item.theme is not None:
        return Group(item.theme.id, item.theme.label, item.theme.area)
    area = area_of(item)
    key = text_key(item.title or item.text or "")  # a title, when the source has one, is the most topical text
    digest = hashlib.sha256(f"{area}\x00{' '.join(key)}".encode()).hexdigest()[:12]
    return Group(f"k-{digest}", " ".join(key) or "(no text)", area)


def top_terms(texts: Iterable[str], n: int = 3, min_share: float = 0.0) -> list[str]:
    """The group's most common content words (counted once per text; in at least `min_share` of the texts),
    most common first, then first seen."""
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    total = 0
    for text in texts:
        total += 1
        for w in dict.fromkeys(content_words(text)):
            counts[w] += 1
            first.setdefault(w, len(first))
    common = [w for w in counts if counts[w] >= min_share * total]
    return sorted(common, key=lambda w: (-counts[w], first[w]))[:n]
