"""Reading a run's curves: per-epoch loss and accuracy, and the pure detectors that find a
pattern in them (curves -> symptoms). No per-row evidence and no cause here.

Epochs are 0-based indices in arguments and return values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..dynamics import is_right
from .thresholds import (
    COLLAPSE_ABS, COLLAPSE_DROP, COLLAPSE_JUMP, DEGRADE_DROP, FALL_ACC, FALL_LOSS, PLATEAU_ACC, PLATEAU_LOSS,
    PLATEAU_MAX_ACC, PLATEAU_MIN_EPOCHS, PLATEAU_MIN_LOSS, PLATEAU_REL, RISE_ABS, RISE_REL, SMOOTH, TAIL,
)

_TINY = 1e-7

#: The names Keras gives an accuracy metric, most common first.
ACCURACY_NAMES = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy")

def smooth(values: np.ndarray, window: int = SMOOTH) -> np.ndarray:
    """Rolling median over ``window`` epochs (centred; NaN-aware; shorter at the ends).

    Examples
    --------
    >>> smooth(np.array([1.0, 5.0, 1.0, 1.0, 0.5])).tolist()
    [3.0, 1.0, 1.0, 1.0, 0.75]
    """
    values = np.asarray(values, float)
    half = window // 2
    out = np.full(len(values), np.nan)
    for i in range(len(values)):
        part = values[max(0, i - half): i + half + 1]
        if np.isfinite(part).any():
            out[i] = np.nanmedian(part)
    return out


def ended_at(values: np.ndarray) -> float:
    """Where a curve ended: the median of its last TAIL finite values."""
    finite = np.asarray(values, float)[np.isfinite(values)]
    return float(np.median(finite[-TAIL:])) if len(finite) else float("nan")


def accuracy_key(history: Mapping[str, Any], prefix: str = "") -> str | None:
    """The history key of the run's accuracy (``prefix="val_"``: of its validation accuracy).

    Examples
    --------
    >>> accuracy_key({"loss": [], "binary_accuracy": [], "val_binary_accuracy": []}, "val_")
    'val_binary_accuracy'
    >>> accuracy_key({"loss": [], "val_acc": []}) is None
    True
    """
    for name in ACCURACY_NAMES:
        if prefix + name in history:
            return prefix + name
    for key in sorted(history):
        rest = key[len(prefix):]
        if key.startswith(prefix) and (prefix or not key.startswith("val_")) and rest.endswith("accuracy"):
            return key
    return None


@dataclass
class Curve:
    """One split's per-epoch loss and accuracy (0-based epoch indices; NaN where not measured)."""

    split: str
    loss: np.ndarray
    accuracy: np.ndarray | None
    accuracy_name: str = "accuracy"
    source: str = "history"

    @property
    def n_epochs(self) -> int:
        return int(len(self.loss))


def curves(history: Mapping[str, Sequence[float]], logp_given: np.ndarray | None = None,
           margin: np.ndarray | None = None, in_training: np.ndarray | None = None,
           epochs: np.ndarray | None = None) -> dict[str, Curve]:
    """The training and validation curves of a run: from its history (what Keras printed), or,
    when the history has no loss, from the per-sample record (inference-mode loss and accuracy of
    the recorded rows at the recorded epochs, placed at their epoch index).

    Examples
    --------
    >>> c = curves({"loss": [0.9, 0.5], "accuracy": [0.6, 0.8], "val_loss": [1.0, 0.7]})
    >>> sorted(c), c["validation"].accuracy is None, c["training"].accuracy_name
    (['training', 'validation'], True, 'accuracy')
    """
    out: dict[str, Curve] = {}
    for split, prefix in (("training", ""), ("validation", "val_")):
        loss = history.get(prefix + "loss")
        if loss is None or len(loss) < 2:
            continue
        # A training loss is logged every epoch (NaN there is a divergence); a validation loss may
        # be logged every few epochs (validation_freq).
        if split == "training" or np.isfinite(np.asarray(loss, float)).sum() >= 2:
            key = accuracy_key(history, prefix)
            acc = np.asarray(history[key], float) if key else None
            name = (key[len(prefix):] if key else "accuracy")
            out[split] = Curve(split, np.asarray(loss, float), acc, name, "history")
    if "training" in out or logp_given is None or epochs is None or len(epochs) < 2:
        return out
    mask = np.ones(len(logp_given), bool) if in_training is None else np.asarray(in_training, bool)
    n = int(np.max(epochs)) + 1
    for split, rows in (("training", mask), ("validation", ~mask)):
        if not rows.any():
            continue
        loss = np.full(n, np.nan)
        acc = np.full(n, np.nan)
        loss[epochs] = -np.asarray(logp_given[rows], np.float64).mean(axis=0)
        acc[epochs] = is_right(margin[rows]).mean(axis=0)
        out[split] = Curve(split, loss, acc, "accuracy", "record")
    return out


