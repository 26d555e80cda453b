"""The training doctor: name the symptom of a Keras run, and its cause, from the run itself.

A run's history (``loss``, ``accuracy``, ``val_loss``, ... per epoch) shows *what* went wrong;
the per-sample record (the probability of each row's label after each recorded epoch, see
:mod:`dataaudit.dynamics`) shows *which rows* it went wrong on; the data checks that ran before
(label issues, conflicting duplicates, outliers, the set-up lint) say *what those rows are*.
Together they tell the data from the set-up:

=========================  ====================================================================
symptom (``pattern``)      how it is read
=========================  ====================================================================
``collapse``               accuracy falls far below its best while the loss jumps (or turns NaN),
                           and many rows are forgotten in one epoch: the rows did not change,
                           the weights did -- the set-up or the learning rate, never the data
``loss_up_accuracy_up``    a loss rises while accuracy rises: the rows whose loss rose carry it;
                           when they are flagged rows, the network is memorising bad labels
``train_val_parting``      validation loss rises while the training loss falls, and the
                           training data is clean: overfitting, not the data
``loss_and_accuracy_fall`` loss and accuracy fall together: the rows whose loss fell carry it
                           (far-out rows, identical rows with different labels), paid for by
                           ordinary rows that turn wrong
``plateau``                the training loss stops falling: against the floor the flagged rows
                           impose (:func:`data_floor`), at the data's ceiling or short of it
                           (capacity or optimisation)
=========================  ====================================================================

Everything here is a pure function of numpy arrays (testable without TensorFlow); the thresholds
are module constants, named once. Epochs in messages and in :class:`Symptom` are 1-based, as
Keras prints them (``Epoch 3/30``); function arguments and return values are 0-based indices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .lint import USUAL_LR_TOP
from .utils import plural

_TINY = 1e-7

# ----------------------------------------------------------------------------- thresholds

#: Rolling-median window over epochs: Keras's training accuracy is a running mean over the epoch's
#: batches, so one epoch can move by a batch's luck; a window of 3 ignores a one-epoch blip.
SMOOTH = 3
#: Epochs at the end of the run whose median is where the run ended.
TAIL = 3
#: Collapse: accuracy this far (absolute) below its best so far, at one epoch, is a collapse...
COLLAPSE_DROP = 0.10
#: ...and from this far, when it lasts to the end of the run, a degradation (the forum's "after
#: some epoch the training loss rose and accuracy fell").
DEGRADE_DROP = 0.03
#: In both, the loss is at least this many times its lowest so far, and this much above it
#: (a loss of 0.003 that becomes 0.009 is noise, not a jump).
COLLAPSE_JUMP = 1.5
COLLAPSE_ABS = 0.05
#: Per-sample: a recorded epoch in which this share of the rows the network had right turn wrong
#: is a mass forgetting (a healthy run forgets a few percent per epoch).
MASS_FORGETTING = 0.20
#: A loss rise: the run ends this far above its lowest (smoothed) loss, relative and absolute...
RISE_REL = 0.10
RISE_ABS = 0.02
#: ...and a rise of this relative size or more is a warning (below: info).
RISE_WARNING = 0.25
#: Loss and accuracy falling together: accuracy ends this far below its peak (absolute) while
#: the loss ends this much (relative) below its value at the peak.
FALL_ACC = 0.02
FALL_LOSS = 0.03
#: A plateau: over the last half of the run training accuracy gained less than PLATEAU_ACC and
#: over its last quarter (at least 3 epochs) the loss fell less than PLATEAU_LOSS (relative: a
#: loss that creeps down while accuracy stands still is the forum's "stops falling"); with no
#: accuracy in the history, the loss fell less than PLATEAU_REL. The loss must still be above
#: PLATEAU_MIN_LOSS and training accuracy under PLATEAU_MAX_ACC (a loss near 0 has nowhere to go).
PLATEAU_ACC = 0.01
PLATEAU_LOSS = 0.15
PLATEAU_REL = 0.05
PLATEAU_MIN_LOSS = 0.05
PLATEAU_MAX_ACC = 0.99
#: Runs shorter than this are not judged for a plateau.
PLATEAU_MIN_EPOCHS = 6
#: At the data's ceiling: the model gets this share of the rows whose labels look right right
#: (what is left wrong is the flagged rows), with at least this mean probability of their label
#: (a model that underfits is unsure everywhere, and the label verdicts of its own run then flag
#: the rows it cannot fit: it must not pass for one at the ceiling)...
CEILING_FIT = 0.97
CEILING_CONFIDENCE = 0.75
#: ...and a plateau at the ceiling is a warning when the flagged rows cost this much accuracy (below it,
#: a plateau at the ceiling is how training ends on real data: info).
CEILING_WARNING = 0.05
#: The rows behind a change: flagged rows that exert at least this share of the pull on the
#: weights (see :func:`pull`) and PULL_RATIO times their share of the rows.
PULL_SHARE = 0.15
PULL_RATIO = 3.0
#: Rows sampled to standardise the inputs for :func:`input_norms`.
NORM_SAMPLE = 20_000
#: Training data is "not clean" from this share of flagged training rows (label issues,
#: conflicting duplicates, outliers)...
DIRTY_SHARE = 0.02
#: ...and a change is carried by the data when at least this share of its carriers is flagged.
FLAGGED_MAJORITY = 0.5

#: The severity of each symptom (see :func:`dataaudit.checks.base.severity`); values are the
#: accuracy drop (collapse), the relative loss rise, the accuracy fall, and the accuracy the data
#: costs (plateau at the ceiling).
SEVERITY = {
    "collapse": {"warning": DEGRADE_DROP, "critical": COLLAPSE_DROP},
    "loss_rise": {"warning": RISE_WARNING},
    "loss_and_accuracy_fall": {"warning": FALL_ACC},
    "plateau_at_ceiling": {"warning": CEILING_WARNING},
    "plateau_short_of_ceiling": {"warning": 0.0},
}

#: The names Keras gives an accuracy metric, most common first.
ACCURACY_NAMES = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy")
#: What each row flag is called in the report.
FLAG_NAMES = {"label_issue": "label issues", "outlier": "outliers", "conflicting": "conflicting duplicates"}
#: The cause each row flag names.
FLAG_CAUSE = {"label_issue": "label_noise", "outlier": "outliers", "conflicting": "conflicting_duplicates"}


# ----------------------------------------------------------------------------- curves


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


def _end(values: np.ndarray) -> float:
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
        loss[epochs] = row_losses(logp_given[rows]).mean(axis=0)
        acc[epochs] = right(margin[rows]).mean(axis=0)
        out[split] = Curve(split, loss, acc, "accuracy", "record")
    return out


# ----------------------------------------------------------------------------- per-sample evidence


def row_losses(logp_given: np.ndarray) -> np.ndarray:
    """Per row and recorded epoch, the cross-entropy of the given label: ``-log p_given`` (the
    record keeps the log-probability itself, exact where the probability saturates).

    Examples
    --------
    >>> row_losses(np.log(np.array([[0.9, 0.5]]))).round(3).tolist()
    [[0.105, 0.693]]
    """
    return -np.asarray(logp_given, np.float64)


def right(margin: np.ndarray) -> np.ndarray:
    """Per row and recorded epoch, whether the network's answer is the given label: a positive
    margin ``log p_given - max over other classes of log p``."""
    return np.asarray(margin, np.float32) > 0


def forgetting_by_step(margin: np.ndarray) -> np.ndarray:
    """Per step between consecutive recorded epochs, the share of the rows right before the step
    that are wrong after it.

    Examples
    --------
    >>> margin = np.array([[2.0, 2.0, -1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, 2.0]])
    >>> forgetting_by_step(margin).round(3).tolist()
    [0.5, 0.5]
    """
    ok = right(margin)
    before = ok[:, :-1].sum(axis=0)
    lost = (ok[:, :-1] & ~ok[:, 1:]).sum(axis=0)
    return lost / np.maximum(before, 1)


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


def input_norms(features: np.ndarray, *, chunk: int = 65_536) -> np.ndarray:
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

    Parameters
    ----------
    labels : int ndarray (n,)
        The rows' label codes.
    n_classes : int
    label_issue, conflicting : bool ndarray (n,), optional
        The rows flagged as label issues / as members of conflicting duplicate groups.
    group : int ndarray (n,), optional
        Duplicate group ids (-1: none); needed with ``conflicting``.

    Returns
    -------
    dict
        ``accuracy`` (the ceiling), ``loss`` (the floor), ``lost_to_conflicts`` and
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
        for g in np.unique(np.asarray(group)[in_group]):
            members = labels[in_group & (np.asarray(group) == g)]
            counts = np.bincount(members, minlength=n_classes).astype(float)
            size = counts.sum()
            if size == 0:
                continue
            shares = counts[counts > 0] / size
            lost_groups += int(size - counts.max())
            loss_sum += float(size * -(shares * np.log(shares)).sum())
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


# ----------------------------------------------------------------------------- patterns in curves


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
    end_acc, end_loss = _end(accuracy), _end(loss)
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
    low, end = float(s[a]), _end(loss)
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
    end = _end(loss)
    fell = (s[start] - end) / max(s[start], _TINY)
    if end < PLATEAU_MIN_LOSS or fell <= -RISE_REL:
        return None
    has_acc = accuracy is not None and np.isfinite(accuracy).sum() >= len(finite) // 2
    if has_acc:
        accuracy = np.asarray(accuracy, float)
        sa = smooth(accuracy)
        end_acc = _end(accuracy)
        half = int(finite[len(finite) // 2])
        if end_acc >= PLATEAU_MAX_ACC or end_acc - sa[half] >= PLATEAU_ACC or fell >= PLATEAU_LOSS:
            return None
        stalled = np.flatnonzero(np.isfinite(sa) & (sa >= end_acc - PLATEAU_ACC))
    else:
        if fell >= PLATEAU_REL:
            return None
        stalled = np.flatnonzero(np.isfinite(s) & (s <= end * (1 + PLATEAU_REL)))
    return (int(stalled[0]) if len(stalled) else start), last


# ----------------------------------------------------------------------------- the diagnosis


@dataclass
class RowFlags:
    """What the data checks say about each recorded row (None: that check did not run)."""

    label_issue: np.ndarray | None = None
    outlier: np.ndarray | None = None
    conflicting: np.ndarray | None = None
    group: np.ndarray | None = None

    def names(self) -> list[str]:
        return [k for k in FLAG_NAMES if getattr(self, k) is not None]

    def any(self) -> np.ndarray | None:
        """Rows flagged by any check (None when no check ran)."""
        arrays = [getattr(self, k) for k in self.names()]
        return np.logical_or.reduce(arrays) if arrays else None

    def count(self, rows: np.ndarray) -> dict[str, int]:
        """How many of ``rows`` (indices) each check flags."""
        return {k: int(np.asarray(getattr(self, k))[rows].sum()) for k in self.names()}


@dataclass
class Symptom:
    """One pattern in a run, its cause and what the report says about it."""

    pattern: str
    split: str
    first_epoch: int  # 0-based
    last_epoch: int
    cause: str
    severity: str
    count: int
    message: str
    advice: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; epochs 1-based, as Keras prints them."""
        return {"pattern": self.pattern, "split": self.split, "epochs": [self.first_epoch + 1, self.last_epoch + 1],
                "cause": self.cause, "severity": self.severity, "count": int(self.count),
                **{k: _json(v) for k, v in self.details.items()}}


