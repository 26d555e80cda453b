import numpy as np
import pytest

import dataaudit
from dataaudit.checks.duplicates import accuracy_ceiling
from dataaudit.groups import group_label_stats
from dataaudit.rowhash import exact_groups, row_hashes


def test_exact_groups_planted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5000, 16)).astype(np.float32)
    src = rng.choice(2500, size=50, replace=False)
    dst = 2500 + rng.choice(2500, size=50, replace=False)
    X[dst] = X[src]
    g = exact_groups(X)
    assert (g >= 0).sum() == 100
    assert np.all(g[src] == g[dst])
    assert len(np.unique(g[g >= 0])) == 50


def test_signed_zero_and_nan_rows():
    X = np.array([[0.0, np.nan, 1.0], [-0.0, np.nan, 1.0], [0.0, 0.0, 1.0], [np.nan, np.nan, np.nan], [np.nan] * 3])
    g = exact_groups(X)
    assert g[0] == g[1] >= 0      # -0.0 == 0.0, NaN in the same place
    assert g[2] == -1             # NaN is not 0
    assert g[3] == g[4] >= 0 and g[3] != g[0]


def test_hash_collision_never_merges_rows(monkeypatch):
    import dataaudit.rowhash as rh

    monkeypatch.setattr(rh, "row_hashes", lambda X: np.zeros(len(X), dtype=np.uint64))
    X = np.array([[1, 2], [3, 4], [1, 2], [5, 6]])
    assert rh.exact_groups(X).tolist() == [0, -1, 0, -1]


def test_hashes_differ_for_dtype_content():
    X = np.array([[1, 0], [0, 1]], dtype=np.int64)
    h = row_hashes(X)
    assert h[0] != h[1]


def test_group_stats_and_ceiling():
    group = np.array([0, 0, 0, 1, 1, -1, 2, 2])
    labels = np.array([0, 0, 1, 2, 2, 1, 0, 1])
    stats = group_label_stats(group, labels, 3)
    assert stats["size"].tolist() == [3, 2, 2]
    assert stats["n_labels"].tolist() == [2, 1, 2]
    assert stats["majority_label"].tolist() == [0, 2, 0]
    assert accuracy_ceiling(group, labels, 3) == pytest.approx(1 - 2 / 8)


def test_scan_reports_conflicting_exact_duplicates(imbalanced_with_conflicts):
    X, y = imbalanced_with_conflicts
    report = dataaudit.scan(X, y, checks="duplicates")
    s = report.samples
    planted = np.r_[np.arange(10), np.arange(1000, 1010)]
    assert set(np.flatnonzero(s["is_exact_duplicate"])) == set(planted)
    conflicting = set(np.flatnonzero(s["is_conflicting_duplicate"]))
    assert conflicting == set(np.r_[np.arange(5, 10), np.arange(1005, 1010)])
    assert (s["duplicate_group"].to_numpy()[:10] == s["duplicate_group"].to_numpy()[1000:1010]).all()
    assert report.summary["duplicates"]["n_conflicting_groups"] == 5
    assert report.summary["duplicates"]["accuracy_ceiling"] == pytest.approx(1 - 5 / 2000)


def test_exact_duplicates_of_images_are_flattened():
    rng = np.random.default_rng(3)
    X = rng.integers(0, 255, size=(40, 6, 6, 3)).astype(np.uint8)
    X[39] = X[0]
    y = np.r_[np.zeros(20, int), np.ones(20, int)]
    report = dataaudit.scan(X, y, checks="duplicates")
    assert report.summary["dataset"]["n_features"] == 108
    assert report.samples["is_conflicting_duplicate"].to_numpy()[[0, 39]].all()
