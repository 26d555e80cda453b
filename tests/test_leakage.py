import numpy as np
import pytest

import dataaudit
from dataaudit.checks.leakage import exact_matches


def test_exact_matches_verified():
    train = np.array([[1.0, 2.0], [3.0, 4.0], [-0.0, 1.0]])
    test = np.array([[3.0, 4.0], [5.0, 6.0], [0.0, 1.0]])
    assert exact_matches(train, test).tolist() == [1, -1, 2]


def test_planted_leakage_exact_near_and_conflicting(cli, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 8)).astype(np.float32)
    y = rng.integers(0, 2, 500)
    X_test = rng.normal(size=(100, 8)).astype(np.float32)
    y_test = rng.integers(0, 2, 100)
    X_test[:10] = X[:10]                     # exact copies, same label
    y_test[:10] = y[:10]
    X_test[10:15] = X[20:25] + 1e-5          # near copies, different label
    y_test[10:15] = 1 - y[20:25]
    report = dataaudit.scan(X, y, X_test=X_test, y_test=y_test, checks="leakage")
    lk = report.summary["leakage"]
    assert lk["n_exact"] == 10 and lk["n_near"] == 5 and lk["n_conflicting"] == 5
    assert report.metrics["leakage"] == pytest.approx(0.15)
    assert set(np.flatnonzero(report.samples["leaks_into_test"])) == set(range(10)) | set(range(20, 25))
    conflicts = [p for p in lk["pairs"] if p["conflict"]]
    assert {p["test_index"] for p in conflicts} == set(range(10, 15))
    # CLI: the gate on leakage trips.
    for name, arr in {"X": X, "y": y, "Xt": X_test, "yt": y_test}.items():
        np.save(tmp_path / f"{name}.npy", arr)
    r = cli("scan", tmp_path / "X.npy", tmp_path / "y.npy", "--test-x", tmp_path / "Xt.npy", "--test-y",
            tmp_path / "yt.npy", "--checks", "leakage", "--fail-on", "leakage>0.1", "-q")
    assert r.code == 1


def test_unseen_test_labels_and_mismatched_columns():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = np.repeat(["a", "b"], 25)
    Xt = X[:5].copy()
    yt = np.array(["c"] * 5)
    report = dataaudit.scan(X, y, X_test=Xt, y_test=yt, checks="leakage")
    assert report.summary["leakage"]["n_conflicting"] == 5
    with pytest.raises(ValueError, match="same columns"):
        dataaudit.scan(X, y, X_test=X[:, :2], y_test=yt, checks="leakage")
    with pytest.raises(ValueError, match="held-out"):
        dataaudit.scan(X, y, checks="leakage")