def _json(value):
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return round(float(value), 6) if np.isfinite(value) else None
    return value


def _grade(value: float, key: str) -> str:
    cut = SEVERITY[key]
    if value >= cut.get("critical", np.inf):
        return "critical"
    return "warning" if value >= cut["warning"] else "info"


def _pct(x: float) -> str:
    return f"{x:.1%}" if np.isfinite(x) else "n/a"


def _num(x: float) -> str:
    return f"{x:.3g}" if np.isfinite(x) else "NaN"


@dataclass
class _Run:
    """What the diagnosis reads, gathered once."""

    logp_given: np.ndarray
    margin: np.ndarray
    labels: np.ndarray
    in_training: np.ndarray
    epochs: np.ndarray  # recorded epochs, 0-based
    history: Mapping[str, np.ndarray]
    setup: Mapping[str, Any]
    flags: RowFlags
    n_classes: int
    setup_problems: list[tuple[str, str, str]]  # (severity, message, advice)
    norms: np.ndarray | None = None  # per recorded row, input_norms

    def __post_init__(self):
        self.losses = row_losses(self.logp_given)
        self.right = right(self.margin)
        self.p_given = np.exp(-self.losses)

    def step(self, epoch: int, *, after: bool) -> int:
        """The recorded column nearest an epoch: at or before it (window starts), at or after it (ends)."""
        e = np.asarray(self.epochs)
        pick = np.flatnonzero(e >= epoch) if after else np.flatnonzero(e <= epoch)
        if len(pick):
            return int(pick[0] if after else pick[-1])
        return int(np.argmin(np.abs(e - epoch)))

    def rows(self, split: str) -> np.ndarray:
        return self.in_training if split == "training" else ~self.in_training

    def flagged_share(self, mask: np.ndarray) -> float | None:
        flagged = self.flags.any()
        return None if flagged is None or not mask.any() else float(flagged[mask].mean())


