"""Label statistics of row groups (duplicate groups), vectorised: no loop over groups."""

from __future__ import annotations

import numpy as np


def group_label_stats(group: np.ndarray, labels: np.ndarray, n_classes: int) -> dict[str, np.ndarray]:
    """Per-group size, distinct-label count and majority-label count (pure numpy).

    Parameters
    ----------
    group : ndarray (n,)
        Group id per sample, ``-1`` for none; ids are ``0..G-1``.
    labels : ndarray (n,)
        Label codes.

    Returns
    -------
    dict with arrays of length G: ``size``, ``n_labels``, ``majority_count``, ``majority_label``;
    per (group, label) pair present: ``pair_group`` and ``pair_count``; and per row (length n; a
    row in no group is a group of one): ``row_size``, ``same_label`` (members of the row's group
    carrying its label) and ``is_majority`` (its label is one of the group's most frequent).

    Examples
    --------
    >>> s = group_label_stats(np.array([0, 0, 0, -1, 1, 1]), np.array([1, 1, 0, 0, 2, 2]), 3)
    >>> s["size"].tolist(), s["n_labels"].tolist(), s["majority_count"].tolist(), s["same_label"].tolist()
    ([3, 2], [2, 1], [2, 2], [2, 2, 1, 1, 2, 2])
    >>> s["is_majority"].tolist(), s["pair_count"].tolist()
    ([True, True, False, True, True, True], [1, 2, 2])
    """
    group = np.asarray(group)
    labels = np.asarray(labels)
    in_group = group >= 0
    n_groups = int(group.max()) + 1 if in_group.any() else 0
    same_label = np.ones(len(group), dtype=np.int64)
    row_size = np.ones(len(group), dtype=np.int64)
    if n_groups == 0:
        empty = np.zeros(0, dtype=np.int64)
        return {"size": empty, "n_labels": empty, "majority_count": empty, "majority_label": empty,
                "pair_group": empty, "pair_count": empty,
                "row_size": row_size, "same_label": same_label, "is_majority": np.ones(len(group), bool)}
    g = group[in_group]
    lab = labels[in_group]
    # Sparse (group, label) counts without a dense G x K table.
    key = g.astype(np.int64) * n_classes + lab
    uniq, inverse, cnt = np.unique(key, return_inverse=True, return_counts=True)
    same_label[in_group] = cnt[inverse.ravel()]
    ug = uniq // n_classes
    ul = uniq % n_classes
    size = np.bincount(g, minlength=n_groups)
    n_labels = np.bincount(ug, minlength=n_groups)
    majority_count = np.zeros(n_groups, dtype=np.int64)
    np.maximum.at(majority_count, ug, cnt)
    # Majority label: the smallest label code among those with the top count (deterministic).
    is_top = cnt == majority_count[ug]
    majority_label = np.full(n_groups, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(majority_label, ug[is_top], ul[is_top])
    row_size[in_group] = size[g]
    is_majority = np.ones(len(group), bool)
    is_majority[in_group] = same_label[in_group] == majority_count[g]
    return {"size": size, "n_labels": n_labels, "majority_count": majority_count, "majority_label": majority_label,
            "pair_group": ug, "pair_count": cnt,
            "row_size": row_size, "same_label": same_label, "is_majority": is_majority}


__all__ = ["group_label_stats"]
