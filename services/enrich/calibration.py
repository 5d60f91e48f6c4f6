"""Choosing a threshold from labelled data, with a statistical guarantee (pure functions, no I/O).

Every labelled line has the judge's score, whether its label is a real target (answerable: an article or
an area) or null (nothing should answer it: an unanswerable question, or feedback that is no question at
all), and whether the best guess equals the label. A line is answered when it passes the gate (for the KB:
the judge took it for a question) and its score >= threshold. Two bounds, both held:

- precision on the answerable lines answered >= `precision`;
- share of null lines answered anyway <= `max_false`.

They are separate because a labelled set rarely has production's mix of null lines: a single precision
over the mix lets half of them through when they are 3% of the set.

With `confidence` (0.95 by default) the bounds are statistical: the one-sided Clopper–Pearson LOWER bound
of precision must reach `precision` and the UPPER bound of the false-answer share must stay within
`max_false` (`services.enrich.bounds`), so a threshold from 100 null lines holds on unseen ones with 95%
confidence instead of only on those 100. Thresholds are tested from the highest score down and the search
stops at the first one that fails after one has held (fixed-sequence testing: trying many thresholds
does not spend the confidence level); the last one that held is chosen. With `confidence=None` the bounds
are the observed rates and the lowest threshold where both hold is chosen (the old point estimate, kept
for comparison). When no threshold holds, the threshold is just above every score seen: nothing is answered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from services.enrich.bounds import lower_at_least, lower_bound, smallest_sample, upper_at_most, upper_bound


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float
    precision: float | None  # correct / answered, over answerable lines; None when none answered
    false_rate: float | None  # null lines answered / null lines; None when there are none
    coverage: float  # answerable answered / answerable (0 when there are none)
    answered: int  # answerable lines answered
    answerable: int
    unanswerable: int
    correct: int = 0  # answered with the right article/area
    false_answered: int = 0  # null lines answered
    precision_lower: float | None = None  # Clopper–Pearson bounds at the calibration's confidence
    false_upper: float | None = None


@dataclass(frozen=True)
class Calibration:
    chosen: OperatingPoint  # at the threshold that holds both bounds
    precision_threshold: float  # lowest threshold meeting the precision bound on its own
    false_threshold: float  # lowest threshold meeting the false-answer bound on its own
    feasible: bool  # False: no threshold that answers anything holds both bounds
    target_precision: float
    max_false: float
    confidence: float | None = 0.95  # None: point estimates
    neighbours: list[OperatingPoint] = field(default_factory=list)  # a lower and a higher threshold
    too_small: list[str] = field(default_factory=list)  # plain statements when the set cannot prove a bound


def operating_point(scores, correct, answerable, threshold: float, *, gate=None,
                    confidence: float | None = None) -> OperatingPoint:
    """What answering every line that passes the gate with score >= threshold gives."""
    s, c, a, g = _arrays(scores, correct, answerable, gate)
    hit = (s >= threshold) & g
    answered, right, false_n = int((hit & a).sum()), int((hit & a & c).sum()), int((hit & ~a).sum())
    unanswerable, answerable_n = int((~a).sum()), int(a.sum())
    return OperatingPoint(
        threshold=float(threshold),
        precision=right / answered if answered else None,
        false_rate=false_n / unanswerable if unanswerable else None,
        coverage=answered / answerable_n if answerable_n else 0.0,
        answered=answered,
        answerable=answerable_n,
        unanswerable=unanswerable,
        correct=right,
        false_answered=false_n,
        precision_lower=lower_bound(right, answered, confidence) if confidence and answered else None,
        false_upper=upper_bound(false_n, unanswerable, confidence) if confidence and unanswerable else None,
    )


def select_threshold(scores, correct, answerable, *, precision: float, max_false: float = 0.10,
                     confidence: float | None = 0.95, gate=None) -> Calibration:
    """The threshold at which both bounds hold (see module docstring)."""
    if not 0.0 <= precision <= 1.0 or not 0.0 <= max_false <= 1.0:
        raise ValueError("precision and max_false are shares between 0 and 1")
    if confidence is not None and not 0.5 <= confidence < 1.0:
        raise ValueError("confidence is a level between 0.5 and 1 (e.g. 0.95)")
    s, c, a, g = _arrays(scores, correct, answerable, gate)
    never = float(np.nextafter(s.max(), math.inf)) if len(s) else 1.0
    candidates = np.unique(s[g])  # ascending; only lines that pass the gate can be answered
    answered, correct_n, false_n = (_at_or_above(s, m & g, candidates) for m in (a, a & c, ~a))
    n_false = int((~a).sum())
    if confidence is None:
        prec_ok = (answered == 0) | (correct_n >= precision * answered - 1e-9)
        false_ok = false_n <= max_false * n_false + 1e-9 if n_false else np.ones(len(candidates), dtype=bool)
    else:
        prec_ok = lower_at_least(correct_n, answered, precision, confidence)
        false_ok = upper_at_most(false_n, n_false, max_false, confidence) if n_false else np.ones(len(candidates), bool)
    useful = answered > 0
    pick = _lowest if confidence is None else _fixed_sequence
    threshold = pick(candidates, prec_ok & false_ok & useful, never)
    point = lambda t: operating_point(s, c, a, t, gate=g, confidence=confidence)  # noqa: E731
    chosen = point(threshold)
    return Calibration(
        chosen=chosen,
        precision_threshold=pick(candidates, prec_ok & useful, never),
        false_threshold=(pick(candidates, false_ok & useful, never) if n_false
                         else float(candidates[0]) if len(candidates) else 0.0),
        feasible=threshold != never,
        target_precision=precision,
        max_false=max_false,
        confidence=confidence,
        neighbours=[point(t) for t in _neighbours(candidates, threshold, len(s))],
        too_small=_size_advice(chosen, a, precision, max_false, confidence) if confidence else [],
    )


def _lowest(candidates: np.ndarray, ok: np.ndarray, never: float) -> float:
    hits = np.flatnonzero(ok)
    return float(candidates[hits[0]]) if len(hits) else never


def _fixed_sequence(candidates: np.ndarray, ok: np.ndarray, never: float) -> float:
    """From the top down: skip until the first threshold that holds, then go on until one fails."""
    chosen, started = never, False
    for i in range(len(candidates) - 1, -1, -1):
        if ok[i]:
            chosen, started = float(candidates[i]), True
        elif started:
            break
    return chosen


def _at_or_above(s: np.ndarray, mask: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """How many masked lines score >= t, for every candidate t."""
    ranked = np.sort(s[mask])
    return len(ranked) - np.searchsorted(ranked, candidates, side="left")


def _neighbours(candidates: np.ndarray, threshold: float, n: int) -> list[float]:
    """Two thresholds either side of the chosen one, about 5% of the labelled lines away."""
    if not len(candidates):
        return []
    step = max(1, n // 20)
    at = int(np.searchsorted(candidates, threshold, side="left"))
    lower = candidates[max(0, at - step)] if at > 0 else None
    higher = candidates[min(len(candidates) - 1, at + step)] if at + 1 < len(candidates) else None
    return [float(t) for t in (lower, higher) if t is not None and t != threshold]


def _size_advice(p: OperatingPoint, a: np.ndarray, precision: float, max_false: float, confidence: float) -> list[str]:
    """Say plainly when the labelled set is too small to prove a bound, and what size would do."""
    out: list[str] = []
    level = f"{confidence:.0%}"
    zero_false = smallest_sample(max_false, confidence) if max_false > 0 else None
    if max_false <= 0:
        out.append("a false-answer share of 0 cannot be proven from a sample: allow a small share (e.g. 0.05)")
    elif p.unanswerable < (zero_false or 0):
        out.append(f"only {p.unanswerable} null lines: even with none answered, {p.unanswerable} cannot show a "
                   f"false-answer share <= {max_false:g} at {level}; label at least {zero_false} (about "
                   f"{smallest_sample(max_false, confidence, max_false / 2)} if a few slip through)")
    all_right = smallest_sample(precision, confidence, 1.0, upper=False) if precision < 1 else None
    if precision >= 1:
        out.append("a precision of 1 cannot be proven from a sample: ask for 0.95 or 0.99")
    elif int(a.sum()) < (all_right or 0):
        realistic = smallest_sample(precision, confidence, (1 + precision) / 2, upper=False)
        out.append(f"only {int(a.sum())} answerable lines: even all answered correctly cannot show precision >= "
                   f"{precision:g} at {level}; label at least {all_right} (about {realistic} at a realistic hit rate)")
    return out


def _arrays(scores, correct, answerable, gate=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    a = np.asarray(answerable, dtype=bool).reshape(-1)
    c = np.asarray(correct, dtype=bool).reshape(-1) & a
    g = np.ones(len(s), dtype=bool) if gate is None else np.asarray(gate, dtype=bool).reshape(-1)
    if not len(s) == len(a) == len(c) == len(g):
        raise ValueError("scores, correct, answerable (and gate) need one entry per line")
    return s, c, a, g
