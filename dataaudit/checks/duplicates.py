"""Duplicates: groups of identical samples, and groups whose members carry different labels.

In a conflicting group only one label can be right for all members, so the group caps the
training accuracy any model can reach: that ceiling is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..groups import group_label_stats
from ..neighbors import near_duplicate_threshold
from ..rowhash import exact_groups, renumber_by_first_appearance
from .base import MAX_LISTED, NEED_NEIGHBORS, CheckInputs, CheckResult, Finding, RowCause, RowVerdict, severity

NAME = "duplicates"
TITLE = "Duplicates with conflicting labels"
NEEDS: frozenset[str] = frozenset({NEED_NEIGHBORS})
METRICS = ("duplicates", "exact_duplicates", "near_duplicates", "conflicting_duplicates", "conflicting_groups", "accuracy_ceiling")
#: Conflicting groups are always critical; repeated samples are a warning from this share on.
SEVERITY = {"conflicting": {"warning": 0.0, "critical": 0.0}, "redundant": {"warning": 0.01}}
#: Members of a listed group named in the figures.
MAX_MEMBERS_LISTED = 20


def duplicate_weight(group: np.ndarray, stats: dict[str, np.ndarray], minority_factor: float = 0.1) -> np.ndarray:
    """Each row's factor to the sample weight: a group of ``m`` duplicates counts as one sample.

    A row in no group gets 1; a member of a group whose labels agree ``1/m``; in a group with
    conflicting labels the weight goes to the members carrying the group's majority label
    (``1/m_majority`` each) and the others get ``minority_factor / m``. ``stats`` is
    :func:`group_label_stats` of the groups.

    Examples
    --------
    >>> group = np.array([-1, 0, 0, 1, 1, 1])
    >>> stats = group_label_stats(group, np.array([0, 1, 1, 0, 0, 1]), 2)
    >>> duplicate_weight(group, stats).round(3).tolist()
    [1.0, 0.5, 0.5, 0.5, 0.5, 0.033]
    """
    weight = np.ones(len(group))
    grouped = np.flatnonzero(group >= 0)
    if not len(grouped):
        return weight
    g = group[grouped]
    size = stats["row_size"][grouped].astype(float)
    majority = stats["is_majority"][grouped]
    n_majority = np.bincount(g, weights=majority.astype(float))[g]
    conflicting = stats["n_labels"][g] > 1
    weight[grouped] = np.where(~conflicting, 1.0 / size, np.where(majority, 1.0 / n_majority, minority_factor / size))
    return weight


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


def _listed_groups(rows, group, exact, labels, stats, conflicting_groups, label_name) -> list[dict]:
    """The largest conflicting groups (at most MAX_LISTED): members, label counts, majority label.
    ``rows``: the grouped rows' indices, ``group``, ``exact`` and ``labels`` their values."""
    members: dict[int, list[int]] = {}
    if len(conflicting_groups):
        listed = conflicting_groups[np.argsort(-stats["size"][conflicting_groups], kind="stable")][:MAX_LISTED]
        for i in np.flatnonzero(np.isin(group, listed)):
            members.setdefault(int(group[i]), []).append(int(i))
    else:
        listed = np.zeros(0, dtype=np.int64)
    groups_listed = []
    for gid in listed.tolist():
        at = members[gid]
        label_counts: dict[str, int] = {}
        for i in at:
            key = str(label_name(labels[i]))
            label_counts[key] = label_counts.get(key, 0) + 1
        groups_listed.append(
            {
                "group": gid,
                "size": int(stats["size"][gid]),
                "indices": [int(rows[i]) for i in at[:MAX_MEMBERS_LISTED]],
                "label_counts": label_counts,
                "majority_label": label_name(stats["majority_label"][gid]),
                "exact": bool((exact[at] >= 0).all() and len(set(exact[at].tolist())) == 1),
            }
        )
    return groups_listed


