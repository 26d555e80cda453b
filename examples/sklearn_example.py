"""Train a scikit-learn model on noisy labels, with and without dataaudit's output.

    python examples/sklearn_example.py            # ~30 s on 2 cores

scikit-learn's digits, 20% of the training labels flipped to another digit; the test
labels are left clean so the accuracies below measure what the model really learned.
The same classifier is trained four ways:

1. on the noisy labels, as they are;
2. on the noisy labels with ``report.sample_weight()`` (``fit(..., sample_weight=w)``);
3. on ``report.clean_data(...)``: flagged rows dropped;
4. on ``report.clean_data(..., relabel=True)``: label issues given their suggested label.
"""

from __future__ import annotations

import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

import dataaudit


def main(noise: float = 0.2, seed: int = 0) -> dict[str, float]:
    X, y = load_digits(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    rng = np.random.default_rng(seed)
    flip = rng.random(len(y_tr)) < noise
    y_noisy = y_tr.copy()
    y_noisy[flip] = (y_tr[flip] + rng.integers(1, 10, flip.sum())) % 10

    report = dataaudit.scan(X_tr, y_noisy, random_state=seed)
    found = report.samples["is_label_issue"].to_numpy()
    print(f"flipped {flip.sum()} labels; dataaudit flags {found.sum()}, of which {(found & flip).sum()} are flipped")
    for finding in report.findings:
        print(f"  [{finding['severity']}] {finding['message']}")

    def accuracy(X_fit, y_fit, weight=None) -> float:
        model = SVC(C=10, gamma="scale").fit(X_fit, y_fit, sample_weight=weight)
        return float((model.predict(X_te) == y_te).mean())

    results = {
        "noisy labels": accuracy(X_tr, y_noisy),
        "noisy labels + sample_weight": accuracy(X_tr, y_noisy, report.sample_weight()),
        "clean_data (flagged dropped)": accuracy(*report.clean_data(X_tr, y_noisy)),
        "clean_data (relabelled)": accuracy(*report.clean_data(X_tr, y_noisy, relabel=True)),
        "true labels (for reference)": accuracy(X_tr, y_tr),
    }
    print("\nclean test accuracy of an RBF SVM trained on:")
    for name, acc in results.items():
        print(f"  {name:32s} {acc:.3f}")
    return results


if __name__ == "__main__":
    main(*(float(a) for a in sys.argv[1:2]))