def _flag_summary(counts: Mapping[str, int]) -> str:
    """``"29 label issues, 3 outliers"`` (zero counts left out), ``"none flagged"``, or
    ``"no data check ran"``."""
    if not counts:
        return "no data check ran"
    singular = {"label_issue": "label issue", "outlier": "outlier", "conflicting": "conflicting duplicate"}
    return ", ".join(plural(counts[k], singular[k], FLAG_NAMES[k]) for k in counts if counts[k]) or "none flagged"


def _lost(floor: Mapping[str, Any]) -> str:
    """What the ceiling is made of, in words."""
    parts = []
    if floor["lost_to_conflicts"]:
        parts.append(f"{plural(floor['lost_to_conflicts'], 'row')} lost to conflicting duplicates")
    if floor["lost_to_label_issues"]:
        parts.append(f"{plural(floor['lost_to_label_issues'], 'row')} flagged as label issues")
    return ", ".join(parts) or "nothing flagged"


def _dominant(counts: Mapping[str, int]) -> str | None:
    if not counts or max(counts.values()) == 0:
        return None
    return FLAG_CAUSE[max(counts, key=lambda k: counts[k])]


def _learning_rate_note(run: _Run, epoch: int) -> tuple[str, bool]:
    """What the learning rate was at ``epoch``, and whether it is above the optimizer's usual range
    or rose during the run."""
    lrs = np.asarray(run.history.get("learning_rate", []), float)
    lr = float(lrs[min(epoch, len(lrs) - 1)]) if len(lrs) and np.isfinite(lrs).any() else run.setup.get("learning_rate")
    name = str(run.setup.get("optimizer") or "")
    top = USUAL_LR_TOP.get(name.lower())
    if lr is None or not np.isfinite(lr):
        return "the learning rate", False
    parts = [f"the learning rate was {lr:g}"]
    high = False
    if len(lrs) and np.isfinite(lrs[0]) and lr > 2 * lrs[0]:
        parts.append(f"(it rose from {lrs[0]:g} at epoch 1)")
        high = True
    if top is not None and lr > top:
        parts.append(f"above {name}'s usual range (up to about {top:g})")
        high = True
    return " ".join(parts), high