def _findings(n_conflicting_groups: int, n_conflicting: int, ceiling: float, redundant: int, n: int) -> list[Finding]:
    """The conflicting-groups finding and the repeated-samples finding."""
    findings = []
    if n_conflicting_groups:
        findings.append(
            Finding(
                check=NAME,
                severity=severity(n_conflicting_groups, **SEVERITY["conflicting"]),
                count=n_conflicting,
                message=(
                    f"{n_conflicting_groups} groups of identical or near-identical samples carry different labels "
                    f"({n_conflicting} samples); no model can exceed {ceiling:.2%} training accuracy"
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
                severity=severity(redundant / n, **SEVERITY["redundant"]),
                count=redundant,
                message=f"{redundant} samples ({redundant / n:.1%}) repeat another sample exactly or almost exactly",
                advice=(
                    "Repeated samples count several times in the loss and, split at random, land on both "
                    "sides of train/validation, inflating validation scores. Drop the repeats, or split by "
                    "duplicate group (report.clean_split keeps each group on one side)."
                ),
            )
        )
    return findings


def run(
    inputs: CheckInputs, *, threshold: float | None = None, factor: float = 0.1, minority_factor: float = 0.1
) -> CheckResult:
    """Find exact and near duplicates and the groups among them with conflicting labels.

    Parameters
    ----------
    threshold : float, optional
        Distance (standardised features) under which two samples are near duplicates.
        Default: ``factor`` x the median distance to the nearest non-identical neighbour
        (see :func:`dataaudit.neighbors.near_duplicate_threshold`).
    factor : float, default 0.1
    minority_factor : float, default 0.1
        Weight factor of the minority-label members of a conflicting group (see :func:`duplicate_weight`).

    Notes
    -----
    Metrics: ``duplicates`` is the share of samples that repeat an earlier one (what keeping
    one sample per group would remove); ``exact_duplicates`` the share of samples with an
    identical twin; ``near_duplicates`` the share of samples in a group without an identical
    twin (near, not exact, copies). Row verdict: the flag marks group members; the score is the
    share of the row's group carrying its label; the weight factor is :func:`duplicate_weight`;
    the cleaned data leaves out minority-label members of conflicting groups; a split keeps
    each group on one side.
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
    group = merge_groups(exact, pi, pj)
    grouped = np.flatnonzero(group >= 0)
    g = summarize_groups(n, grouped, group[grouped], exact[grouped], inputs.labels[grouped], inputs.n_classes, inputs.label_name,
                         tau=tau, rule="given" if threshold is not None else None, factor=factor,
                         minority_factor=minority_factor)
    is_dup = group >= 0
    columns = {
        "duplicate_group": group,
        "is_exact_duplicate": exact >= 0,
        "is_near_duplicate": is_dup & (exact < 0),
        "is_conflicting_duplicate": _spread(n, grouped, g.conflicting, False),
    }
    rows = RowVerdict(
        flag=is_dup,
        score=_spread(n, grouped, g.score, 1.0),
        weight=_spread(n, grouped, g.weight, 1.0),
        exclude=_spread(n, grouped, g.exclude, False),
        group=group,
        shown=("label", "duplicate_group", "is_exact_duplicate", "is_conflicting_duplicate"),
        cause=RowCause.CONFLICTING_DUPLICATES,
        cause_rows=columns["is_conflicting_duplicate"],
    )
    figures, metrics, findings = g.figures, g.metrics, g.findings
    return CheckResult(name=NAME, rows=rows, columns=columns, figures=figures, metrics=metrics, findings=findings)


def _spread(n: int, rows: np.ndarray, values: np.ndarray, fill) -> np.ndarray:
    out = np.full(n, fill, dtype=np.asarray(values).dtype if len(values) else type(fill))
    out[rows] = values
    return out


@dataclass
class GroupVerdicts:
    """What the check says of the grouped rows (in the order given) and of the dataset."""

    conflicting: np.ndarray
    score: np.ndarray
    weight: np.ndarray
    exclude: np.ndarray
    figures: dict
    metrics: dict
    findings: list


def summarize_groups(n: int, rows: np.ndarray, group: np.ndarray, exact: np.ndarray, labels: np.ndarray,
                     n_classes: int, label_name: Callable[[int], Any], *, tau: float, rule: str | None = None,
                     factor: float = 0.1, minority_factor: float = 0.1) -> GroupVerdicts:
    """The verdicts from the grouped rows alone (``rows``, in increasing order, with their group
    ids numbered by first appearance, exact-group ids and labels): what a cluster's scan gathers
    (duplicates are few) and one process computes the same way."""
    is_exact = exact >= 0
    is_near = ~is_exact
    stats = group_label_stats(group, labels, n_classes)
    conflicting_groups = np.flatnonzero(stats["n_labels"] > 1)
    is_conflicting = np.isin(group, conflicting_groups) if len(conflicting_groups) else np.zeros(len(group), bool)
    n_groups = len(stats["size"])
    # Samples beyond the first of each group: what dropping duplicates would remove.
    redundant = int(len(rows) - n_groups)
    lost = int((stats["size"] - stats["majority_count"]).sum())
    ceiling = 1.0 - lost / n
    figures = {
        "n_groups": n_groups,
        "n_samples_in_groups": int(len(rows)),
        "n_redundant": redundant,
        "duplicate_fraction": round(redundant / n, 6),
        "n_exact_duplicates": int(is_exact.sum()),
        "n_near_duplicates": int(is_near.sum()),
        "near_duplicate_threshold": round(tau, 6),
        "threshold_rule": rule or f"distance <= {factor:g} x median nearest non-identical neighbour distance",
        "n_conflicting_groups": int(len(conflicting_groups)),
        "n_conflicting_samples": int(is_conflicting.sum()),
        "accuracy_ceiling": round(ceiling, 6),
        "conflicting_groups": _listed_groups(rows, group, exact, labels, stats, conflicting_groups, label_name),
    }
    metrics = {
        "duplicates": redundant / n,
        "exact_duplicates": float(is_exact.sum()) / n,
        "near_duplicates": float(is_near.sum()) / n,
        "conflicting_duplicates": float(is_conflicting.sum()) / n,
        "conflicting_groups": float(len(conflicting_groups)),
        "accuracy_ceiling": ceiling,
    }
    findings = _findings(len(conflicting_groups), int(is_conflicting.sum()), ceiling, redundant, n)
    return GroupVerdicts(is_conflicting, stats["same_label"] / stats["row_size"],
                         duplicate_weight(group, stats, minority_factor), is_conflicting & ~stats["is_majority"],
                         figures, metrics, findings)
