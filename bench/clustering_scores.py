"""Clustering scores from their definitions (numpy only; scikit-learn is not a dependency):

- V-measure (Rosenberg & Hirschberg 2007): the harmonic mean of homogeneity h = 1 - H(C|K)/H(C) and
  completeness c = 1 - H(K|C)/H(K), C = the true classes, K = the clusters (h = 1 when H(C) = 0, c = 1 when
  H(K) = 0).
- Adjusted Rand index (Hubert & Arabie 1985): (index - expected) / (max - expected) over pair counts of the
  contingency table: index = sum C(n_ij, 2), expected = sum C(a_i, 2) * sum C(b_j, 2) / C(n, 2),
  max = (sum C(a_i, 2) + sum C(b_j, 2)) / 2 (1.0 when max == expected, i.e. both partitions are trivial).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np


def contingency(classes: Sequence[Hashable], clusters: Sequence[Hashable]) -> np.ndarray:
    if len(classes) != len(clusters):
        raise ValueError("classes and clusters must have the same length")
    ci = {c: i for i, c in enumerate(dict.fromkeys(classes))}
    ki = {k: i for i, k in enumerate(dict.fromkeys(clusters))}
    table = np.zeros((len(ci), len(ki)), dtype=np.int64)
    for c, k in zip(classes, clusters):
        table[ci[c], ki[k]] += 1
    return table


def _entropy(counts: np.ndarray) -> float:
    n = counts.sum()
    p = counts[counts > 0] / n
    return float(-(p * np.log(p)).sum())


def _conditional_entropy(table: np.ndarray) -> float:
    """H(rows | columns) of a contingency table."""
    n = table.sum()
    h = 0.0
    for j in range(table.shape[1]):
        col = table[:, j]
        nj = col.sum()
        nz = col[col > 0]
        h -= float((nz / n * np.log(nz / nj)).sum())
    return h


def v_measure(classes: Sequence[Hashable], clusters: Sequence[Hashable]) -> tuple[float, float, float]:
    """(homogeneity, completeness, V-measure)."""
    table = contingency(classes, clusters)
    h_c, h_k = _entropy(table.sum(axis=1)), _entropy(table.sum(axis=0))
    homogeneity = 1.0 if h_c == 0 else 1.0 - _conditional_entropy(table) / h_c
    completeness = 1.0 if h_k == 0 else 1.0 - _conditional_entropy(table.T) / h_k
    v = 0.0 if homogeneity + completeness == 0 else 2 * homogeneity * completeness / (homogeneity + completeness)
    return homogeneity, completeness, v


def _pairs(x: np.ndarray) -> float:
    return float((x * (x - 1) / 2).sum())


def adjusted_rand_index(classes: Sequence[Hashable], clusters: Sequence[Hashable]) -> float:
    table = contingency(classes, clusters)
    n = int(table.sum())
    index = _pairs(table)
    a, b = _pairs(table.sum(axis=1)), _pairs(table.sum(axis=0))
    total = n * (n - 1) / 2
    expected = a * b / total if total else 0.0
    maximum = (a + b) / 2
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)
