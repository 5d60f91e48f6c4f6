"""Theme decisions, pure: nearest/join/new, distinct-account ARR, redelivery, merge, labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from services.themes.cache import CentroidCache
from services.themes.clustering import (
    MAX_SAMPLES, Member, absorb, decode_vector, drift_check_due, encode_vector, join, nearest, new_theme,
    should_merge, survivor_of, unit,
)
from services.themes.labels import label_of

pytestmark = pytest.mark.unit
NOW = datetime(2026, 1, 5, tzinfo=UTC)


def vec(*xs: float) -> np.ndarray:
    return unit(np.array(xs, dtype=np.float32))


def test_vector_round_trip_and_nearest() -> None:
    v = vec(0.3, 0.4, 0.5)
    assert np.allclose(decode_vector(encode_vector(v)), v)
    matrix = np.stack([vec(1, 0, 0), vec(0, 1, 0)])
    best = nearest(matrix, vec(0.1, 1, 0))
    assert best.index == 1 and best.similarity > 0.99
    assert nearest(np.zeros((0, 3), dtype=np.float32), v).index == -1


def test_new_theme_then_join_counts_each_account_once() -> None:
    theme = new_theme("billing", vec(1, 0, 0), Member("i1", "CSV export is broken", "acme", 100_000), "m", NOW)
    assert (theme.items, theme.arr, list(theme.accounts)) == (1, 100_000, ["acme"])
    theme = join(theme, vec(0.9, 0.1, 0), Member("i2", "CSV export fails again", "acme", 100_000), NOW)
    theme = join(theme, vec(0.9, 0, 0.1), Member("i3", "export to csv times out", "globex", 50_000), NOW)
    theme = join(theme, vec(1, 0, 0.1), Member("i4", "csv export empty", None, None), NOW)
    assert theme.items == 4
    assert theme.accounts == {"acme": 100_000, "globex": 50_000}
    assert theme.arr == 150_000  # acme counted once although it sent two items
    assert "csv" in theme.label and "export" in theme.label


def test_redelivered_item_is_not_counted_twice() -> None:
    theme = new_theme("a", vec(1, 0), Member("i1", "x y", "acme", 10), "m", NOW)
    once = join(theme, vec(1, 0.1), Member("i2", "x z", "b", 5), NOW)
    again = join(once, vec(1, 0.1), Member("i2", "x z", "b", 5), NOW)
    assert again is once and again.items == 2


def test_centroid_is_the_running_mean_and_samples_are_bounded() -> None:
    theme = new_theme("a", vec(1, 0), Member("i0", "alpha", None, None), "m", NOW)
    for n in range(1, 20):
        theme = join(theme, vec(0, 1), Member(f"i{n}", f"beta {n}", None, None), NOW)
    centroid = decode_vector(theme.centroid)
    assert np.allclose(centroid, [1 / 20, 19 / 20], atol=1e-5)
    assert len(theme.samples) == MAX_SAMPLES
    assert all(s.text != "alpha" for s in theme.samples)  # the least central text was dropped


def test_rename_sticks_through_joins() -> None:
    theme = new_theme("a", vec(1, 0), Member("i1", "dark mode please", None, None), "m", NOW)
    theme = theme.model_copy(update={"label": "Dark mode", "label_fixed": True})
    theme = join(theme, vec(1, 0.1), Member("i2", "night theme wanted", None, None), NOW)
    assert theme.label == "Dark mode"


def test_merge_keeps_the_bigger_and_is_idempotent() -> None:
    big = new_theme("a", vec(1, 0), Member("b1", "sso login", "acme", 100), "m", NOW)
    big = join(big, vec(1, 0.05), Member("b2", "sso login fails", "globex", 50), NOW)
    small = new_theme("a", vec(1, 0.1), Member("s1", "saml sso", "acme", 100), "m", NOW + timedelta(seconds=1))
    small = join(small, vec(1, 0.2), Member("s2", "saml sso broken", "initech", 7), NOW)
    small = join(small, vec(1, 0.2), Member("s3", "saml again", "initech", 7), NOW)
    survivor, merged = survivor_of(big, small)
    assert (survivor.id, merged.id) == (small.id, big.id)  # 3 items beat 2
    result = absorb(survivor, merged, NOW)
    assert result.items == 5 and result.arr == 157 and set(result.absorbed) == {big.id}
    assert absorb(result, merged, NOW) is result  # a repeated merge changes nothing
    assert should_merge(decode_vector(big.centroid), decode_vector(small.centroid), 0.95)
    assert not should_merge(vec(1, 0), vec(0, 1))


def test_drift_check_schedule() -> None:
    assert all(drift_check_due(n) for n in range(1, 9))
    assert drift_check_due(16) and not drift_check_due(17)


def test_cache_keeps_one_row_per_live_theme_of_its_encoder() -> None:
    cache = CentroidCache("m", 2)
    a = new_theme("x", vec(1, 0), Member("i1", "one", None, None), "m", NOW)
    b = new_theme("x", vec(0, 1), Member("i2", "two", None, None), "m", NOW)
    other = new_theme("x", vec(0, 1), Member("i3", "three", None, None), "bm25", NOW)
    for t in (a, b, other, a):
        cache.apply(t)
    assert cache.area("x").ids == [a.id, b.id]
    cache.apply(a.model_copy(update={"merged_into": b.id}))
    assert cache.area("x").ids == [b.id] and np.allclose(cache.area("x").matrix, [[0, 1]])
    assert a.id not in cache and b.id in cache


def test_labels_prefer_shared_bigrams_and_skip_stop_words() -> None:
    assert label_of(["Dark mode please", "We want dark mode", "dark mode for the app"]).startswith("dark mode")
    assert label_of(["I was charged twice", "Charged twice for one order"]).startswith("charged twice")
    assert label_of(["the and of"]) == ""
    assert label_of([]) == ""
    assert len(label_of(["export reports csv pdf excel xml"]).split()) <= 3


def test_labels_group_word_forms_and_do_not_repeat_parts() -> None:
    label = label_of(["Can we schedule dashboards by email?", "Scheduled dashboard emails please",
                      "email a scheduled dashboard weekly"])
    assert label.split()[:2] in (["scheduled", "dashboard"], ["dashboard", "email"], ["scheduled", "dashboards"])
    assert len(set(label.split())) == len(label.split())
    words = label_of(["how to verify my top-up", "verify top-up fails", "top up verification"]).split()
    assert "top-up" in words and "top" not in words


def test_choose_and_drift_read_only_the_area_cache() -> None:
    from services.themes.store import ThemeStore

    store = ThemeStore(kv=None, encoder="m", dim=2)  # type: ignore[arg-type]
    a = new_theme("billing", vec(1, 0), Member("i1", "refund", None, None), "m", NOW)
    b = new_theme("billing", vec(0.9, 0.45), Member("i2", "refund late", None, None), "m", NOW)
    c = new_theme("mobile", vec(0, 1), Member("i3", "crash", None, None), "m", NOW)
    for t in (a, b, c):
        store.cache.apply(t)
    assert store.choose("billing", vec(1, 0.05)) == a.id
    assert store.choose("billing", vec(0, 1)) is None  # cos to b is 0.45 < 0.62: a new theme (c is another area)
    assert store.choose("mobile", vec(0.1, 1)) == c.id
    assert store.choose("unknown", vec(1, 0)) is None
    assert store.drifted_into(a, vec(0.9, 0.45)) == b.id  # b's centroid is within 0.86 of the moved centroid
    assert store.drifted_into(a, vec(1, -0.3)) is None