def _collapse(run: _Run, train: Curve) -> Symptom | None:
    found = find_collapse(train.loss, train.accuracy)
    if found is None and train.accuracy is None and run.in_training.any() and len(run.epochs) >= 2:
        # No accuracy in the history: judge the recorded epochs (inference-mode accuracy of the rows).
        rec = curves({}, run.logp_given, run.margin, run.in_training, run.epochs)["training"]
        e = np.asarray(run.epochs)
        found = find_collapse(rec.loss[e], rec.accuracy[e])
        if found is not None:
            found["epoch"], found["best_epoch"] = int(e[found["epoch"]]), int(e[found["best_epoch"]])
    if found is None:
        return None
    steps = forgetting_by_step(run.margin[run.in_training]) \
        if run.in_training.any() and run.margin.shape[1] >= 2 else np.zeros(0)
    e, p = found["epoch"], found["best_epoch"]
    (best, at, end), (low, jumped, end_loss) = found["accuracy"], found["loss"]
    j = run.step(e, after=True)
    forgotten_share = float(steps[j - 1]) if 0 < j <= len(steps) else float("nan")
    if found["kind"] == "degradation" and forgotten_share >= MASS_FORGETTING:
        found["kind"] = "collapse"  # many rows forgotten at once: a collapse, however far accuracy fell
    train_rows = run.in_training
    forgotten = 0
    if 1 <= j < run.right.shape[1]:
        forgotten = int((run.right[train_rows, j - 1] & ~run.right[train_rows, j]).sum())
    if found["kind"] == "divergence":
        message = (f"training diverged at epoch {e + 1}: the loss became NaN/infinite after reaching {_num(low)}")
    elif found["kind"] == "collapse":
        message = (f"training collapsed at epoch {e + 1}: {train.accuracy_name} fell from {_pct(best)} (epoch {p + 1}) "
                   f"to {_pct(at)} and the loss jumped from {_num(low)} to {_num(jumped)}")
        if end < best - DEGRADE_DROP:
            message += f"; it ended at {_pct(end)}, loss {_num(end_loss)}"
    else:
        message = (f"training got worse from epoch {e + 1}: {train.accuracy_name} fell from {_pct(best)} (epoch {p + 1}) "
                   f"to {_pct(end)} at the end while the loss rose from {_num(low)} to {_num(end_loss)}")
    if forgotten and np.isfinite(forgotten_share):
        message += (f"; {plural(forgotten, 'training row')} ({forgotten_share:.0%} of those it had right) were forgotten "
                    f"between recorded epochs {int(run.epochs[j - 1]) + 1} and {int(run.epochs[j]) + 1}")
    lr_note, lr_high = _learning_rate_note(run, e)
    problems = [p for p in run.setup_problems if p[0] in ("warning", "critical")]
    advice = ["Not the data: the rows were the same in every epoch, the weights changed."]
    if problems:
        advice.append("Your set-up has " + ("a problem" if len(problems) == 1 else f"{len(problems)} problems")
                      + " (setup check): " + "; ".join(f"{m} ({a.rstrip('.')})" for _, m, a in problems) + ".")
        advice.append(f"Then the learning rate: {lr_note}.")
        cause = "setup"
    else:
        advice.append(f"The learning rate or the optimiser: {lr_note}"
                      + (": too high for this model." if lr_high else ": too high for this model at this point of training."))
        cause = "learning_rate"
    advice.append("Lower it about 10x (or schedule it down: keras.callbacks.ReduceLROnPlateau), add clipnorm=1.0 to "
                  "the optimizer, and keep the best epoch's weights (keras.callbacks.EarlyStopping("
                  "restore_best_weights=True) or ModelCheckpoint(save_best_only=True)). This run's label verdicts "
                  "average in the broken epochs: rescan a run that trains cleanly before acting on them.")
    severity = "critical" if found["kind"] in ("collapse", "divergence") else _grade(found["drop"], "collapse")
    details = {"kind": found["kind"], "accuracy_best": best, "accuracy_at": at, "accuracy_end": end,
               "loss_before": low, "loss_at": jumped, "loss_end": end_loss, "forgotten_rows": forgotten,
               "forgotten_share": forgotten_share, "setup_problems": len(problems)}
    return Symptom("collapse", "training", p if found["kind"] != "divergence" else e, e, cause, severity,
                   max(forgotten, 1), message, " ".join(advice), details)


def _carried(run: _Run, split: str, a: int, b: int, *, falling: bool = False) -> dict[str, Any] | None:
    """The rows of a split that carry the change of its loss between epochs a and b."""
    mask = run.rows(split)
    ia, ib = run.step(a, after=False), run.step(b, after=True)
    if ia >= ib or not mask.any():
        return None
    idx = np.flatnonzero(mask)
    before, after = run.losses[idx, ia], run.losses[idx, ib]
    carry = carriers(after, before) if falling else carriers(before, after)
    total_after = float(after.sum())
    out = {
        "from_epoch": int(run.epochs[ia]), "to_epoch": int(run.epochs[ib]),
        "net_change": float((after - before).sum() / len(idx)),
        "rows": idx[carry],
        "n": int(len(carry)),
        "share_of_rows": len(carry) / len(idx),
        "share_of_loss": float(after[carry].sum() / total_after) if total_after > 0 else 0.0,
        "flags": run.flags.count(idx[carry]),
    }
    flagged = run.flags.any()
    out["flagged"] = int(flagged[idx[carry]].sum()) if flagged is not None else None
    out["turned_wrong"] = int((run.right[idx, ia] & ~run.right[idx, ib]).sum())
    out["turned_right"] = int((~run.right[idx, ia] & run.right[idx, ib]).sum())
    return out


