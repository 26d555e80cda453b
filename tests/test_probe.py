import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

import dataaudit
from dataaudit.errors import UsageError
from dataaudit.probe import cross_entropy, run_probe


def _blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = (rng.normal(size=(n, 4)) + 3 * np.eye(3, 4)[y]).astype(np.float32)
    return X, y


@pytest.mark.parametrize("model", ["logistic", "hgb", "knn", "mlp", "ensemble", "auto"])
def test_builtin_probes_are_out_of_sample_and_normalised(model):
    X, y = _blobs()
    res = run_probe(X, y, 3, model)
    assert res.pred_probs.shape == (300, 3)
    np.testing.assert_allclose(res.pred_probs.sum(axis=1), 1.0)
    assert res.info["out_of_sample_accuracy"] > 0.85
    np.testing.assert_allclose(res.loss, cross_entropy(res.pred_probs, y))


def test_out_of_sample_means_memorising_model_cannot_cheat():
    # 1-NN memorises its training set; in-sample it is always right, out of sample it is not.
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)).astype(np.float32)
    y = rng.integers(0, 2, 200)  # pure noise
    res = run_probe(X, y, 2, KNeighborsClassifier(1))
    assert res.info["out_of_sample_accuracy"] < 0.7


def test_sklearn_instance_and_module_spec():
    X, y = _blobs()
    a = run_probe(X, y, 3, LogisticRegression(max_iter=500))
    b = run_probe(X, y, 3, "sklearn.linear_model:LogisticRegression")
    assert a.info["model"] == "LogisticRegression"
    assert b.info["out_of_sample_accuracy"] > 0.85
    with pytest.raises(UsageError, match="cannot be imported"):
        run_probe(X, y, 3, "sklearn.linear_model:NoSuchThing")
    with pytest.raises(UsageError, match="predict_proba"):
        run_probe(X, y, 3, "sklearn.linear_model:LinearRegression")
    with pytest.raises(UsageError, match="unknown built-in"):
        run_probe(X, y, 3, "forest-of-dreams")


def test_tiny_classes_adapt_folds_and_singletons_are_reported():
    X, y = _blobs(120)
    y = y.copy()
    y[:2] = 3          # a class with two members: 2 folds
    y[2] = 4           # a class with one member: cannot be cross-validated
    res = run_probe(X, y, 5, "logistic")
    assert res.info["n_folds"] == 2
    assert res.info["uncrossvalidated"] == [2]
    assert np.isfinite(res.pred_probs).all()
    report = dataaudit.scan(X, y)
    assert report.summary["probe"]["uncrossvalidated"] == [2]


def test_seed_makes_probe_deterministic():
    X, y = _blobs()
    a = run_probe(X, y, 3, "auto", random_state=5)
    b = run_probe(X, y, 3, "auto", random_state=5)
    np.testing.assert_array_equal(a.pred_probs, b.pred_probs)


def test_progress_reports_folds():
    X, y = _blobs()
    seen = []
    run_probe(X, y, 3, "logistic", progress=seen.append)
    assert len(seen) == 5 and "fold 5/5" in seen[-1]


def test_auto_probe_beats_logistic_on_digits_noise():
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    flip = rng.random(len(y)) < 0.1
    noisy = np.where(flip, (y + rng.integers(1, 10, len(y))) % 10, y)
    strong = dataaudit.scan(X, noisy, checks="label_issues").samples["is_label_issue"].to_numpy()
    weak = dataaudit.scan(X, noisy, checks="label_issues", model="logistic").samples["is_label_issue"].to_numpy()

    def f1(flags):
        tp = (flags & flip).sum()
        return 2 * tp / (flags.sum() + flip.sum())

    assert f1(strong) > 0.85
    assert f1(strong) > f1(weak)


def test_default_passes_follow_the_documented_rule():
    from dataaudit.probe import default_passes

    assert default_passes("auto", 5_000) == 2      # the small ensemble, refit once
    assert default_passes("auto", 50_000) == 3     # boosting + three networks, then two network refits when noisy
    assert default_passes("auto", 50_000, 784) == 1  # wide inputs: the networks are the whole probe
    assert default_passes("auto", 300_000) == 2    # boosting alone, refit once
    assert default_passes("hgb", 50_000) == 2
    assert default_passes("ensemble", 5_000) == 2   # the small ensemble
    assert default_passes("ensemble", 5_001) == 4   # asked for by name: boosting + three networks, 4 passes
    assert default_passes("model.keras", 50_000) == 1