def find_collapse(loss: np.ndarray, accuracy: np.ndarray | None) -> dict[str, Any] | None:
    """The epoch at which training broke: the loss became NaN (divergence); else the first epoch
    at which accuracy is ``COLLAPSE_DROP`` below its best so far while the loss jumped (collapse);
    else the first at which it is ``DEGRADE_DROP`` below, the loss up, and both stay so to the end
    (degradation). A jump is a loss ``COLLAPSE_JUMP`` times and ``COLLAPSE_ABS`` above its lowest so far.

    Returns ``{"kind", "epoch", "best_epoch", "drop", "accuracy": (best, at, end), "loss":
    (lowest before, at, end)}`` (0-based epochs), or None.

    Examples
    --------
    >>> loss = np.array([0.6, 0.3, 0.2, 0.15, 6.1, 6.0, 6.2])
    >>> acc = np.array([0.80, 0.92, 0.95, 0.97, 0.55, 0.56, 0.55])
    >>> c = find_collapse(loss, acc)
    >>> c["kind"], c["epoch"], c["best_epoch"], round(c["drop"], 2)
    ('collapse', 4, 3, 0.42)
    >>> find_collapse(np.array([0.6, 0.3, np.nan]), None)["kind"]
    'divergence'
    >>> find_collapse(np.array([0.6, 0.3, 0.2, 0.25, 0.18]), np.array([0.7, 0.85, 0.9, 0.88, 0.91])) is None
    True
    >>> find_collapse(np.array([0.5, 0.1, 0.02, 0.05, 0.09, 0.10]), np.array([0.8, 0.97, 1.0, 0.98, 0.96, 0.95]))["kind"]
    'degradation'
    """
    loss = np.asarray(loss, float)
    finite = np.isfinite(loss)
    if finite.any():
        first = int(np.argmax(finite))
        bad = np.flatnonzero(~finite[first:]) + first
        if len(bad):
            e = int(bad[0])
            best = float(np.nanmax(accuracy[:e])) if accuracy is not None and np.isfinite(accuracy[:e]).any() else float("nan")
            low = float(np.nanmin(loss[:e]))
            return {"kind": "divergence", "epoch": e, "best_epoch": int(np.nanargmin(loss[:e])), "drop": 1.0,
                    "accuracy": (best, float("nan"), float("nan")), "loss": (low, float("nan"), float("nan"))}
    if accuracy is None:
        return None
    accuracy = np.asarray(accuracy, float)
    end_acc, end_loss = ended_at(accuracy), ended_at(loss)
    candidates = []
    for e in range(1, len(loss)):
        if not (np.isfinite(accuracy[e]) and finite[e]) or not np.isfinite(accuracy[:e]).any():
            continue
        p = int(np.nanargmax(accuracy[:e]))
        best, low = float(accuracy[p]), float(np.nanmin(loss[:e]))
        jumped = loss[e] >= COLLAPSE_JUMP * low and loss[e] - low >= COLLAPSE_ABS
        if jumped:
            candidates.append((e, p, best, low, best - float(accuracy[e])))
    for e, p, best, low, drop in candidates:
        if drop >= COLLAPSE_DROP:
            return {"kind": "collapse", "epoch": e, "best_epoch": p, "drop": drop,
                    "accuracy": (best, float(accuracy[e]), end_acc), "loss": (low, float(loss[e]), end_loss)}
    for e, p, best, low, drop in candidates:
        lasting = best - end_acc >= DEGRADE_DROP and end_loss >= COLLAPSE_JUMP * low and end_loss - low >= COLLAPSE_ABS
        if drop >= DEGRADE_DROP and lasting:
            return {"kind": "degradation", "epoch": e, "best_epoch": p, "drop": max(drop, best - end_acc),
                    "accuracy": (best, float(accuracy[e]), end_acc), "loss": (low, float(loss[e]), end_loss)}
    return None


def find_rise(loss: np.ndarray) -> tuple[int, int] | None:
    """A loss that ends clearly above its lowest point: ``(lowest epoch, last epoch)`` when it
    ends ``RISE_REL`` (relative) and ``RISE_ABS`` (absolute) above the smoothed minimum, at least
    two epochs after it.

    Examples
    --------
    >>> find_rise(np.array([0.80, 0.70, 0.72, 0.80, 0.90, 1.00]))
    (1, 5)
    >>> find_rise(np.array([0.80, 0.70, 0.69, 0.70, 0.71, 0.70])) is None
    True
    """
    loss = np.asarray(loss, float)
    s = smooth(loss)
    last = int(np.flatnonzero(np.isfinite(loss))[-1]) if np.isfinite(loss).any() else -1
    if last < 3 or not np.isfinite(s[:last]).any():
        return None
    a = int(np.nanargmin(s[:last]))
    low, end = float(s[a]), ended_at(loss)
    if last - a >= 2 and end - low >= RISE_ABS and end - low >= RISE_REL * low:
        return a, last
    return None