def _rise(run: _Run, curve: Curve, train: Curve | None) -> Symptom | None:
    found = find_rise(curve.loss)
    if found is None:
        return None
    a, b = found
    low, end = float(smooth(curve.loss)[a]), _end(curve.loss)
    rel = (end - low) / max(low, _TINY)
    split = curve.split
    # Which accuracy rose (or held) while the loss rose.
    acc_text, acc_rose = "", False
    candidates = [curve] + ([train] if train is not None and train is not curve else [])
    for c in candidates:
        if c.accuracy is None or not np.isfinite(c.accuracy[a]):
            continue
        start_acc, end_acc = float(smooth(c.accuracy)[a]), _end(c.accuracy)
        if end_acc >= start_acc + 0.005 or (c is curve and end_acc >= start_acc - FALL_ACC):
            word = "rose" if end_acc >= start_acc + 0.005 else "held"
            name = ("validation " if c.split == "validation" else "training ") + c.accuracy_name
            acc_text = f" while {name} {word} from {_pct(start_acc)} to {_pct(end_acc)}"
            acc_rose = True
            break
    train_fell = False
    if split == "validation" and train is not None:
        t = smooth(train.loss)
        if np.isfinite(t[a]) and _end(train.loss) <= t[a]:
            train_fell = True
    if split == "validation" and not train_fell:
        return None  # both losses rise: a collapse or a degradation, judged on the training curve
    if split == "training" and not acc_rose:
        return None  # loss up, accuracy down: a collapse or a degradation
    carried = _carried(run, split, a, b)
    train_share = run.flagged_share(run.in_training)
    message = (f"{split} loss rose from {_num(low)} (epoch {a + 1}) to {_num(end)} (epoch {b + 1}, +{rel:.0%})"
               + acc_text)
    if split == "validation" and train_fell:
        message += f", and the training loss fell from {_num(float(smooth(train.loss)[a]))} to {_num(_end(train.loss))}"
    details: dict[str, Any] = {"loss_from": low, "loss_to": end, "relative_rise": rel}
    count = 0
    cause, pattern = "unknown", "loss_up_accuracy_up"
    if carried is not None and carried["n"]:
        count = carried["n"]
        one = carried["n"] == 1
        message += (f": {plural(carried['n'], split + ' row')} ({carried['share_of_rows']:.0%}) "
                    f"{'carries' if one else 'carry'} the whole rise and {'holds' if one else 'hold'} "
                    f"{carried['share_of_loss']:.0%} of the {split} loss at epoch {carried['to_epoch'] + 1}")
        if carried["flags"]:
            message += f" ({_flag_summary(carried['flags'])})"
        details.update({"carriers": carried["n"], "carriers_share_of_rows": carried["share_of_rows"],
                        "carriers_share_of_loss": carried["share_of_loss"], "carriers_flagged": carried["flags"],
                        "carriers_rows": [int(i) for i in carried["rows"][:20]]})
    flagged_majority = (carried is not None and carried.get("flagged") is not None and carried["n"] > 0
                        and carried["flagged"] >= FLAGGED_MAJORITY * carried["n"])
    details["training_rows_flagged"] = train_share
    n_train = int(run.in_training.sum())
    if split == "training" and carried is None:
        advice = ("The per-sample record has no two recorded epochs in this window to split the rise by rows; "
                  "record more epochs (AuditCallback records up to 100) to tell the data from the set-up.")
    elif split == "training" and carried["n"] == 0:
        cause = "regularisation"
        advice = (f"Your rows' own losses did not rise (recorded per-sample loss {carried['net_change']:+.3g} per row "
                  "over these epochs): what rose is the part of the reported loss that is not the rows' -- the weight "
                  "penalty (kernel_regularizer) or the Dropout noise, which grow as the weights grow. Not the data. "
                  "Lower the regularisation, or judge the run by the validation loss.")
    elif flagged_majority and split == "training":
        cause = _dominant(carried["flags"]) or "label_noise"
        advice = ("The data: the rows whose loss rose are flagged rows whose labels contradict what the other rows "
                  "teach; as the network grows more confident in that, it grows more confidently wrong on them, and "
                  "their loss outgrows what the rest gain while accuracy still rises. Not the optimiser. Fix or "
                  "down-weight those rows (samples.csv: is_label_issue, suggested_label, is_outlier, "
                  "is_conflicting_duplicate; fit(..., sample_weight=report.sample_weight()) or "
                  "report.clean_data(X, y, relabel=True)).")
    elif flagged_majority and train_share is not None and train_share >= DIRTY_SHARE:
        cause = _dominant(carried["flags"]) or "label_noise"
        n_flagged_train = int(run.flags.any()[run.in_training].sum())
        advice = (f"The data: the network is learning {plural(n_flagged_train, 'flagged training row')} by heart "
                  f"({_flag_summary(run.flags.count(np.flatnonzero(run.in_training)))} among the {n_train:,} "
                  "training rows); accuracy keeps climbing as it memorises them, while on the rows whose labels "
                  "disagree with what it learned it grows ever more confidently wrong, and the loss rises. Not the "
                  "optimiser. Fix or down-weight those rows (samples.csv: is_label_issue, suggested_label, is_outlier, "
                  "is_conflicting_duplicate; fit(..., sample_weight=report.sample_weight()) or report.clean_data(X, y, "
                  f"relabel=True)); until then stop at epoch {a + 1} "
                  "(keras.callbacks.EarlyStopping(monitor='val_loss', restore_best_weights=True)).")
    elif split == "validation":
        pattern = "train_val_parting"
        if train_share is None:
            cause = "unknown"
            advice = ("Overfitting or bad labels: without the label_issues, duplicates and outliers checks the report "
                      "cannot tell whether the training data is clean; run them (the default). ")
        else:
            cause = "overfitting"
            if train_share < DIRTY_SHARE:
                advice = (f"Overfitting, not the data: the training data looks clean ({train_share:.1%} of the "
                          f"{n_train:,} training rows flagged), the network fits it ever more closely and what it "
                          "learns there stops carrying over to new rows")
            else:
                advice = (f"Overfitting: {train_share:.1%} of the {n_train:,} training rows are flagged, but the rows "
                          "carrying the rise are mostly not; the network fits its training rows ever more closely and "
                          "what it learns there stops carrying over to new rows")
            if carried is not None and carried["n"]:
                advice += "; the validation rows it gets wrong, it gets wrong ever more confidently"
            advice += ". "
        advice += (f"Stop at epoch {a + 1} (keras.callbacks.EarlyStopping(monitor='val_loss', patience=3, "
                   "restore_best_weights=True)), and regularise: more training data or augmentation, Dropout, "
                   "weight decay, a smaller network.")
        message = message.replace(f"{split} loss rose", "training and validation part: validation loss rose", 1)
    else:
        cause = "optimisation"
        advice = ("The rows carrying the rise are mostly not flagged: the network grows confidently wrong on rows it "
                  "had right, usually a learning rate too high for this point of training; lower it "
                  "(keras.callbacks.ReduceLROnPlateau) and keep the best epoch (EarlyStopping(restore_best_weights=True)).")
    severity = _grade(rel, "loss_rise")
    return Symptom(pattern, split, a, b, cause, severity, count, message, advice, details)


