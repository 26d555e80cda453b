"""Duplicates: groups of identical samples, and groups whose members carry different labels.

In a conflicting group only one label can be right for all members, so the group caps the
training accuracy any model can reach: that ceiling is reported.
"""

from __future__ import annotations

import numpy as np

from ..neighbors import near_duplicate_threshold
from ..rowhash import exact_groups, renumber_by_first_appearance
from .base import NEED_NEIGHBORS, CheckInputs, CheckResult, Finding

NAME = "duplicates"
NEEDS: frozenset[str] = frozenset({NEED_NEIGHBORS})
METRICS = ("duplicates", "exact_duplicates", "near_duplicates", "conflicting_duplicates", "conflicting_groups", "accuracy_ceiling")

#: Groups listed in the report (largest conflicts first); the samples table has them all.
MAX_GROUPS_LISTED = 50


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
    dict with arrays of length G: ``size``, ``n_labels``, ``majority_count``, ``majority_label``.

    Examples
    --------
    >>> s = group_label_stats(np.array([0, 0, 0, -1, 1, 1]), np.array([1, 1, 0, 0, 2, 2]), 3)
    >>> s["size"].tolist(), s["n_labels"].tolist(), s["majority_count"].tolist()
    ([3, 2], [2, 1], [2, 2])
    """
    in_group = group >= 0
    n_groups = int(group.max()) + 1 if in_group.any() else 0
    if n_groups == 0:
        empty = np.zeros(0, dtype=np.int64)
        return {"size": empty, "n_labels": empty, "majority_count": empty, "majority_label": empty}
    g = group[in_group]
    lab = labels[in_group]
    # Sparse (group, label) counts without a dense G x K table.
    key = g * n_classes + lab
    uniq, cnt = np.unique(key, return_counts=True)
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
    return {"size": size, "n_labels": n_labels, "majority_count": majority_count, "majority_label": majority_label}


def accuracy_ceiling(group: np.ndarray, labels: np.ndarray, n_classes: int) -> float:
    """Best training accuracy possible when identical samples must get the same prediction.

    Examples
    --------
    >>> accuracy_ceiling(np.array([0, 0, 0, 0, -1, -1]), np.array([0, 0, 0, 1, 1, 0]), 2)
    0.8333333333333334
    """
    stats = group_label_stats(group, labels, n_classes)
    lost = int((stats["size"] - stats["majority_count"]).sum())
    return 1.0 - lost / len(labels)


def merge_groups(exact: np.ndarray, pairs_i: np.ndarray, pairs_j: np.ndarray) -> np.ndarray:
    """Transitive groups (connected components) of exact groups and near-duplicate pairs.

    Examples
    --------
    >>> merge_groups(np.array([0, -1, 0, -1, -1]), np.array([1, 3]), np.array([2, 4])).tolist()
    [0, 0, 0, 1, 1]
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(exact)
    in_exact = np.flatnonzero(exact >= 0)
    # Link every member of an exact group to the group's first member.
    first = np.full(int(exact.max()) + 1 if len(in_exact) else 0, -1)
    first[exact[in_exact][::-1]] = in_exact[::-1]
    rows = np.r_[pairs_i, in_exact]
    cols = np.r_[pairs_j, first[exact[in_exact]]] if len(in_exact) else np.asarray(pairs_j)
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    size = np.bincount(comp)
    group = np.where(size[comp] > 1, comp, -1)
    return renumber_by_first_appearance(group)


