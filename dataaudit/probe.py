"""Out-of-sample predicted probabilities and per-sample losses from a probe model.

Every probability a sample gets comes from a model that did not see that sample (stratified
K-fold); confident learning and the loss check are only meaningful on such probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

_EPS = 1e-12


@dataclass
class ProbeResult:
    """Out-of-sample probabilities (n, K), per-sample losses (n,) and how they were made."""

    pred_probs: np.ndarray
    loss: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def cross_entropy(pred_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-sample cross-entropy of the given label: ``-log p[i, y_i]``.

    Examples
    --------
    >>> cross_entropy(np.array([[0.9, 0.1], [0.5, 0.5]]), np.array([0, 1])).round(4).tolist()
    [0.1054, 0.6931]
    """
    p = pred_probs[np.arange(len(labels)), labels]
    return -np.log(np.clip(p, _EPS, 1.0))


def from_pred_probs(pred_probs: np.ndarray, labels: np.ndarray) -> ProbeResult:
    """Wrap validated, user-given out-of-sample probabilities."""
    return ProbeResult(pred_probs, cross_entropy(pred_probs, labels), {"model": "given pred_probs", "n_folds": None})


def run_probe(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    model: Any = "auto",
    *,
    random_state: int = 0,
    progress: Callable[[str], None] | None = None,
) -> ProbeResult:
    """Out-of-fold probabilities by stratified K-fold."""
    estimator = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    counts = np.bincount(labels, minlength=n_classes)
    n_folds = int(max(2, min(5, counts[counts > 0].min())))
    probs = np.zeros((len(labels), n_classes))
    skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=random_state)
    for i, (tr, te) in enumerate(skf.split(features, labels)):
        if progress:
            progress(f"probe: fold {i + 1}/{n_folds}")
        est = clone(estimator).fit(features[tr], labels[tr])
        probs[np.ix_(te, est.classes_)] = est.predict_proba(features[te])
    return ProbeResult(probs, cross_entropy(probs, labels), {"model": "logistic", "n_folds": n_folds})