def test_auto_above_5k_refits_with_its_networks_on_noisy_data_and_beats_boosting_alone():
    from sklearn.datasets import make_classification

    X, y_true = make_classification(6_000, 16, n_informative=8, n_classes=3, n_clusters_per_class=2,
                                    flip_y=0, random_state=1)
    X = X.astype(np.float32)
    rng = np.random.default_rng(1)
    flipped = rng.random(len(y_true)) < 0.10
    y = np.where(flipped, (y_true + rng.integers(1, 3, len(y_true))) % 3, y_true)

    def f1(report):
        flags = report.samples["is_label_issue"].to_numpy(bool)
        return 2 * (flags & flipped).sum() / (flags.sum() + flipped.sum())

    auto = dataaudit.scan(X, y, checks="label_issues")
    one_pass = dataaudit.scan(X, y, checks="label_issues", options={"probe": {"passes": 1}})
    boosting = dataaudit.scan(X, y, checks="label_issues", model="hgb")
    info = auto.summary["probe"]
    assert info["model"] == "ensemble" and info["passes"] == 3 and info["averaged_last_passes"] == 2
    assert info["refit_members"] == ["mlp_64x2"] * 3
    def agreement(report):  # with the true labels: what a model trained on the remedies learns
        return (report.samples["predicted_label"].to_numpy() == y_true).mean()

    assert f1(auto) > 0.78                  # measured 0.81; boosting alone 0.73
    assert f1(auto) > f1(boosting)
    assert agreement(auto) > agreement(one_pass) + 0.004, (agreement(auto), agreement(one_pass))  # 0.927 vs 0.919


def test_auto_above_5k_makes_one_pass_on_nearly_clean_data():
    from sklearn.datasets import make_classification

    X, y = make_classification(6_000, 16, n_informative=8, n_clusters_per_class=1, class_sep=2.0,
                               flip_y=0, random_state=2)
    report = dataaudit.scan(X.astype(np.float32), y, checks="label_issues")
    assert report.summary["probe"]["passes"] == 1
    assert report.samples["is_label_issue"].mean() < 0.05


def test_large_ensemble_refits_and_finds_planted_noise():
    from sklearn.datasets import make_classification

    X, y_true = make_classification(6_000, 16, n_informative=8, n_clusters_per_class=2, flip_y=0, random_state=0)
    rng = np.random.default_rng(0)
    flipped = rng.random(len(y_true)) < 0.15
    y = np.where(flipped, 1 - y_true, y_true)
    report = dataaudit.scan(X.astype(np.float32), y, model="ensemble", checks="label_issues")
    info = report.summary["probe"]
    assert info["model"] == "ensemble" and info["passes"] == 4 and info["averaged_last_passes"] == 2
    flagged = report.samples["is_label_issue"].to_numpy(bool)
    precision = (flagged & flipped).sum() / flagged.sum()
    recall = (flagged & flipped).sum() / flipped.sum()
    assert precision > 0.85 and recall > 0.85, (precision, recall)


def test_refit_that_leaves_a_class_few_members_does_not_break_the_svm():
    # A refit leaves flagged rows out of training; a class can keep only a few members in a fold,
    # too few for the SVM's inner Platt scaling. The probe goes on without the SVM in that fold.
    from dataaudit.probe import run_probe

    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    labels = np.repeat([0, 1, 2], [150, 120, 30])
    X[labels == 1] += 2.0
    X[labels == 2] -= 2.0
    exclude = np.zeros(300, bool)
    exclude[np.flatnonzero(labels == 2)[:24]] = True   # 6 members of class 2 left to train on
    for seed in range(12):
        result = run_probe(X, labels, 3, "ensemble", random_state=seed, exclude=exclude)
        assert np.allclose(result.pred_probs.sum(axis=1), 1)
        assert result.info["out_of_sample_accuracy"] > 0.9
