import numpy as np
import pytest
from sklearn.datasets import load_wine

import dataaudit
from dataaudit.checks.high_loss import LOSS_FLOOR, high_loss_threshold, skewness
from dataaudit.checks.label_issues import confused_pairs
from dataaudit.checks.outlier_views import knn_outlier_scores

CONTRACT = ["label", "predicted_label", "label_quality", "is_label_issue", "suggested_label", "loss",
            "is_high_loss", "outlier_score", "is_outlier", "duplicate_group", "is_exact_duplicate",
            "is_conflicting_duplicate", "sample_weight"]


@pytest.fixture(scope="module")
def noisy_wine():
    X, y = load_wine(return_X_y=True)
    names = np.array(["barolo", "grignolino", "barbera"])
    rng = np.random.default_rng(1)
    flip = np.zeros(len(y), bool)
    flip[rng.choice(len(y), 15, replace=False)] = True
    noisy = np.where(flip, (y + 1) % 3, y)
    far = X.mean(0) + 10 * X.std(0) * rng.choice([-1, 1], size=(4, X.shape[1]))
    X_all = np.r_[X, far]
    y_all = names[np.r_[noisy, [0, 1, 2, 0]]]
    report = dataaudit.scan(X_all, y_all)
    return report, flip, y, names


def test_contract_columns_present(noisy_wine):
    report = noisy_wine[0]
    assert all(c in report.samples.columns for c in CONTRACT)


def test_planted_label_noise_is_found(noisy_wine):
    report, flip, y, names = noisy_wine
    s = report.samples.iloc[: len(flip)]
    flagged = s["is_label_issue"].to_numpy()
    assert (flagged & flip).sum() >= 12           # recall >= 0.8
    assert flagged.sum() <= flip.sum() + 6         # few false alarms
    # The suggested label is the true one for most caught samples.
    caught = flagged & flip
    assert (s["suggested_label"].to_numpy()[caught] == names[y[caught]]).mean() > 0.8
    # Label quality is lower on flipped samples.
    assert s["label_quality"][flip].mean() < s["label_quality"][~flip].mean() - 0.3
    assert report.metrics["label_issues"] == pytest.approx(report.samples["is_label_issue"].mean(), abs=1e-6)
    pairs = report.summary["label_issues"]["confused_pairs"]
    assert pairs and {"given", "suggested", "count"} <= set(pairs[0])


def test_planted_outliers_are_found(noisy_wine):
    report = noisy_wine[0]
    s = report.samples
    assert s["is_outlier"].iloc[-4:].all()
    assert s["is_outlier"].iloc[:-4].sum() <= 2
    assert s["outlier_score"].iloc[-4:].min() > s["outlier_score"].iloc[:-4].max()


def test_high_loss_on_flipped_samples(noisy_wine):
    report, flip, _, _ = noisy_wine
    s = report.samples.iloc[: len(flip)]
    assert s["loss"][flip].median() > s["loss"][~flip].quantile(0.9)
    hl = report.summary["high_loss"]
    assert sum(hl["histogram"]["counts"]) == len(report.samples)
    assert len(hl["histogram"]["edges"]) == len(hl["histogram"]["counts"]) + 1
    assert (s["is_high_loss"] == (s["loss"] > hl["threshold"])).all()


def test_pure_functions():
    loss = np.r_[np.full(95, 0.05), np.full(5, 6.0)]
    assert high_loss_threshold(loss) == pytest.approx(LOSS_FLOOR)
    assert skewness(loss) > 3
    assert confused_pairs(np.array([0, 1, 1]), np.array([1, 0, 0]), np.array([True, True, True]), 2) == [(1, 0, 2), (0, 1, 1)]
    idx = np.array([[1, 2], [0, 2], [0, 1], [0, 1]])
    d = np.array([[1.0, 1], [1, 1], [1, 1], [7, 7]])
    assert knn_outlier_scores(idx, d)[3] == pytest.approx(7)


def test_given_pred_probs_skip_the_probe():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = np.repeat([0, 1], 50)
    pp = np.tile([0.9, 0.1], (100, 1))
    pp[50:] = [0.1, 0.9]
    pp[[3, 60]] = pp[[60, 3]]   # two samples confidently predicted as the other class
    report = dataaudit.scan(X, y, pred_probs=pp, checks="label_issues,high_loss")
    assert report.summary["probe"]["model"] == "given pred_probs"
    assert set(np.flatnonzero(report.samples["is_label_issue"])) == {3, 60}
    assert report.samples["suggested_label"][3] == 1


def _far_rows(rng, n_rows, d):
    return rng.choice([-1.0, 1.0], size=(n_rows, d)) * rng.uniform(8, 12, size=(n_rows, d))


def test_glitch_in_one_continuous_feature_is_an_outlier():
    # A sensor glitch: one value of one continuous feature is absurd. Only that row is flagged.
    rng = np.random.default_rng(4)
    X = rng.normal(size=(3000, 64))
    X[11, 5] = 1e4
    flagged = dataaudit.scan(X, rng.integers(0, 2, len(X)), checks="outliers").samples["is_outlier"].to_numpy()
    assert flagged[11]
    assert flagged.sum() == 1


@pytest.mark.parametrize("broken", ["far", "8-bit noise", "unscaled"])
def test_broken_images_among_digits_are_the_only_outliers(broken):
    # Broken inputs are flagged: rows far out in every pixel, 8-bit noise (0-255) and images
    # that missed their scaling. Real digits whose rare border pixels are lit (30-40 standard
    # deviations out by the std alone) are not.
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(0)
    X, y = load_digits(return_X_y=True)
    bad = {
        "far": X.mean(axis=0) + _far_rows(rng, 10, 64) * X.std(axis=0),
        "8-bit noise": rng.uniform(0, 255, size=(10, 64)),
        "unscaled": X[rng.choice(len(X), 10, replace=False)] * 255 / 16,
    }[broken]
    X = np.vstack([X, bad])
    y = np.r_[y, rng.integers(0, 10, len(bad))]
    flagged = dataaudit.scan(X, y, checks="outliers").samples["is_outlier"].to_numpy()
    assert flagged[-len(bad):].all()
    assert not flagged[: -len(bad)].any()


def test_sparse_feature_is_scaled_by_its_departures():
    from dataaudit.neighbors import standardize_params

    rng = np.random.default_rng(0)
    X = np.zeros((2000, 3))
    X[:, 0] = rng.normal(0, 2, 2000)          # dense: its std
    X[rng.choice(2000, 4, replace=False), 1] = 16.0   # lit in 4 rows of 2000: std ~0.7, departure 16
    X[:, 2] = rng.integers(0, 2, 2000)        # binary, ~half ones: its std ~0.5
    _, scale = standardize_params(X.astype(np.float32))
    assert scale[0] == pytest.approx(X[:, 0].std(), rel=1e-3)
    assert scale[1] == pytest.approx(16.0, rel=0.01)
    assert scale[2] == pytest.approx(X[:, 2].std(), rel=0.05)


def test_sparse_feature_found_whichever_rows_are_lit():
    # Above SPARSE_ROWS the usual value is found on evenly spaced rows; the lit rows must count
    # wherever they are, on those rows or between them.
    from dataaudit.neighbors import SPARSE_ROWS, standardize_params

    n = 3 * SPARSE_ROWS
    for offset in (0, 1):
        X = np.zeros((n, 1), np.float32)
        X[offset + 3 * np.arange(5), 0] = 16.0
        _, scale = standardize_params(X)
        assert scale[0] == pytest.approx(16.0, rel=0.01), offset