def run(inputs: CheckInputs, *, threshold: float | None = None, factor: float = 0.1) -> CheckResult:
    """Find exact and near duplicates and the groups among them with conflicting labels.

    Parameters
    ----------
    threshold : float, optional
        Distance (standardised features) under which two samples are near duplicates.
        Default: ``factor`` x the median distance to the nearest non-identical neighbour
        (see :func:`dataaudit.neighbors.near_duplicate_threshold`).
    factor : float, default 0.1
    """
    n = inputs.n_samples
    exact = exact_groups(inputs.raw)
    graph = inputs.neighbors
    tau = near_duplicate_threshold(graph, factor) if threshold is None else float(threshold)
    # No "distance > 0" test: faiss computes |x|^2 + |y|^2 - 2xy in float32, so two samples a
    # hair apart can come out at exactly 0. Identical rows are told apart by hashing instead.
    close = graph.distances <= tau if tau > 0 else np.zeros(graph.distances.shape, bool)
    pi, pj = np.nonzero(close)
    pj = graph.indices[pi, pj]
    identical = (exact[pi] >= 0) & (exact[pi] == exact[pj])
    pi, pj = pi[~identical], pj[~identical]
    is_near = np.zeros(n, dtype=bool)
    is_near[pi] = True
    is_near[pj] = True
    group = merge_groups(exact, pi, pj)
    stats = group_label_stats(group, inputs.labels, inputs.n_classes)
    conflicting_groups = np.flatnonzero(stats["n_labels"] > 1)
    is_dup = group >= 0
    is_conflicting = np.zeros(n, dtype=bool)
    if len(conflicting_groups):
        is_conflicting[is_dup] = np.isin(group[is_dup], conflicting_groups)
    n_groups = len(stats["size"])
    # Samples beyond the first of each group: what dropping duplicates would remove.
    redundant = int(is_dup.sum() - n_groups)
    lost = int((stats["size"] - stats["majority_count"]).sum())
    ceiling = 1.0 - lost / n

    members = {}
    if len(conflicting_groups):
        listed = conflicting_groups[np.argsort(-stats["size"][conflicting_groups], kind="stable")][:MAX_GROUPS_LISTED]
        idx = np.flatnonzero(np.isin(group, listed))
        for i in idx:
            members.setdefault(int(group[i]), []).append(int(i))
    else:
        listed = np.zeros(0, dtype=np.int64)
    groups_listed = []
    for gid in listed.tolist():
        rows = members[gid]
        label_counts: dict[str, int] = {}
        for i in rows:
            key = str(inputs.label_name(inputs.labels[i]))
            label_counts[key] = label_counts.get(key, 0) + 1
        groups_listed.append(
            {
                "group": gid,
                "size": int(stats["size"][gid]),
                "indices": rows[:20],
                "label_counts": label_counts,
                "majority_label": inputs.label_name(stats["majority_label"][gid]),
                "exact": bool((exact[rows] >= 0).all() and len(set(exact[rows].tolist())) == 1),
            }
        )

    figures = {
        "n_groups": n_groups,
        "n_samples_in_groups": int(is_dup.sum()),
        "n_redundant": redundant,
        "duplicate_fraction": round(redundant / n, 6),
        "n_exact_duplicates": int((exact >= 0).sum()),
        "n_near_duplicates": int(is_near.sum()),
        "near_duplicate_threshold": round(tau, 6),
        "threshold_rule": f"distance <= {factor:g} x median nearest non-identical neighbour distance" if threshold is None else "given",
        "n_conflicting_groups": int(len(conflicting_groups)),
        "n_conflicting_samples": int(is_conflicting.sum()),
        "accuracy_ceiling": round(ceiling, 6),
        "conflicting_groups": groups_listed,
    }
    metrics = {
        "duplicates": redundant / n,
        "exact_duplicates": float((exact >= 0).sum()) / n,
        "near_duplicates": float(is_near.sum()) / n,
        "conflicting_duplicates": float(is_conflicting.sum()) / n,
        "conflicting_groups": float(len(conflicting_groups)),
        "accuracy_ceiling": ceiling,
    }
    findings = []
    if len(conflicting_groups):
        findings.append(
            Finding(
                check=NAME,
                severity="critical",
                count=int(is_conflicting.sum()),
                message=(
                    f"{len(conflicting_groups)} groups of identical or near-identical samples carry different labels "
                    f"({int(is_conflicting.sum())} samples); no model can exceed {ceiling:.2%} training accuracy"
                ),
                advice=(
                    "Identical inputs with different labels pull the model both ways: the loss cannot reach "
                    "zero, and training accuracy stalls or oscillates while the model is pushed back and forth "
                    "between the labels. Relabel each group (the majority label is in the report), or keep one "
                    "sample per group; report.sample_weight() down-weights the minority labels."
                ),
            )
        )
    if redundant:
        findings.append(
            Finding(
                check=NAME,
                severity="warning" if redundant / n >= 0.01 else "info",
                count=redundant,
                message=f"{redundant} samples ({redundant / n:.1%}) repeat another sample exactly or almost exactly",
                advice=(
                    "Repeated samples count several times in the loss and, split at random, land on both "
                    "sides of train/validation, inflating validation scores. Drop the repeats, or split by "
                    "duplicate group (report.clean_split keeps each group on one side)."
                ),
            )
        )
    columns = {
        "duplicate_group": group,
        "is_exact_duplicate": exact >= 0,
        "is_near_duplicate": is_near,
        "is_conflicting_duplicate": is_conflicting,
    }
    return CheckResult(name=NAME, columns=columns, figures=figures, metrics=metrics, findings=findings)
