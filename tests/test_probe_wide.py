"""The probe on wide (image-shaped) inputs and the small ensemble's member gate."""

import numpy as np
from sklearn.datasets import load_digits

import dataaudit
from dataaudit import probe


def _images(n, seed=0, rate=0.1):
    """Digits upsampled to 24 x 24 (576 features, above the width cut-off), with planted flips."""
    from scipy.ndimage import zoom

    d = load_digits()
    big = np.stack([zoom(im, 3, order=1) for im in d.images])
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(big), n, replace=n > len(big))
    X = np.clip(big[idx] / 16 * 255 + rng.normal(0, 8, (n, 24, 24)), 0, 255).astype(np.uint8)
    y = d.target[idx].astype(np.int64)
    flipped = rng.random(n) < rate
    y_noisy = y.copy()
    y_noisy[flipped] = (y[flipped] + rng.integers(1, 10, flipped.sum())) % 10
    return X, y_noisy, flipped


def _has_pca(estimator) -> bool:
    from sklearn.decomposition import PCA

    steps = getattr(estimator, "steps", [])
    return any(isinstance(step, PCA) for _, step in steps)


def test_wide_inputs_leave_boosting_out_of_the_large_ensemble():
    labels = np.arange(10_000) % 10
    wide = probe.make_plan("auto", np.bincount(labels), (28, 28))
    narrow = probe.make_plan("auto", np.bincount(labels), (64,))
    assert wide.members == ("knn_pca128",) + ("mlp_64x2",) * 3 and wide.gate
    assert narrow.members == ("hgb_50", "mlp_64x2", "mlp_64x2", "mlp_64x2")
    assert not any(_has_pca(e) for e in narrow.estimators)


def test_boosting_gets_a_pca_step_above_the_width_cutoff():
    labels = np.arange(300_000) % 10
    wide = probe.make_plan("auto", np.bincount(labels), (probe.WIDE_FEATURES + 1,))
    narrow = probe.make_plan("auto", np.bincount(labels), (probe.WIDE_FEATURES,))
    assert wide.members == ("hgb",) and _has_pca(wide.estimators[0])
    assert not _has_pca(narrow.estimators[0])
    by_name = probe.make_plan("hgb", np.bincount(labels[:2_000]), (32, 32, 3))
    assert _has_pca(by_name.estimators[0])


def test_planted_flips_in_wide_images_are_found():
    X, y, flipped = _images(6_000)
    report = dataaudit.scan(X, y, checks="label_issues", random_state=0)
    assert report.summary["probe"]["model"] == "image ensemble"
    flagged = report.samples["is_label_issue"].to_numpy(bool)
    tp = (flagged & flipped).sum()
    precision, recall = tp / max(flagged.sum(), 1), tp / flipped.sum()
    assert recall > 0.85 and precision > 0.85, (precision, recall)


def test_pca_boosting_on_images_finds_flips_out_of_sample():
    X, y, flipped = _images(1_500, seed=1)
    report = dataaudit.scan(X, y, model="hgb", checks="label_issues", random_state=0)
    flagged = report.samples["is_label_issue"].to_numpy(bool)
    assert (flagged & flipped).sum() / flipped.sum() > 0.7


def test_member_gate_leaves_out_a_clearly_worse_member():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    good = np.eye(2)[labels] * 0.8 + 0.1
    bad = np.full((400, 2), 0.5)
    bad[np.arange(400), 1 - labels] += 0.1 * (rng.random(400) < 0.3)  # wrong on ~30% of rows
    bad[np.arange(400), labels] += 0.1 * (bad[np.arange(400), 1 - labels] == 0.5)
    members = np.stack([good, good * 0.99 + 0.005, bad])
    kept = probe.kept_members(members, np.ones((3, 400), bool), labels)
    assert kept.tolist() == [True, True, False]


def test_small_ensemble_on_a_nonlinear_table_beats_its_equal_mean():
    from sklearn.datasets import make_classification

    X, y = make_classification(600, 30, n_informative=16, n_redundant=8, n_clusters_per_class=2,
                               class_sep=2.0, flip_y=0.0, random_state=0)
    rng = np.random.default_rng(4)
    flipped = rng.random(600) < 0.1
    y_noisy = np.where(flipped, 1 - y, y)
    res = probe.run_probe(X.astype(np.float32), y_noisy, 2, "ensemble")
    # Logistic regression is clearly worse on clusters at hypercube vertices: it is left out.
    assert "logistic" in res.info.get("members_left_out", [])
    # What a refit leaves out is chosen by the mean of all members (the gate is for the verdict)...
    assert res.refit_probs is not None
    assert not np.allclose(res.refit_probs, res.pred_probs)
    # ...and the gated mean finds the planted flips better than the equal mean of all four.
    from dataaudit.confident import find_issues

    def f1(probs):
        flagged = find_issues(y_noisy, probs)
        tp = (flagged & flipped).sum()
        return 2 * tp / (flagged.sum() + flipped.sum())

    assert f1(res.pred_probs) > f1(res.refit_probs) + 0.02


def test_the_small_ensembles_refit_leaves_out_what_all_its_members_flag():
    from sklearn.datasets import make_classification

    from dataaudit.confident import find_issues

    X, y = make_classification(600, 30, n_informative=16, n_redundant=8, n_clusters_per_class=2,
                               class_sep=2.0, flip_y=0.0, random_state=0)
    y_noisy = np.where(np.random.default_rng(4).random(600) < 0.1, 1 - y, y)
    X = X.astype(np.float32)
    seen = []

    def flag(labels, probs):
        seen.append(probs)
        return find_issues(labels, probs)

    result = probe.fit_out_of_sample(X, y_noisy, 2, "auto", flag=flag, random_state=0)
    first = probe.run_probe(X, y_noisy, 2, "ensemble", random_state=0)
    assert result.info["passes"] == 2 and len(seen) == 1
    assert first.info.get("members_left_out") and np.allclose(seen[0], first.refit_probs)
    # ... and the verdict's probabilities are the gated ones of the refit.
    assert "logistic" in result.info.get("members_left_out", [])