def _pulling(run: _Run, a: int, b: int) -> dict[str, Any] | None:
    """Flagged training rows (outliers, conflicting duplicates) whose pull on the weights over
    epochs a..b is out of proportion: at least PULL_SHARE of it, and PULL_RATIO times their share
    of the rows. None when there are none (or no input norms, or no such flags)."""
    f = run.flags
    arrays = [a_ for a_ in (f.outlier, f.conflicting) if a_ is not None]
    if run.norms is None or not arrays:
        return None
    mask = run.in_training
    flagged = np.logical_or.reduce(arrays)[mask]
    if not flagged.any() or flagged.all():
        return None
    ia, ib = run.step(a, after=False), run.step(b, after=True)
    per_row = pull(run.p_given[mask, ia:ib + 1], run.norms[mask]).mean(axis=1)
    total = float(per_row.sum())
    if total <= 0:
        return None
    share = float(per_row[flagged].sum() / total)
    row_share = float(flagged.mean())
    if share < PULL_SHARE or share < PULL_RATIO * row_share:
        return None
    rows = np.flatnonzero(mask)[flagged]
    counts = {k: v for k, v in f.count(rows).items() if k in ("outlier", "conflicting")}
    return {"n": int(flagged.sum()), "share_of_rows": row_share, "share_of_pull": share, "flags": counts}


