"""A short readable label for a theme from its most central member texts, pure (no hosted model).

Content words (no stop words) are counted by how many sample texts use them (document frequency, so one
long text cannot dominate), with a small weight for centrality. Word forms are grouped by a crude stem
("schedule", "scheduled", "scheduling") and shown in their most common form. A bigram that several texts share
is the best label ("dark mode"); otherwise the top two or three words. Ties go to the word seen first.
"""

from __future__ import annotations

import re
from collections import Counter

WORD = re.compile(r"[a-z][a-z0-9'+-]*[a-z0-9]|[a-z]")
STOP = frozenset("""
a about above after again against all am an and any are aren't as at be because been before being below between
both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each few for from
further get got had hadn't has hasn't have haven't having he her here hers him his how i i'm i've if in into is
isn't it it's its itself just let me more most my myself no nor not now of off on once only or other our ours out
over own please same she should so some such than that that's the their them then there these they this those
through to too under until up us very was wasn't we we're were what what's when where which while who why will
with won't would you you're your yours hi hello thanks thank still also really like want wants need needs one
able way would've since yet ok okay im ive dont cant wont already anyone someone something anything every even
much many lot lots use using used make made go going hey team guys know see try tried trying does e.g eg today
""".split())
MAX_WORDS = 3
SUFFIXES = ("ing", "ed", "es", "s", "e")


def words(text: str) -> list[str]:
    return [w.strip("'-") for w in WORD.findall(text.lower())]


def stem(word: str) -> str:
    if word.endswith("ies") and len(word) > 5:
        return word[:-3] + "y"
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _content(word: str) -> bool:
    return bool(word) and word not in STOP and len(word) > 1 and not word.isdigit()


def label_of(texts: list[str]) -> str:
    """The label for texts ordered most central first ('' when they hold no content word)."""
    unigrams: Counter[str] = Counter()  # by stem
    bigrams: Counter[tuple[str, str]] = Counter()  # by stems
    forms: dict[str, Counter[str]] = {}
    first: dict[str, int] = {}
    for rank, text in enumerate(texts):
        weight = 1.0 + 0.1 / (rank + 1)  # a word of the most central text wins a tie
        tokens = words(text)
        for pos, t in enumerate(tokens):
            if _content(t):
                forms.setdefault(stem(t), Counter())[t] += 1
                first.setdefault(stem(t), rank * 1000 + pos)
        for s in {stem(t) for t in tokens if _content(t)}:
            unigrams[s] += weight
        for pair in {(stem(a), stem(b)) for a, b in zip(tokens, tokens[1:]) if _content(a) and _content(b) and stem(a) != stem(b)}:
            bigrams[pair] += weight
    if not unigrams:
        return ""

    def show(s: str) -> str:
        return forms[s].most_common(1)[0][0]

    def order(s: str) -> int:
        return first.get(s, 10**9)

    ranked = sorted(unigrams, key=lambda s: (-unigrams[s], order(s)))
    shared = [b for b, c in bigrams.items() if c >= 2]
    if shared and len(texts) >= 2:
        best = max(shared, key=lambda b: (bigrams[b], -order(b[0])))
        parts = {p for s in best for p in show(s).split("-")}
        extra = [s for s in ranked if s not in best and unigrams[s] >= 2 and show(s) not in parts
                 and not set(show(s).split("-")) & parts][:1]
        return " ".join(show(s) for s in (*best, *extra))
    chosen: list[str] = []
    for s in ranked:
        parts = {p for w in chosen for p in w.split("-")}
        if not set(show(s).split("-")) & parts:
            chosen.append(show(s))
        if len(chosen) == MAX_WORDS:
            break
    return " ".join(chosen)
