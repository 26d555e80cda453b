"""Stratified folds dealt from the row order, the same for any split of the rows into blocks.

Within each class, its rows (in input order) are taken K at a time; the i-th of each group of K
goes to fold ``(i + r) mod K``, where the rotation ``r`` is a seeded hash of (class, group).
Every fold gets the same number of each class's rows (to one), which rows go where is random
under the seed, and a row's fold depends only on its class, its rank in its class and the seed:
a block of rows needs only how many rows of each class came before it. So one process and a
Dask cluster holding the rows in partitions deal the same folds.
"""

from __future__ import annotations

import numpy as np

_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a well-spread 64-bit hash of each uint64.

    Examples
    --------
    >>> mix64(np.array([1, 2], np.uint64)).tolist() != mix64(np.array([1, 3], np.uint64)).tolist()
    True
    """
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _MIX1
        x = (x ^ (x >> np.uint64(27))) * _MIX2
        return x ^ (x >> np.uint64(31))


def class_ranks(labels: np.ndarray, n_classes: int, before: np.ndarray | None = None) -> np.ndarray:
    """Each row's rank among the rows of its class (0 for the first), given ``before[c]`` rows of
    class c in earlier blocks.

    Examples
    --------
    >>> class_ranks(np.array([1, 0, 1, 1]), 2, before=np.array([5, 0])).tolist()
    [0, 5, 1, 2]
    """
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels, minlength=n_classes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(len(labels)) - np.repeat(starts, counts)
    if before is not None:
        rank += np.asarray(before, dtype=np.int64)[labels]
    return rank


def deal_folds(labels: np.ndarray, n_folds: int, random_state: int, *, n_classes: int | None = None,
               before: np.ndarray | None = None) -> np.ndarray:
    """The fold of each row of a block (module notes); ``before[c]``: rows of class c in the
    blocks before this one (None: this is the first block, or all the rows).

    Examples
    --------
    >>> labels = np.array([0] * 6 + [1] * 4)
    >>> folds = deal_folds(labels, 2, 0)
    >>> np.bincount(folds[labels == 0]).tolist(), np.bincount(folds[labels == 1]).tolist()
    ([3, 3], [2, 2])
    >>> bool((deal_folds(labels[4:], 2, 0, before=np.array([4, 0])) == folds[4:]).all())
    True
    """
    labels = np.asarray(labels, dtype=np.int64)
    n_classes = int(labels.max()) + 1 if n_classes is None else n_classes
    rank = class_ranks(labels, n_classes, before)
    group = (rank // n_folds).astype(np.uint64)
    seeded = mix64(np.uint64(int(random_state) % 2**64) ^ labels.astype(np.uint64))
    rotation = (mix64(seeded ^ mix64(group)) % np.uint64(n_folds)).astype(np.int64)
    return (rank % n_folds + rotation) % n_folds


__all__ = ["class_ranks", "deal_folds", "mix64"]