def _fall(run: _Run, curve: Curve) -> Symptom | None:
    if curve.accuracy is None:
        return None
    found = find_fall_together(curve.loss, curve.accuracy)
    if found is None:
        return None
    p, b = found
    split = curve.split
    acc_peak, acc_end = float(smooth(curve.accuracy)[p]), _end(curve.accuracy)
    loss_peak, loss_end = float(smooth(curve.loss)[p]), _end(curve.loss)
    carried = _carried(run, split, p, b, falling=True)
    message = (f"{split} loss and {curve.accuracy_name} fall together: from epoch {p + 1} to {b + 1} the loss fell from "
               f"{_num(loss_peak)} to {_num(loss_end)} while {curve.accuracy_name} fell from {_pct(acc_peak)} to "
               f"{_pct(acc_end)}")
    details: dict[str, Any] = {"accuracy_from": acc_peak, "accuracy_to": acc_end, "loss_from": loss_peak,
                               "loss_to": loss_end}
    cause, count = "unknown", 0
    if carried is not None and carried["n"]:
        count = carried["n"]
        message += (f": {plural(carried['n'], split + ' row')} ({carried['share_of_rows']:.0%}) "
                    f"{'carries' if carried['n'] == 1 else 'carry'} the loss's fall"
                    + (f" ({_flag_summary(carried['flags'])})" if carried["flags"] else "")
                    + f", while {plural(carried['turned_wrong'], 'row')} it had right turned wrong")
        details.update({"carriers": carried["n"], "carriers_flagged": carried["flags"],
                        "turned_wrong": carried["turned_wrong"], "turned_right": carried["turned_right"],
                        "carriers_rows": [int(i) for i in carried["rows"][:20]]})
        if carried.get("flagged") is not None and carried["flagged"] >= FLAGGED_MAJORITY * carried["n"]:
            counts = {k: v for k, v in carried["flags"].items() if k in ("outlier", "conflicting")} or carried["flags"]
            cause = _dominant(counts) or _dominant(carried["flags"]) or "unknown"
    behind = _pulling(run, p, b)
    if behind is not None:
        details.update({"pulling_rows": behind["n"], "pulling_share_of_rows": behind["share_of_rows"],
                        "pulling_share_of_pull": behind["share_of_pull"], "pulling_flagged": behind["flags"]})
        message += (f"; {plural(behind['n'], 'flagged training row')} ({behind['share_of_rows']:.1%} of them; "
                    f"{_flag_summary(behind['flags'])}) exert {behind['share_of_pull']:.0%} of the pull on the weights")
        if cause == "unknown":
            cause = _dominant(behind["flags"]) or "unknown"
            count = behind["n"]
    if cause in ("outliers", "conflicting_duplicates", "label_noise"):
        advice = ("The data: a few rows pull on the weights far harder than their number -- far-out inputs "
                  "(outliers) and identical inputs with different labels (conflicting duplicates), which no prediction "
                  "can settle. To quiet them the network gives up part of what the ordinary rows taught it: the loss "
                  "keeps falling (the rows it still fits grow more confident) while accuracy falls. Fix or remove "
                  "those rows (samples.csv: is_outlier, is_conflicting_duplicate; report.clean_data(X, y)), or "
                  "down-weight them (fit(..., sample_weight=report.sample_weight())); scale your inputs "
                  "(RobustScaler), and clipnorm=1.0 in the optimizer limits how hard one row can pull.")
    else:
        advice = ("The rows carrying the loss's fall are not flagged by the data checks. Loss and accuracy part when "
                  "the loss is weighted and accuracy is not (class_weight, sample_weight: the loss favours the "
                  "weighted rows), or when a regulariser's share of the loss falls; check those, and compare with "
                  "an unweighted run.")
    return Symptom("loss_and_accuracy_fall", split, p, b, cause, _grade(acc_peak - acc_end, "loss_and_accuracy_fall"),
                   count, message, advice, details)


def _plateau(run: _Run, train: Curve) -> Symptom | None:
    found = find_plateau(train.loss, train.accuracy)
    if found is None:
        return None
    s, b = found
    mask = run.in_training
    if not mask.any():
        return None
    end_loss = _end(train.loss)
    acc_end = _end(train.accuracy) if train.accuracy is not None else float("nan")
    last = run.right.shape[1] - 1
    rec_right = run.right[mask, last]
    rec_acc = float(rec_right.mean())
    rec_loss = float(run.losses[mask, last].mean())
    f = run.flags
    have = f.label_issue is not None or (f.conflicting is not None and f.group is not None)
    floor = data_floor(run.labels[mask], run.n_classes,
                       label_issue=None if f.label_issue is None else f.label_issue[mask],
                       group=None if f.group is None else f.group[mask],
                       conflicting=None if f.conflicting is None else f.conflicting[mask])
    flagged = f.any()
    clean = ~flagged[mask] if flagged is not None else np.ones(int(mask.sum()), bool)
    fit_clean = float(rec_right[clean].mean()) if clean.any() else float("nan")
    conf_clean = float(np.asarray(run.p_given[mask][clean, last], float).mean()) if clean.any() else float("nan")
    message = (f"the training loss stopped falling from epoch {s + 1}: {_num(end_loss)} at epoch {b + 1}"
               + (f", {train.accuracy_name} {_pct(acc_end)}" if np.isfinite(acc_end) else ""))
    details = {"loss_end": end_loss, "accuracy_end": acc_end, "recorded_accuracy": rec_acc, "recorded_loss": rec_loss,
               "accuracy_ceiling": floor["accuracy"], "loss_floor": floor["loss"],
               "accuracy_on_unflagged_rows": fit_clean}
    if not have:
        message += "; without the label_issues and duplicates checks the data's ceiling is unknown"
        advice = ("Run the label_issues and duplicates checks (the default) to tell whether the model is at the data's "
                  "ceiling or short of it (capacity or optimisation).")
        return Symptom("plateau", "training", s, b, "unknown", "info", 0, message, advice, details)
    n_flagged = int((~clean).sum())
    at_ceiling = fit_clean >= CEILING_FIT and conf_clean >= CEILING_CONFIDENCE
    if at_ceiling:
        cause = "data_ceiling"
        message += (f"; these labels allow at most {_pct(floor['accuracy'])} accuracy and a loss of "
                    f"{_num(floor['loss'])} ({_lost(floor)}), and the run ends at "
                    f"{_pct(rec_acc)}, loss {_num(rec_loss)} (recorded rows)")
        advice = (f"Your model is at the data's ceiling: it answers {_pct(fit_clean)} of the rows whose labels look "
                  f"right correctly; what is left is the {plural(n_flagged, 'flagged row')}, which a model can only learn by "
                  "heart. More capacity, more epochs or another optimiser will not move this loss; fixing the data "
                  "will (samples.csv: is_label_issue, suggested_label, is_conflicting_duplicate; "
                  "report.clean_data(X, y, relabel=True), or fit(..., sample_weight=report.sample_weight())).")
        severity = _grade(1.0 - floor["accuracy"], "plateau_at_ceiling")
        count = n_flagged
    else:
        cause = "capacity_or_optimisation"
        wrong = int((~rec_right[clean]).sum())
        message += f"; the run ends at {_pct(rec_acc)}, loss {_num(rec_loss)} (recorded rows)"
        advice = ("Not the data's ceiling: capacity or optimisation. The model has not learned what the labels "
                  "agree on: a larger model (more units or layers), a learning-rate schedule "
                  "(keras.callbacks.ReduceLROnPlateau) or a lower learning rate for more epochs; check that the "
                  "inputs are scaled.")
        if conf_clean < CEILING_CONFIDENCE:
            message += (f", unsure even of the rows whose labels look right (mean probability of their label "
                        f"{conf_clean:.2f})")
            advice += (" The label verdicts of a run that underfits flag the rows it cannot fit, not necessarily "
                       "wrong labels: judge the labels with a probe too (dataaudit.scan(X, y, dynamics=..., "
                       "model='ensemble')).")
        else:
            message += (f", short of what these labels allow ({_pct(floor['accuracy'])}): it answers only "
                        f"{_pct(fit_clean)} of the rows whose labels look right correctly")
        severity = _grade(1.0, "plateau_short_of_ceiling")
        count = wrong
    details["confidence_on_unflagged_rows"] = conf_clean
    return Symptom("plateau", "training", s, b, cause, severity, count, message, advice, details)


