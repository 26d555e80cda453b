import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine

import dataaudit
from dataaudit.checks.duplicates import merge_groups
from dataaudit.neighbors import build_neighbor_graph, near_duplicate_threshold


def plant_near(X, y, n_pairs, seed=0, conflict=True):
    rng = np.random.default_rng(seed)
    src = rng.choice(len(X), n_pairs, replace=False)
    jitter = rng.normal(0, 1e-3, size=(n_pairs, X.shape[1])) * (X.std(0) + 1e-9)
    k = int(y.max()) + 1
    new_y = (y[src] + 1) % k if conflict else y[src]
    return np.r_[X, X[src] + jitter], np.r_[y, new_y], src


@pytest.mark.parametrize("loader", [load_digits, load_breast_cancer, load_wine])
def test_planted_conflicting_near_duplicates(loader):
    X, y = loader(return_X_y=True)
    n = len(y)
    Xa, ya, src = plant_near(X, y, 15)
    report = dataaudit.scan(Xa, ya, checks="duplicates")
    s = report.samples
    truth = np.zeros(len(ya), bool)
    truth[src] = True
    truth[n:] = True
    flagged = s["is_conflicting_duplicate"].to_numpy()
    assert (flagged & truth).sum() == truth.sum()
    assert flagged.sum() <= truth.sum() + 2
    g = s["duplicate_group"].to_numpy()
    assert (g[src] == g[n:]).all() and (g[src] >= 0).all()
    assert not s["is_exact_duplicate"][n:].any()


@pytest.mark.parametrize("loader", [load_iris, load_wine, load_breast_cancer])
def test_low_dimensional_real_data_has_few_false_duplicates(loader):
    X, y = loader(return_X_y=True)
    report = dataaudit.scan(X, y, checks="duplicates")
    near_only = report.samples["is_near_duplicate"] & ~report.samples["is_exact_duplicate"]
    assert near_only.sum() <= 2


def test_groups_are_transitive_and_include_exact():
    assert merge_groups(np.array([-1, 0, -1, 0, -1]), np.array([0, 2]), np.array([2, 3])).tolist() == [0, 0, 0, 0, -1]


@pytest.mark.parametrize("method, width", [("ivf", 16), ("ivf-pq", 16), ("ivf-pq", 15)])
def test_approximate_paths_match_exact_on_duplicates(method, width):
    # ivf-pq (above 200k rows by default) stores quantised codes and re-ranks exactly; an odd
    # width is padded with zero columns, which must not move a distance.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, width)).astype(np.float32)
    X[2900:] = X[:100] + 1e-4
    exact = build_neighbor_graph(X, 5, method="exact")
    approx = build_neighbor_graph(X, 5, method=method, random_state=0)
    assert approx.method == method and 0.3 < approx.recall <= 1
    assert 1.0 <= approx.distance_ratio < 1.2
    assert approx.info()["distance_ratio"] == approx.distance_ratio
    assert (approx.indices[2900:, 0] == np.arange(100)).all()
    assert (exact.indices[2900:, 0] == np.arange(100)).all()
    same = approx.indices == exact.indices
    np.testing.assert_allclose(approx.distances[same], exact.distances[same], rtol=1e-4, atol=1e-5)
    again = build_neighbor_graph(X, 5, method=method, random_state=0)
    np.testing.assert_array_equal(approx.indices, again.indices)
    assert near_duplicate_threshold(approx) > 1e-3
    dist, idx = approx.query(X[:3] + 1e-4, k=1)
    assert idx[:, 0].tolist() in ([0, 1, 2], [2900, 2901, 2902])
    assert (dist[:, 0] < 1e-2).all()


def test_threshold_option_overrides():
    X, y = load_wine(return_X_y=True)
    loose = dataaudit.scan(X, y, checks="duplicates", options={"duplicates": {"threshold": 1e9}})
    assert loose.samples["is_near_duplicate"].all()


def test_near_duplicates_closer_than_float32_rounding_are_found():
    # Copies a hair apart (1e-4 on features of magnitude ~10): faiss's float32 distance comes
    # out as exactly 0 for many of them; they are near duplicates all the same.
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 3, size=(32, 64))
    X = (centers[rng.integers(0, 32, 3000)] + rng.normal(size=(3000, 64))).astype(np.float32)
    src = rng.choice(1500, 30, replace=False)
    dst = 1500 + rng.choice(1500, 30, replace=False)
    X[dst] = X[src] + rng.normal(0, 1e-4, size=(30, 64)).astype(np.float32)
    y = rng.integers(0, 2, 3000)
    s = dataaudit.scan(X, y, checks="duplicates").samples
    group = s["duplicate_group"].to_numpy()
    assert (group[src] >= 0).all() and (group[src] == group[dst]).all()
    assert s["is_near_duplicate"].to_numpy()[dst].all()
    assert not s["is_exact_duplicate"].to_numpy()[dst].any()
