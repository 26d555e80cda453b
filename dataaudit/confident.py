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


# ----------------------------------------------------------------------------- from mergeable summaries
#
# The same verdict as find_issues (cleanlab's default rule) computed over blocks of rows that are
# never gathered: per-class sums give the thresholds, per-block confident counts summed give the
# confident joint, the driver turns it into the number to prune per class pair, and each pair's
# cut-off margin comes from the blocks' best candidates merged two by two. Only K x K numbers and
# each pair's candidates (at most the rows it prunes) ever leave a block. ``blocks`` is a
# :class:`dataaudit.blocks.Blocks`: a list of numpy blocks here, partitions on a Dask cluster.

#: cleanlab's constants (cleanlab.internal.constants), restated: its thresholds' lower bound, the
#: threshold for a class absent from the labels, and the tolerance of its comparisons.
THRESHOLD_LOWER_BOUND = 2e-6
ABSENT_THRESHOLD = 2.0
TOLERANCE = 1e-6


def _present_probs(probs: np.ndarray, present: np.ndarray) -> np.ndarray:
    """The columns of the classes present in the labels, rows renormalised (as find_issues does)."""
    sub = probs[:, present]
    return sub / np.maximum(sub.sum(axis=1, keepdims=True), 1e-12)


def label_sums(labels: np.ndarray, probs: np.ndarray, n_classes: int) -> np.ndarray:
    """Per class: its rows and the sum of their probability of it, ``(2, K)`` (mergeable by +)."""
    return np.stack([np.bincount(labels, minlength=n_classes).astype(np.float64),
                     np.bincount(labels, weights=probs[np.arange(len(labels)), labels], minlength=n_classes)])


def thresholds_from(sums: np.ndarray) -> np.ndarray:
    """cleanlab's confident thresholds from summed :func:`label_sums`: each class's mean
    probability of its own label (``ABSENT_THRESHOLD`` for a class without rows), bounded below."""
    counts, totals = sums
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, totals / np.maximum(counts, 1), ABSENT_THRESHOLD)
    return np.clip(mean, THRESHOLD_LOWER_BOUND, None)