def diagnose(logp_given: np.ndarray, margin: np.ndarray, labels: np.ndarray, in_training: np.ndarray,
             epochs: np.ndarray, history: Mapping[str, Sequence[float]], *, n_classes: int,
             setup: Mapping[str, Any] | None = None, flags: RowFlags | None = None,
             setup_problems: Sequence[tuple[str, str, str]] = (), norms: np.ndarray | None = None) -> list[Symptom]:
    """Every symptom of a run, with its cause, most serious first.

    Parameters
    ----------
    logp_given, margin : ndarray (m, E)
        Per recorded row and recorded epoch: the log-probability of the row's label, and its margin
        over the most likely other class (:class:`dataaudit.dynamics.TrainingRecord`).
    labels : int ndarray (m,)
        The recorded rows' label codes.
    in_training : bool ndarray (m,)
        False for rows Keras held out (``validation_split``).
    epochs : int ndarray (E,)
        The recorded epochs (0-based).
    history : dict of str to sequence
        ``model.fit``'s history (any metric names; missing keys are fine).
    n_classes : int
    setup : dict, optional
        The model's set-up (optimizer, learning rate).
    flags : RowFlags, optional
        The data checks' verdicts on the recorded rows.
    setup_problems : sequence of (severity, message, advice)
        The set-up check's findings.
    norms : ndarray (m,), optional
        Per recorded row, the length of its standardised input (:func:`input_norms`): lets the
        diagnosis weigh how hard each row pulls on the weights (:func:`pull`).

    Returns
    -------
    list of Symptom

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pg = np.clip(np.linspace(0.55, 0.99, 8)[None, :] + rng.normal(0, 0.01, (50, 8)), 0.01, 0.99)
    >>> logp, margin = np.log(pg), np.log(pg) - np.log(1 - pg)
    >>> history = {"loss": np.linspace(0.7, 0.02, 8), "accuracy": np.linspace(0.6, 1.0, 8)}
    >>> diagnose(logp, margin, np.zeros(50, int), np.ones(50, bool), np.arange(8), history, n_classes=2)
    []
    """
    history = {k: np.asarray(v, float) for k, v in (history or {}).items()}
    run = _Run(np.asarray(logp_given, np.float64), np.asarray(margin, np.float64), np.asarray(labels),
               np.asarray(in_training, bool),
               np.asarray(epochs), history, dict(setup or {}), flags or RowFlags(), int(n_classes),
               list(setup_problems), None if norms is None else np.asarray(norms, float))
    found = curves(history, run.logp_given, run.margin, run.in_training, run.epochs)
    train, val = found.get("training"), found.get("validation")
    symptoms: list[Symptom] = []
    collapse = _collapse(run, train) if train is not None else None
    if collapse is not None:
        symptoms.append(collapse)
    else:
        for curve in (val, train):
            if curve is None:
                continue
            symptom = _rise(run, curve, train) or _fall(run, curve)
            if symptom is not None:
                symptoms.append(symptom)
        falls = {s.split: s for s in symptoms if s.pattern == "loss_and_accuracy_fall"}
        if len(falls) == 2:  # one story: told on the training rows, the validation rows as a witness
            v, t = falls["validation"], falls["training"]
            t.message += (f"; on the validation rows too (epochs {v.first_epoch + 1}-{v.last_epoch + 1}: "
                          f"{_pct(v.details['accuracy_from'])} to {_pct(v.details['accuracy_to'])})")
            symptoms.remove(v)
        if train is not None and not any(s.split == "training" for s in symptoms):
            plateau = _plateau(run, train)
            if plateau is not None:
                symptoms.append(plateau)
    order = {"critical": 0, "warning": 1, "info": 2}
    symptoms.sort(key=lambda s: order[s.severity])
    return symptoms


__all__ = ["Curve", "RowFlags", "Symptom", "carriers", "curves", "data_floor", "diagnose", "find_collapse",
           "find_fall_together", "find_plateau", "find_rise", "forgetting_by_step", "input_norms", "pull",
           "row_losses", "smooth"]
