"""Confident learning's per-sample verdict (cleanlab), as a pure function of labels and probabilities.

Shared by the ``label_issues`` check and by the probe's refit policy, which leaves the samples
it flags out of the next pass's training (the probe is handed this function; it never
imports a check).
"""

from __future__ import annotations

import numpy as np

#: cleanlab's default filter: prune, per class, as many samples as its noise rate says.
DEFAULT_FILTER = "prune_by_noise_rate"


def find_issues(labels: np.ndarray, pred_probs: np.ndarray, *, filter_by: str = DEFAULT_FILTER) -> np.ndarray:
    """Confident learning's verdict per sample: cleanlab's ``find_label_issues`` on the
    classes present in ``labels`` (cleanlab needs every column's class to occur).

    Examples
    --------
    >>> probs = np.array([[0.9, 0.1]] * 5 + [[0.1, 0.9]] * 5)
    >>> find_issues(np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1]), probs).nonzero()[0].tolist()
    [4]
    """
    from cleanlab.filter import find_label_issues

    k = pred_probs.shape[1]
    present = np.flatnonzero(np.bincount(labels, minlength=k) > 0)
    if len(present) < 2:
        return np.zeros(len(labels), dtype=bool)
    remap = np.full(k, -1)
    remap[present] = np.arange(len(present))
    sub = pred_probs[:, present]
    sub = sub / np.maximum(sub.sum(axis=1, keepdims=True), 1e-12)
    return np.asarray(find_label_issues(remap[labels], sub, filter_by=filter_by, n_jobs=1), dtype=bool)
