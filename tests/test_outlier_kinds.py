"""The outlier kinds real data has, planted in bundled datasets: each is found, clean rows are not.

(Rows far out in every feature, 8-bit noise and unscaled images among digits are in
test_noise_and_outliers.py.)
"""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, load_wine

import dataaudit
from dataaudit.neighbors import standardize_params


def _outliers(X, seed=0):
    X = np.asarray(X, dtype=np.float64)
    report = dataaudit.scan(X, np.arange(len(X)) % 2, checks="outliers", random_state=seed)
    return report.samples["is_outlier"].to_numpy(), report


def _planted(X, rows):
    """X with ``rows`` appended, and the mask of the appended rows."""
    rows = np.atleast_2d(rows)
    return np.vstack([X, rows]), np.r_[np.zeros(len(X), bool), np.ones(len(rows), bool)]


def test_one_glitched_value_is_found_and_named():
    # A real wine with one feature 50x its scale: a sensor glitch or a typo.
    X = load_wine().data
    _, scale = standardize_params(X.astype(np.float32))
    rows = X[[5, 60, 130]].copy()
    cols = [0, 6, 12]
    rows[[0, 1, 2], cols] += 50 * scale[cols] * np.array([1, -1, 1])
    X_all, planted = _planted(X, rows)
    flagged, report = _outliers(X_all)
    assert flagged[planted].all()
    assert not flagged[~planted].any()
    worst = {w["index"]: w for w in report.summary["outliers"]["worst"]}
    assert [worst[i]["reason"] for i in np.flatnonzero(planted)] == ["one_extreme_value"] * 3
    assert [worst[i]["feature"] for i in np.flatnonzero(planted)] == cols
    assert "3 rows with one absurd value" in report.findings[0]["message"]


def test_unscaled_rows_are_found():
    # Real rows in other units (x100).
    X = load_wine().data
    X_all, planted = _planted(X, X[[3, 70, 150]] * 100)
    flagged, report = _outliers(X_all)
    assert flagged[planted].all()
    assert not flagged[~planted].any()
    assert report.summary["outliers"]["by_reason"]["many_extreme_values"] == 3


@pytest.mark.parametrize("data", ["digits", "zero-mean breast_cancer"])
def test_all_zero_rows_are_found(data):
    # A blank image among digits, and a row of zeros in standardised data (where 0 is every
    # feature's mean, so the row is close to everything by distance).
    X = load_digits().data if data == "digits" else load_breast_cancer().data
    if data != "digits":
        X = (X - X.mean(axis=0)) / X.std(axis=0)
    X_all, planted = _planted(X, np.zeros((2, X.shape[1])))
    flagged, report = _outliers(X_all)
    assert flagged[planted].all()
    assert report.summary["outliers"]["by_reason"]["constant_row"] == 2
    assert "2 all-zero rows" in report.findings[0]["message"]
    assert flagged[~planted].mean() <= 0.01


def test_constant_values_that_chance_explains_are_not_flagged():
    # Rows of zeros in data where most values are zero are expected, not broken.
    rng = np.random.default_rng(0)
    X = rng.poisson(0.05, size=(2000, 4)).astype(float)
    flagged, _ = _outliers(X)
    assert not flagged[(X == 0).all(axis=1)].any()


def test_rows_drawn_from_each_features_marginal_are_found():
    # Every value a real one of its column, the combination not: radius, perimeter and area of
    # different tumours in one row.
    X = load_breast_cancer().data
    rng = np.random.default_rng(0)
    rows = X[rng.integers(0, len(X), size=(8, X.shape[1])), np.arange(X.shape[1])]
    X_all, planted = _planted(X, rows)
    flagged, report = _outliers(X_all)
    assert flagged[planted].sum() >= 7
    assert flagged[~planted].mean() <= 0.01
    assert report.summary["outliers"]["by_view"]["unusual_combination"] >= 7


def test_low_dimensional_data_is_not_flagged_wholesale():
    # One informative feature and nine linear combinations of it: distance ratios are density
    # ratios to the power 1, so the kNN floors rise (today's rule flagged 2-5% of such rows).
    from sklearn.datasets import make_classification

    for seed in range(3):
        X, _ = make_classification(n_samples=1000, n_features=10, n_informative=1, n_redundant=9,
                                   n_clusters_per_class=1, random_state=seed)
        flagged, report = _outliers(X)
        assert flagged.mean() <= 0.005, seed
        assert report.summary["outliers"]["intrinsic_dimension"] < 2


def test_heavy_tailed_features_are_not_flagged_wholesale_but_a_glitch_is():
    # Log-normal and Student-t(3) features: their long tails are the data, not outliers. A
    # glitch 50x a feature's scale is still found.
    rng = np.random.default_rng(0)
    n = 5000
    latent = rng.normal(size=(n, 2))
    cols = [np.exp(s * (0.6 * latent[:, j % 2] + 0.8 * rng.normal(size=n))) for j, s in enumerate([1, 1, 1.5, 1.5])]
    cols += [rng.standard_t(3, n) for _ in range(4)]
    cols += [latent[:, j % 2] + 0.5 * rng.normal(size=n) for j in range(4)]
    X = np.column_stack(cols) * np.logspace(-3, 4, 12)
    flagged, _ = _outliers(X)
    assert flagged.mean() <= 0.002
    glitch = X[100].copy()
    glitch[9] += 50 * X[:, 9].std()
    X_all, planted = _planted(X, glitch)
    flagged, _ = _outliers(X_all)
    assert flagged[planted].all() and flagged[~planted].mean() <= 0.002


def test_small_mixed_scale_table():
    # 340 x 4: an income, a proportion, an age and a heavy-tailed ratio; two each of a far row,
    # a glitch, an unscaled row and an all-zero row.
    rng = np.random.default_rng(12)
    z = rng.normal(size=340)
    income = 3e4 * np.exp(0.8 * rng.normal(size=340) + 0.4 * z)
    proportion = 1e-3 / (1 + np.exp(-(z + rng.normal(size=340))))
    age = 40 + 12 * (0.6 * z + 0.8 * rng.normal(size=340))
    X = np.column_stack([income, proportion, age, 100 * rng.standard_t(3, 340)])
    far = X.mean(axis=0) + rng.choice([-1, 1], size=(2, 4)) * 10 * X.std(axis=0)
    glitch = X[[10, 20]].copy()
    glitch[[0, 1], [0, 2]] += 50 * X[:, [0, 2]].std(axis=0)
    X_all, planted = _planted(X, np.vstack([far, glitch, X[[30, 40]] * 100, np.zeros((2, 4))]))
    flagged, _ = _outliers(X_all)
    assert flagged[planted].all()
    assert not flagged[~planted].any()


def test_the_same_seed_gives_the_same_scores():
    X = load_digits().data
    a = _outliers(X, seed=3)[1].samples["outlier_score"].to_numpy()
    b = _outliers(X, seed=3)[1].samples["outlier_score"].to_numpy()
    assert np.array_equal(a, b)
