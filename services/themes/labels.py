"""A short readable label for a theme from its most central member texts, pure (no hosted model).

Content words (no stop words) are counted by how many sample texts use them (document frequency, so one
long text cannot dominate), with a small weight for centrality. A bigram that several texts share is the
best label ("export csv"); otherwise the top two or three words. Ties go to the word seen first.
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
much many lot lots use using used make made go going hey team guys know see try tried trying does
""".split())
MAX_WORDS = 3


def words(text: str) -> list[str]:
    return [w.strip("'-") for w in WORD.findall(text.lower())]


def content(tokens: list[str]) -> list[str]:
    return [t for t in tokens if t and t not in STOP and len(t) > 1 and not t.isdigit()]


def label_of(texts: list[str]) -> str:
    """The label for texts ordered most central first ('' when they hold no content word)."""
    unigrams: Counter[str] = Counter()
    bigrams: Counter[str] = Counter()
    first: dict[str, int] = {}
    for rank, text in enumerate(texts):
        weight = 1.0 + 0.1 / (rank + 1)  # a word of the most central text wins a tie
        tokens = words(text)
        seen_uni = set(content(tokens))
        seen_bi = {f"{a} {b}" for a, b in zip(tokens, tokens[1:]) if a not in STOP and b not in STOP
                   and len(a) > 1 and len(b) > 1 and not a.isdigit() and not b.isdigit()}
        for term in seen_uni:
            unigrams[term] += weight
        for term in seen_bi:
            bigrams[term] += weight
        for pos, t in enumerate(tokens):
            first.setdefault(t, rank * 1000 + pos)
    if not unigrams:
        return ""
    order = lambda term: first.get(term.split()[0], 10**9)  # noqa: E731
    shared = [b for b, c in bigrams.items() if c >= 2]
    if shared and len(texts) >= 2:
        best = max(shared, key=lambda b: (bigrams[b], -order(b)))
        extra = [w for w, c in sorted(unigrams.items(), key=lambda kv: (-kv[1], order(kv[0])))
                 if w not in best.split() and c >= 2][:1]
        return " ".join([best, *extra])
    ranked = sorted(unigrams.items(), key=lambda kv: (-kv[1], order(kv[0])))
    return " ".join(w for w, _ in ranked[:MAX_WORDS])
