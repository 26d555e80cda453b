"""Per-row evidence of a run: which rows carry a change of the loss, how hard each pulls on the
weights, the floor the flagged rows impose, and the data checks' verdicts on the recorded rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..checks.base import RowCause, RowVerdict
from ..dynamics import forgotten, is_right
from ..groups import group_label_stats
from ..utils import CHUNK_ROWS
from .thresholds import NORM_SAMPLE

#: What each row flag is called in the report, and the cause it names.
FLAG_NAMES = {"label_issue": "label issues", "outlier": "outliers", "conflicting": "conflicting duplicates"}
FLAG_SINGULAR = {"label_issue": "label issue", "outlier": "outlier", "conflicting": "conflicting duplicate"}
FLAG_OF_CAUSE = {RowCause.LABEL_NOISE: "label_issue", RowCause.OUTLIERS: "outlier",
                 RowCause.CONFLICTING_DUPLICATES: "conflicting"}
CAUSE_OF_FLAG = {flag: cause for cause, flag in FLAG_OF_CAUSE.items()}


def row_losses(logp_given: np.ndarray) -> np.ndarray:
    """Per row and recorded epoch, the cross-entropy of the given label: ``-log p_given`` (the
    record keeps the log-probability itself, exact where the probability saturates).

    Examples
    --------
    >>> row_losses(np.log(np.array([[0.9, 0.5]]))).round(3).tolist()
    [[0.105, 0.693]]
    """
    return -np.asarray(logp_given, np.float64)


def forgetting_by_step(margin: np.ndarray) -> np.ndarray:
    """Per step between consecutive recorded epochs, the share of the rows right before the step
    that are wrong after it.

    Examples
    --------
    >>> margin = np.array([[2.0, 2.0, -1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, 2.0]])
    >>> forgetting_by_step(margin).round(3).tolist()
    [0.5, 0.5]
    """
    before = is_right(margin)[:, :-1].sum(axis=0)
    return forgotten(margin).sum(axis=0) / np.maximum(before, 1)


def carriers(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """The rows that carry a rise of the summed loss: the fewest rows whose own rise is, together,
    the whole net rise (largest rises first). Empty when the loss did not rise. For a fall, pass
    ``(after, before)``.

    Examples
    --------
    >>> carriers(np.array([0.1, 0.2, 0.5, 0.1]), np.array([0.1, 0.3, 2.5, 0.05])).tolist()
    [1, 2]
    >>> carriers(np.array([0.5, 0.5]), np.array([0.4, 0.5])).tolist()
    []
    """
    delta = np.asarray(after, np.float64) - np.asarray(before, np.float64)
    net = float(delta.sum())
    if not net > 0:
        return np.zeros(0, np.int64)
    order = np.argsort(-delta, kind="stable")
    k = int(np.argmax(np.cumsum(delta[order]) >= net * (1 - 1e-9))) + 1
    return np.sort(order[:k])


def input_norms(features: np.ndarray, *, chunk: int = CHUNK_ROWS) -> np.ndarray:
    """Per row, the length of its robustly standardised input: each feature centred on its median
    and divided by its median absolute deviation (x 1.4826; the standard deviation, or 1, where
    that is 0), so a row far out on a few features stands out however many such rows there are.

    Examples
    --------
    >>> X = np.r_[np.random.default_rng(0).normal(size=(99, 3)), [[50.0, 0.0, 0.0]]]
    >>> norms = input_norms(X)
    >>> bool(norms[-1] > 10 * np.median(norms[:-1]))
    True
    """
    X = np.asarray(features)
    n = X.shape[0]
    flat = X.reshape(n, -1)
    rows = np.unique(np.linspace(0, n - 1, min(n, NORM_SAMPLE)).round().astype(np.int64))
    sample = np.asarray(flat[rows], np.float64)
    center = np.median(sample, axis=0)
    scale = 1.4826 * np.median(np.abs(sample - center), axis=0)
    std = sample.std(axis=0)
    scale = np.where(scale > 0, scale, np.where(std > 0, std, 1.0))
    out = np.empty(n)
    for start in range(0, n, chunk):
        block = (np.asarray(flat[start:start + chunk], np.float64) - center) / scale
        out[start:start + chunk] = np.sqrt((block ** 2).sum(axis=1))
    return out


def pull(p_given: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """Per row (and recorded epoch), how hard it pulls on the weights: ``(1 - p_given)`` times its
    input's length. The gradient of the cross-entropy with respect to a layer fed the input is
    ``(p - y) x``, so a row's share of it grows with how wrong the network is about it and with
    how far out its input lies (exactly so for the first layer; a proxy for the deeper ones).

    Examples
    --------
    >>> pull(np.array([0.9, 0.5, 0.5]), np.array([1.0, 1.0, 40.0])).round(2).tolist()
    [0.1, 0.5, 20.0]
    """
    p = np.clip(np.asarray(p_given, np.float64), 0.0, 1.0)
    norms = np.asarray(norms, np.float64)
    return (1.0 - p) * (norms if p.ndim == 1 else norms[:, None])


def data_floor(labels: np.ndarray, n_classes: int, *, label_issue: np.ndarray | None = None,
               group: np.ndarray | None = None, conflicting: np.ndarray | None = None) -> dict[str, float]:
    """The accuracy and loss a model that learns these rows perfectly, without learning any by
    heart, reaches on their labels: the floor the flagged rows impose.

    - Rows in a group of conflicting duplicates (identical inputs, different labels) get one
      prediction: at best the group's label shares, so the majority is right and the loss is the
      entropy of the shares.
    - Every other row flagged as a label issue is predicted as its true class, so it is wrong;
      calibrated to that noise rate ``eta`` among those rows, the loss per row is
      ``H(eta) + eta log(K - 1)``.

    Returns ``accuracy`` (the ceiling), ``loss`` (the floor), ``lost_to_conflicts`` and
    ``lost_to_label_issues`` (rows).

    Examples
    --------
    >>> f = data_floor(np.array([0, 1, 0, 0, 1, 1]), 2, group=np.array([0, 0, -1, -1, -1, -1]),
    ...                conflicting=np.array([True, True, False, False, False, False]))
    >>> round(f["accuracy"], 3), round(f["loss"], 3)
    (0.833, 0.231)
    >>> f = data_floor(np.zeros(10, int), 2, label_issue=np.arange(10) < 1)
    >>> round(f["accuracy"], 3), round(f["loss"], 3)
    (0.9, 0.325)
    """
    labels = np.asarray(labels, np.int64)
    n = len(labels)
    if n == 0:
        return {"accuracy": 1.0, "loss": 0.0, "lost_to_conflicts": 0, "lost_to_label_issues": 0}
    in_group = np.zeros(n, bool)
    lost_groups, loss_sum = 0, 0.0
    if conflicting is not None and group is not None:
        in_group = np.asarray(conflicting, bool) & (np.asarray(group) >= 0)
        stats = group_label_stats(np.where(in_group, group, -1), labels, n_classes)
        lost_groups = int((stats["size"] - stats["majority_count"]).sum())
        pair_size = stats["size"][stats["pair_group"]].astype(float)
        # Each group's size times the entropy of its label shares, summed over its labels.
        loss_sum = float(-(stats["pair_count"] * np.log(stats["pair_count"] / pair_size)).sum())
    lost_issues = 0
    rest = ~in_group
    if label_issue is not None and rest.any():
        lost_issues = int((np.asarray(label_issue, bool) & rest).sum())
        eta = lost_issues / rest.sum()
        if 0 < eta < 1:
            loss_sum += float(rest.sum() * (-(1 - eta) * np.log(1 - eta) - eta * np.log(eta)
                                             + eta * np.log(max(n_classes - 1, 1))))
    return {"accuracy": 1.0 - (lost_groups + lost_issues) / n, "loss": loss_sum / n,
            "lost_to_conflicts": lost_groups, "lost_to_label_issues": lost_issues}


def one_class_share(predicted: np.ndarray, labels: np.ndarray, n_classes: int) -> tuple[float, int, float]:
    """How far the network's answers are one class: the share of rows given the most-given class,
    that class, and the share of the labels that name it.

    Examples
    --------
    >>> one_class_share(np.array([1, 1, 1, 0]), np.array([0, 0, 0, 1]), 2)
    (0.75, 1, 0.25)
    """
    counts = np.bincount(np.asarray(predicted, np.int64), minlength=n_classes)
    top = int(np.argmax(counts))
    n = max(len(predicted), 1)
    return float(counts[top] / n), top, float((np.asarray(labels) == top).sum() / n)


@dataclass
class RowFlags:
    """What the data checks say about each recorded row (None: no check says it).

    Built from the checks' typed verdicts (:meth:`from_verdicts`): a verdict whose ``cause`` is
    set names the rows that carry that cause; the duplicate groups come with the conflicting ones.
    """

    label_issue: np.ndarray | None = None
    outlier: np.ndarray | None = None
    conflicting: np.ndarray | None = None
    group: np.ndarray | None = None

    @classmethod
    def from_verdicts(cls, verdicts: Mapping[str, RowVerdict], rows: np.ndarray) -> "RowFlags":
        """The verdicts' flags on the recorded ``rows``, by the cause each verdict names."""
        flags = cls()
        for verdict in verdicts.values():
            if verdict.cause is None:
                continue
            carriers_ = verdict.flag if verdict.cause_rows is None else verdict.cause_rows
            setattr(flags, FLAG_OF_CAUSE[verdict.cause], np.asarray(carriers_, bool)[rows])
            if verdict.cause is RowCause.CONFLICTING_DUPLICATES and verdict.group is not None:
                flags.group = np.asarray(verdict.group, np.int64)[rows]
        return flags

    def names(self) -> list[str]:
        return [k for k in FLAG_NAMES if getattr(self, k) is not None]

    def any(self) -> np.ndarray | None:
        """Rows flagged by any check (None when no check ran)."""
        arrays = [getattr(self, k) for k in self.names()]
        return np.logical_or.reduce(arrays) if arrays else None

    def count(self, rows: np.ndarray) -> dict[str, int]:
        """How many of ``rows`` (indices) each check flags."""
        return {k: int(np.asarray(getattr(self, k))[rows].sum()) for k in self.names()}


__all__ = ["FLAG_NAMES", "RowFlags", "carriers", "data_floor", "forgetting_by_step", "input_norms",
           "one_class_share", "pull", "row_losses"]
