import numpy as np
import pytest

import dataaudit
from dataaudit.checks.class_balance import balanced_class_weights, effective_number_weights


def test_balanced_weights_match_sklearn():
    from sklearn.utils.class_weight import compute_class_weight

    y = np.r_[np.zeros(95), np.ones(4), np.full(1, 2)].astype(int)
    ours = balanced_class_weights(np.bincount(y))
    theirs = compute_class_weight("balanced", classes=np.arange(3), y=y)
    np.testing.assert_allclose(ours, theirs)


def test_effective_number_weights_between_uniform_and_balanced():
    counts = np.array([950, 40, 10])
    eff = effective_number_weights(counts, beta=0.99)
    bal = balanced_class_weights(counts)
    # Rarer classes get larger weights, but the spread is gentler than inverse frequency.
    assert eff[0] < eff[1] < eff[2]
    assert eff[2] / eff[0] < bal[2] / bal[0]
    # Mean weight per sample is 1.
    assert (eff * counts).sum() == pytest.approx(counts.sum())
    # beta -> 0 gives equal weights.
    np.testing.assert_allclose(effective_number_weights(counts, beta=0.0), np.ones(3))


def test_95_4_1_split_is_reported(imbalanced_with_conflicts):
    X, y = imbalanced_with_conflicts
    report = dataaudit.scan(X, y, checks="class_balance")
    cb = report.summary["class_balance"]
    counts = {c["label"]: c["count"] for c in cb["classes"]}
    assert counts == {0: 1895, 1: 85, 2: 20}
    assert cb["majority_baseline_accuracy"] == pytest.approx(1895 / 2000)
    assert cb["imbalance_ratio"] == pytest.approx(1895 / 20)
    assert set(cb["rare_classes"]) == {1, 2}
    finding = next(f for f in report.findings if f["check"] == "class_balance" and "imbalanced" in f["message"])
    assert "class_weight" in finding["advice"] and "94.8%" in finding["message"]
    assert report.metrics["majority_baseline"] == pytest.approx(0.9475)


def test_balanced_data_has_no_imbalance_finding():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    y = np.repeat(["cat", "dog", "eel"], 100)
    report = dataaudit.scan(X, y, checks="class_balance")
    assert not [f for f in report.findings if f["check"] == "class_balance"]
    assert [c["label"] for c in report.summary["class_balance"]["classes"]] == ["cat", "dog", "eel"]


def test_beta_option_is_used():
    X = np.zeros((110, 2)) + np.arange(110)[:, None]
    y = np.r_[np.zeros(100, int), np.ones(10, int)]
    a = dataaudit.scan(X, y, checks="class_balance", options={"class_balance": {"beta": 0.5}})
    b = dataaudit.scan(X, y, checks="class_balance", options={"class_balance": {"beta": 0.999}})
    wa = a.summary["class_balance"]["class_weight_effective_number"]
    wb = b.summary["class_balance"]["class_weight_effective_number"]
    assert wa["1"] / wa["0"] < wb["1"] / wb["0"]
