"""The in-process cache of theme centroids, per area: a numpy matrix of unit centroids (one row per live
theme), so finding the nearest theme is one matrix-vector product. Kept fresh by the store's KV watch and by
the store's own writes. Not thread-safe: used from the event loop only."""

from __future__ import annotations

import numpy as np

from schemas.theme import Theme
from services.themes.clustering import decode_vector, unit


class AreaCentroids:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.ids: list[str] = []
        self.rows: dict[str, int] = {}
        self._matrix = np.zeros((16, dim), dtype=np.float32)

    @property
    def matrix(self) -> np.ndarray:
        return self._matrix[: len(self.ids)]

    def put(self, theme_id: str, centroid: np.ndarray) -> None:
        row = self.rows.get(theme_id)
        if row is None:
            row = len(self.ids)
            if row == self._matrix.shape[0]:
                grown = np.zeros((row * 2, self.dim), dtype=np.float32)
                grown[:row] = self._matrix
                self._matrix = grown
            self.ids.append(theme_id)
            self.rows[theme_id] = row
        self._matrix[row] = unit(centroid)

    def remove(self, theme_id: str) -> None:
        row = self.rows.pop(theme_id, None)
        if row is None:
            return
        last = len(self.ids) - 1
        if row != last:  # move the last row into the hole
            moved = self.ids[last]
            self._matrix[row] = self._matrix[last]
            self.ids[row] = moved
            self.rows[moved] = row
        self.ids.pop()

    def __len__(self) -> int:
        return len(self.ids)


class CentroidCache:
    """Centroids of the live themes of one encoder, by area (themes of another encoder are ignored)."""

    def __init__(self, encoder: str, dim: int) -> None:
        self.encoder = encoder
        self.dim = dim
        self.areas: dict[str, AreaCentroids] = {}
        self.area_of: dict[str, str] = {}
        self.seen: set[str] = set()  # every theme id applied, live or not, of any encoder

    def mark_seen(self, theme_id: str) -> None:
        self.seen.add(theme_id)

    def area(self, area: str) -> AreaCentroids:
        if area not in self.areas:
            self.areas[area] = AreaCentroids(self.dim)
        return self.areas[area]

    def apply(self, theme: Theme) -> None:
        self.seen.add(theme.id)
        if theme.encoder != self.encoder or theme.dim != self.dim:
            return
        if theme.merged_into is not None:
            self.discard(theme.id)
            return
        self.area(theme.area).put(theme.id, decode_vector(theme.centroid))
        self.area_of[theme.id] = theme.area

    def discard(self, theme_id: str) -> None:
        area = self.area_of.pop(theme_id, None)
        if area is not None:
            self.areas[area].remove(theme_id)

    def __contains__(self, theme_id: str) -> bool:
        return theme_id in self.area_of
