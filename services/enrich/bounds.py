"""Exact (Clopper–Pearson) binomial confidence bounds, one-sided, numpy only (pure functions).

A calibrated threshold is only as good as the labelled set behind it: "2 of 30 unanswerable questions got
an answer" is a 6.7% point estimate, but the share on new questions may well be 20%. The bounds here say
how high (or low) the true share can plausibly be, at a confidence level c (0.95 by default):

- upper bound U(k, n): the largest share p for which seeing <= k events in n trials still has probability
  >= 1 - c. Check "U(k, n) <= F" without solving for U: it holds exactly when P(X <= k | n, F) <= 1 - c
  (the binomial tail is monotone in p), which is what the threshold search uses;
- lower bound L(k, n): the smallest p for which seeing >= k events is still that plausible;
  "L(k, n) >= P" holds exactly when P(X >= k | n, P) <= 1 - c.

Both are Clopper–Pearson intervals (conservative: coverage at least c for every n and p).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=8)
def _log_factorials(n: int) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1, dtype=np.float64)))])


def binomial_pmf(n: int, p: float) -> np.ndarray:
    """P(X = i) for i = 0..n, X ~ Binomial(n, p)."""
    if p <= 0.0 or p >= 1.0:
        pmf = np.zeros(n + 1)
        pmf[0 if p <= 0.0 else n] = 1.0
        return pmf
    lf = _log_factorials(1 << max(6, math.ceil(math.log2(n + 1))))  # few sizes: the cache stays small
    i = np.arange(n + 1)
    log = lf[n] - lf[i] - lf[n - i] + i * math.log(p) + (n - i) * math.log1p(-p)
    return np.exp(log)


def cdf_at_most(k: int, n: int, p: float) -> float:
    """P(X <= k)."""
    if k < 0:
        return 0.0
    return float(min(1.0, binomial_pmf(n, p)[: min(k, n) + 1].sum()))


def upper_bound(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper–Pearson upper bound of the share, from k events in n trials (1.0 when n == 0)."""
    if n == 0 or k >= n:
        return 1.0
    alpha = 1.0 - confidence
    lo, hi = k / n, 1.0
    for _ in range(60):  # bisection: P(X <= k | p) falls as p grows
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf_at_most(k, n, mid) > alpha else (lo, mid)
    return hi


def lower_bound(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided Clopper–Pearson lower bound of the share (0.0 when n == 0 or k == 0)."""
    if n == 0 or k <= 0:
        return 0.0
    return 1.0 - upper_bound(n - k, n, confidence)


def upper_at_most(events: np.ndarray, n: int, share: float, confidence: float) -> np.ndarray:
    """Element-wise "upper_bound(events, n) <= share" for many event counts over the same n."""
    events = np.asarray(events, dtype=np.int64)
    if n == 0:
        return np.zeros(events.shape, dtype=bool)
    cdf = np.cumsum(binomial_pmf(n, share))
    return (cdf[np.clip(events, 0, n)] <= 1.0 - confidence + 1e-12) & (events < n)


def lower_at_least(events: np.ndarray, trials: np.ndarray, share: float, confidence: float) -> np.ndarray:
    """Element-wise "lower_bound(events, trials) >= share" (trials may differ per element)."""
    events = np.asarray(events, dtype=np.int64)
    trials = np.asarray(trials, dtype=np.int64)
    out = np.zeros(events.shape, dtype=bool)
    if share <= 0.0:
        return trials >= 0
    tails: dict[int, np.ndarray] = {}
    for idx in np.ndindex(events.shape):
        n, k = int(trials[idx]), int(events[idx])
        if n == 0 or k == 0:
            continue
        if n not in tails:  # P(X >= k) for every k, once per n
            tails[n] = np.cumsum(binomial_pmf(n, share)[::-1])[::-1]
        out[idx] = tails[n][k] <= 1.0 - confidence + 1e-12
    return out


def smallest_sample(share: float, confidence: float, observed: float = 0.0, *, upper: bool = True) -> int | None:
    """The fewest trials for which a sample with the `observed` rate would prove the bound (None: never).

    upper=True: for "false share <= share" (observed events rate below it); upper=False: for
    "precision >= share" (observed success rate above it).
    """
    if (upper and observed >= share) or (not upper and observed <= share):
        return None

    def proves(n: int) -> bool:
        if upper:
            return bool(upper_at_most(np.array([math.floor(observed * n)]), n, share, confidence)[0])
        return bool(lower_at_least(np.array([math.ceil(observed * n)]), np.array([n]), share, confidence)[0])

    n = 1
    while not proves(n):
        n *= 2
        if n > 1 << 22:
            return None
    lo = n // 2
    while lo + 1 < n:  # the proof is monotone in n at a fixed observed rate, up to rounding: good enough
        mid = (lo + n) // 2
        lo, n = (lo, mid) if proves(mid) else (mid, n)
    return n
