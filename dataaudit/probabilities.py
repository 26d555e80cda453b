"""Out-of-sample predicted probabilities and their per-sample losses: what the label and loss
checks read, whoever made them (a probe, the user's own, a training record)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

_EPS = 1e-12


@dataclass
class ProbeResult:
    """Predicted probabilities (n, K), per-sample losses (n,) and how they were made.

    ``judged`` marks the rows that have probabilities when only some do (a training record of
    a subset of the rows); None means every row. ``refit_probs``, when not None, are the
    probabilities that choose the rows a refit leaves out (the small ensemble's mean of all its
    members, where ``pred_probs`` is the mean of the members its gate kept).
    """

    pred_probs: np.ndarray
    loss: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    judged: np.ndarray | None = None
    refit_probs: np.ndarray | None = None


def cross_entropy(pred_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-sample cross-entropy of the given label: ``-log p[i, y_i]``.

    Examples
    --------
    >>> cross_entropy(np.array([[0.9, 0.1], [0.5, 0.5]]), np.array([0, 1])).round(4).tolist()
    [0.1054, 0.6931]
    """
    p = pred_probs[np.arange(len(labels)), labels]
    return -np.log(np.clip(p, _EPS, 1.0))


def row_normalised(probs: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (rows of zeros stay zeros)."""
    return probs / np.maximum(probs.sum(axis=1, keepdims=True), _EPS)


def from_pred_probs(pred_probs: np.ndarray, labels: np.ndarray) -> ProbeResult:
    """Wrap validated, user-given out-of-sample probabilities."""
    return ProbeResult(pred_probs, cross_entropy(pred_probs, labels), {"model": "given pred_probs", "n_folds": None})


def average(first: ProbeResult, second: ProbeResult, labels: np.ndarray) -> ProbeResult:
    """The mean of two probes' out-of-sample probabilities, with losses and accuracy redone.

    Examples
    --------
    >>> a = ProbeResult(np.array([[0.8, 0.2], [0.4, 0.6]]), np.zeros(2), {"model": "m"})
    >>> b = ProbeResult(np.array([[0.6, 0.4], [0.2, 0.8]]), np.zeros(2), {"model": "m"})
    >>> r = average(a, b, np.array([0, 0]))
    >>> r.pred_probs.round(3).tolist(), r.info["out_of_sample_accuracy"], r.info["averaged_last_passes"]
    ([[0.7, 0.3], [0.3, 0.7]], 0.5, 2)
    """
    probs = (first.pred_probs + second.pred_probs) / 2
    info = dict(second.info)
    info["out_of_sample_accuracy"] = round(float((probs.argmax(axis=1) == labels).mean()), 6)
    info["averaged_last_passes"] = 2
    return ProbeResult(probs, cross_entropy(probs, labels), info)


__all__ = ["ProbeResult", "average", "cross_entropy", "from_pred_probs", "row_normalised"]
