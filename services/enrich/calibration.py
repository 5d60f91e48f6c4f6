"""Choosing a threshold from labelled data (pure functions, no I/O).

Every labelled question has the judge's score, whether its label is a real target (answerable: an article
or an area) or null (nothing should answer it), and whether the best guess equals the label. A question
is answered when its score >= threshold. Two bounds, both held, the stricter wins:

- precision on the answerable questions answered >= `precision`;
- share of unanswerable (null) questions answered anyway <= `max_false`.

They are separate because a labelled set rarely has production's mix of unanswerable questions: a single
precision over the mix lets half of them through when they are 3% of the set. The chosen threshold is
the lowest one (most coverage) at which both hold; when none does, it is just above every score seen, so
nothing is answered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float
    precision: float | None  # correct / answered, over answerable questions; None when none answered
    false_rate: float | None  # unanswerable answered / unanswerable; None when there are none
    coverage: float  # answerable answered / answerable (0 when there are none)
    answered: int  # answerable questions answered
    answerable: int
    unanswerable: int


@dataclass(frozen=True)
class Calibration:
    chosen: OperatingPoint  # at the threshold that holds both bounds
    precision_threshold: float  # lowest threshold meeting the precision bound on its own
    false_threshold: float  # lowest threshold meeting the false-answer bound on its own
    feasible: bool  # False: no threshold that answers anything holds both bounds
    target_precision: float
    max_false: float


def operating_point(scores, correct, answerable, threshold: float) -> OperatingPoint:
    """What answering every question with score >= threshold gives."""
    s, c, a = _arrays(scores, correct, answerable)
    hit = s >= threshold
    answered = int((hit & a).sum())
    unanswerable = int((~a).sum())
    return OperatingPoint(
        threshold=float(threshold),
        precision=float((hit & a & c).sum() / answered) if answered else None,
        false_rate=float((hit & ~a).sum() / unanswerable) if unanswerable else None,
        coverage=float(answered / a.sum()) if a.sum() else 0.0,
        answered=answered,
        answerable=int(a.sum()),
        unanswerable=unanswerable,
    )


def select_threshold(scores, correct, answerable, *, precision: float, max_false: float = 0.10) -> Calibration:
    """The lowest threshold at which both bounds hold (see module docstring)."""
    if not 0.0 <= precision <= 1.0 or not 0.0 <= max_false <= 1.0:
        raise ValueError("precision and max_false are shares between 0 and 1")
    s, c, a = _arrays(scores, correct, answerable)
    never = float(np.nextafter(s.max(), math.inf)) if len(s) else 1.0
    candidates = np.unique(s)  # ascending: the first that holds gives the most coverage
    # counts of questions with score >= t, for every candidate t, by suffix sums over the sorted scores
    order = np.argsort(s, kind="stable")
    s_sorted = s[order]
    start = np.searchsorted(s_sorted, candidates, side="left")

    def suffix(mask: np.ndarray) -> np.ndarray:
        tail = np.concatenate([np.cumsum(mask[order][::-1])[::-1], [0]])
        return tail[start]

    answered, correct_n, false_n = suffix(a), suffix(a & c), suffix(~a)
    n_false = int((~a).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        prec_ok = (answered == 0) | (correct_n >= precision * answered - 1e-9)
    false_ok = (false_n <= max_false * n_false + 1e-9) if n_false else np.ones(len(candidates), dtype=bool)

    def lowest(ok: np.ndarray) -> float:
        hits = np.flatnonzero(ok & (answered > 0))
        return float(candidates[hits[0]]) if len(hits) else never

    threshold = lowest(prec_ok & false_ok)
    return Calibration(
        chosen=operating_point(s, c, a, threshold),
        precision_threshold=lowest(prec_ok),
        false_threshold=lowest(false_ok) if n_false else (float(candidates[0]) if len(s) else 0.0),
        feasible=threshold != never,
        target_precision=precision,
        max_false=max_false,
    )


def _arrays(scores, correct, answerable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    a = np.asarray(answerable, dtype=bool).reshape(-1)
    c = np.asarray(correct, dtype=bool).reshape(-1) & a
    if not len(s) == len(a) == len(c):
        raise ValueError("scores, correct and answerable need one entry per question")
    return s, c, a