def confident_counts(labels: np.ndarray, probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """This block's confident joint before calibration, ``[given, guessed]`` (mergeable by +):
    rows confident of at least one class, guessed as cleanlab guesses (the confident class, or the
    most probable one when several are confident)."""
    k = probs.shape[1]
    confident = probs >= thresholds - TOLERANCE
    n_confident = confident.sum(axis=1)
    guess = np.where(n_confident > 1, probs.argmax(axis=1), confident.argmax(axis=1))
    keep = n_confident > 0
    return np.bincount(labels[keep] * k + guess[keep], minlength=k * k).reshape(k, k)


def prune_counts(joint_counts: np.ndarray, label_counts: np.ndarray) -> np.ndarray:
    """How many rows of given class k to prune as truly class j, ``[j, k]``: cleanlab's
    calibration of the summed confident joint and its ``prune_by_noise_rate`` counts."""
    from cleanlab.filter import _keep_at_least_n_per_class
    from cleanlab.internal.util import round_preserving_row_totals

    joint = joint_counts.copy()
    np.fill_diagonal(joint, joint.diagonal().clip(min=1))
    calibrated = (joint.T / np.clip(joint.sum(axis=1), 1e-100, None) * label_counts).T
    calibrated = calibrated / np.clip(calibrated.sum(), 1e-100, None) * label_counts.sum()
    joint = round_preserving_row_totals(calibrated)
    return _keep_at_least_n_per_class(joint.T, n=1, frac_noise=1.0)


def pair_margins(labels: np.ndarray, probs: np.ndarray, given: int, true: int) -> np.ndarray:
    """``p(true) - p(given)`` of the rows labelled ``given`` (the others: -inf)."""
    return np.where(labels == given, probs[:, true] - probs[:, given], -np.inf)


def top_margins(labels: np.ndarray, probs: np.ndarray, wanted: dict[tuple[int, int], int]) -> dict:
    """Per (given, true) pair, this block's ``wanted[pair]`` largest margins, largest first."""
    out = {}
    for (given, true), m in wanted.items():
        margin = pair_margins(labels, probs, given, true)
        margin = margin[np.isfinite(margin)]
        top = margin if len(margin) <= m else np.partition(margin, len(margin) - m)[len(margin) - m:]
        out[(given, true)] = np.sort(top)[::-1]
    return out


def merge_top(a: dict, b: dict, wanted: dict[tuple[int, int], int]) -> dict:
    """Two blocks' :func:`top_margins` merged: each pair's largest, at most ``wanted[pair]``."""
    return {pair: np.sort(np.concatenate([a[pair], b[pair]]))[::-1][:m] for pair, m in wanted.items()}


def cut_counts(labels: np.ndarray, probs: np.ndarray, cutoffs: dict[tuple[int, int], float]) -> np.ndarray:
    """Per pair, this block's rows above its cut-off and at it, ``(pairs, 2)``."""
    out = np.zeros((len(cutoffs), 2), dtype=np.int64)
    for i, (pair, cut) in enumerate(cutoffs.items()):
        margin = pair_margins(labels, probs, *pair)
        out[i] = (margin > cut).sum(), (margin == cut).sum()
    return out


def block_flags(labels: np.ndarray, probs: np.ndarray, cutoffs: dict[tuple[int, int], float],
                tie_quota: np.ndarray) -> np.ndarray:
    """The verdict on one block's rows: a row is flagged for a pair when its margin is above the
    pair's cut-off, or at it and among the block's first ``tie_quota[pair]`` such rows (ties
    broken by row order); never when its given label is its most probable one."""
    flagged = np.zeros(len(labels), dtype=bool)
    for i, (pair, cut) in enumerate(cutoffs.items()):
        margin = pair_margins(labels, probs, *pair)
        flagged |= margin > cut
        if tie_quota[i] > 0:
            flagged[np.flatnonzero(margin == cut)[: tie_quota[i]]] = True
    nudged = probs.copy()
    nudged[np.arange(len(labels)), labels] += TOLERANCE
    flagged &= nudged.argmax(axis=1) != labels
    return flagged


def _blockwise(labels: np.ndarray, probs: np.ndarray, present: np.ndarray, fn, *args):
    """``fn`` on a block in the codes of the present classes."""
    remap = np.full(int(present.max()) + 1, -1)
    remap[present] = np.arange(len(present))
    return fn(remap[labels], _present_probs(probs, present), *args)


def find_issues_merged(blocks, n_classes: int):
    """:func:`find_issues` over ``blocks`` of ``(labels, probs)``, from mergeable summaries
    (module notes); returns the blocks' flags (``blocks.map_rows``'s result).

    Identical to cleanlab's ``find_label_issues(filter_by="prune_by_noise_rate")`` except among
    rows whose margins tie exactly at a pair's cut-off: cleanlab takes them in its sort's order,
    this takes the first rows.

    Examples
    --------
    >>> from dataaudit.blocks import LocalBlocks
    >>> probs = np.array([[0.9, 0.1]] * 5 + [[0.1, 0.9]] * 5)
    >>> labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    >>> blocks = LocalBlocks([(labels[:3], probs[:3]), (labels[3:], probs[3:])])
    >>> np.concatenate(find_issues_merged(blocks, 2)).nonzero()[0].tolist()
    [4]
    """
    counts = blocks.reduce(lambda labels, probs: np.bincount(labels, minlength=n_classes), np.add)
    present = np.flatnonzero(counts > 0)
    if len(present) < 2:
        return blocks.map_rows(lambda labels, probs: np.zeros(len(labels), dtype=bool))
    sums = blocks.reduce(_blockwise, np.add, present, label_sums, len(present))
    thresholds = thresholds_from(sums)
    joint = blocks.reduce(_blockwise, np.add, present, confident_counts, thresholds)
    prune = prune_counts(joint, sums[0])
    k = len(present)
    wanted = {(given, true): int(prune[true, given]) for given in range(k) for true in range(k)
              if given != true and prune[true, given] > 0}
    if not wanted:
        return blocks.map_rows(lambda labels, probs: np.zeros(len(labels), dtype=bool))
    top = blocks.reduce(_blockwise, lambda a, b: merge_top(a, b, wanted), present, top_margins, wanted)
    cutoffs = {pair: float(top[pair][wanted[pair] - 1]) for pair in wanted}
    per_block = blocks.map(_blockwise, present, cut_counts, cutoffs)
    above = np.sum([c[:, 0] for c in per_block], axis=0)
    quota_left = np.array([wanted[p] for p in cutoffs]) - above
    quotas = []
    for c in per_block:  # blocks in row order: the first tied rows get the quota
        take = np.clip(np.minimum(c[:, 1], quota_left), 0, None)
        quotas.append(take)
        quota_left = quota_left - take
    return blocks.map_rows(_blockwise, present, block_flags, cutoffs, per_block=quotas)