def find_fall_together(loss: np.ndarray, accuracy: np.ndarray) -> tuple[int, int] | None:
    """Loss and accuracy falling together: the window ``(first, last)`` (at least 2 epochs) over
    which the smoothed accuracy falls most, among those where it falls ``FALL_ACC`` or more while
    the smoothed loss falls ``FALL_LOSS`` (relative) or more; None when there is none.

    Examples
    --------
    >>> loss = np.array([0.9, 0.6, 0.55, 0.53, 0.52, 0.51, 0.50])
    >>> acc = np.array([0.70, 0.88, 0.89, 0.86, 0.85, 0.84, 0.84])
    >>> find_fall_together(loss, acc)
    (1, 5)
    >>> find_fall_together(loss, np.array([0.70, 0.88, 0.89, 0.89, 0.90, 0.90, 0.91])) is None
    True
    """
    loss, accuracy = np.asarray(loss, float), np.asarray(accuracy, float)
    ok = np.isfinite(loss) & np.isfinite(accuracy)
    if ok.sum() < 4:
        return None
    sa, sl = smooth(np.where(ok, accuracy, np.nan)), smooth(np.where(ok, loss, np.nan))
    drop = sa[:, None] - sa[None, :]  # [first, last]
    fell = sl[None, :] <= sl[:, None] * (1 - FALL_LOSS)
    n = len(sa)
    gap = np.arange(n)[None, :] - np.arange(n)[:, None]
    good = (gap >= 2) & fell & (drop >= FALL_ACC - 1e-12) & np.isfinite(drop)
    if not good.any():
        return None
    score = np.where(good, drop, -np.inf)
    first, last = np.unravel_index(int(np.argmax(score)), score.shape)
    return int(first), int(last)


def find_plateau(loss: np.ndarray, accuracy: np.ndarray | None = None) -> tuple[int, int] | None:
    """Training that stopped getting better short of a perfect fit: ``(epoch it stalled, last
    epoch)``. Stalled: over the last half of the run accuracy gained less than ``PLATEAU_ACC``
    and over its last quarter (at least 3 epochs) the loss fell less than ``PLATEAU_LOSS``
    (relative); without an accuracy, the loss fell less than ``PLATEAU_REL``. Short of a perfect
    fit: the loss ends above ``PLATEAU_MIN_LOSS`` and accuracy below ``PLATEAU_MAX_ACC``.

    Examples
    --------
    >>> loss = np.array([0.7, 0.5, 0.40, 0.35, 0.33, 0.32, 0.32, 0.32, 0.318, 0.318])
    >>> find_plateau(loss)
    (4, 9)
    >>> find_plateau(loss - np.linspace(0, 0.05, 10), np.array([.7, .85, .9, .9, .91, .9, .91, .9, .91, .91]))
    (2, 9)
    >>> find_plateau(np.array([0.7, 0.5, 0.40, 0.30, 0.22, 0.15, 0.10, 0.07, 0.05, 0.03])) is None
    True
    """
    loss = np.asarray(loss, float)
    finite = np.flatnonzero(np.isfinite(loss))
    if len(finite) < PLATEAU_MIN_EPOCHS:
        return None
    last = int(finite[-1])
    s = smooth(loss)
    width = max(3, len(finite) // 4)
    start = int(finite[-width - 1])
    end = ended_at(loss)
    fell = (s[start] - end) / max(s[start], _TINY)
    if end < PLATEAU_MIN_LOSS or fell <= -RISE_REL:
        return None
    has_acc = accuracy is not None and np.isfinite(accuracy).sum() >= len(finite) // 2
    if has_acc:
        accuracy = np.asarray(accuracy, float)
        sa = smooth(accuracy)
        end_acc = ended_at(accuracy)
        half = int(finite[len(finite) // 2])
        if end_acc >= PLATEAU_MAX_ACC or end_acc - sa[half] >= PLATEAU_ACC or fell >= PLATEAU_LOSS:
            return None
        stalled = np.flatnonzero(np.isfinite(sa) & (sa >= end_acc - PLATEAU_ACC))
    else:
        if fell >= PLATEAU_REL:
            return None
        stalled = np.flatnonzero(np.isfinite(s) & (s <= end * (1 + PLATEAU_REL)))
    return (int(stalled[0]) if len(stalled) else start), last
