"""Remedies: per-sample weights and a cleaned, group-aware, stratified split.

Pure functions over the per-sample columns of a report (``report.samples``), testable
without any model.

Sample weights
--------------
``w = label_term * duplicate_term * outlier_term``, then scaled to mean 1 over the rows
whose weight is not zero:

- ``label_term``: 1 for a sample whose label looks right; for a sample flagged by confident
  learning (``is_label_issue``), its ``label_quality`` (the probe's out-of-sample probability
  of the given label, usually well under 0.5) — a soft drop that keeps borderline samples
  in play;
- ``duplicate_term``: a group of duplicates counts as one sample: each of its ``m`` members
  gets ``1/m``. In a group with conflicting labels the weight goes to the members with the
  group's majority label; the others get ``minority_factor / m`` (0.1 by default);
- ``outlier_term``: ``outlier_factor`` (0.5) for a feature-space outlier;
- ``balance_classes=True`` then rescales so every class carries the same total weight;
- ``drop_flagged=True`` sets flagged rows (label issues, minority members of conflicting
  groups, outliers) to exactly 0 instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import UsageError


def _column(samples: pd.DataFrame, name: str, default) -> np.ndarray:
    if name in samples.columns:
        return samples[name].to_numpy()
    return np.full(len(samples), default)


def _group_majority_mask(group: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For grouped rows: group sizes per row and whether the row carries its group's majority label."""
    n = len(group)
    size = np.ones(n)
    is_majority = np.ones(n, dtype=bool)
    grouped = group >= 0
    if not grouped.any():
        return size, is_majority
    g = group[grouped]
    lab = labels[grouped]
    size[grouped] = np.bincount(g)[g]
    k = int(labels.max()) + 1
    key = g * k + lab
    uniq, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
    top = np.zeros(int(g.max()) + 1, dtype=np.int64)
    np.maximum.at(top, uniq // k, cnt)
    is_majority[grouped] = cnt[inv] == top[g]
    return size, is_majority


def flagged_rows(samples: pd.DataFrame, labels: np.ndarray) -> np.ndarray:
    """Rows a cleaned dataset leaves out: label issues, minority labels of conflicting
    duplicate groups, and feature-space outliers."""
    group = _column(samples, "duplicate_group", -1).astype(np.int64)
    _, is_majority = _group_majority_mask(group, labels)
    conflicting_minority = _column(samples, "is_conflicting_duplicate", False).astype(bool) & ~is_majority
    return (
        _column(samples, "is_label_issue", False).astype(bool)
        | conflicting_minority
        | _column(samples, "is_outlier", False).astype(bool)
    )


def sample_weight(
    samples: pd.DataFrame,
    labels: np.ndarray,
    n_classes: int,
    *,
    balance_classes: bool = False,
    drop_flagged: bool = False,
    minority_factor: float = 0.1,
    outlier_factor: float = 0.5,
) -> np.ndarray:
    """One finite, non-negative weight per sample, mean 1 over the rows with weight > 0.

    See the module docstring for the formula.

    Examples
    --------
    >>> s = pd.DataFrame({"is_label_issue": [False, True, False, False],
    ...                   "label_quality": [0.9, 0.2, 0.8, 0.8],
    ...                   "duplicate_group": [-1, -1, 0, 0]})
    >>> sample_weight(s, np.array([0, 1, 1, 1]), 2).round(3).tolist()
    [1.818, 0.364, 0.909, 0.909]
    """
    n = len(samples)
    labels = np.asarray(labels)
    flagged_label = _column(samples, "is_label_issue", False).astype(bool)
    quality = np.clip(_column(samples, "label_quality", 1.0).astype(float), 0.0, 1.0)
    w = np.where(flagged_label, quality, 1.0)
    group = _column(samples, "duplicate_group", -1).astype(np.int64)
    size, is_majority = _group_majority_mask(group, labels)
    conflicting = _column(samples, "is_conflicting_duplicate", False).astype(bool)
    if conflicting.any():
        grouped = group >= 0
        n_major = np.ones(n)
        g = group[grouped]
        n_major_per_group = np.bincount(g, weights=is_majority[grouped].astype(float))
        n_major[grouped] = n_major_per_group[g]
        w = np.where(conflicting & is_majority, w / n_major, w)
        w = np.where(conflicting & ~is_majority, w * minority_factor / size, w)
        w = np.where(~conflicting, w / size, w)
    else:
        w = w / size
    outlier = _column(samples, "is_outlier", False).astype(bool)
    w = np.where(outlier, w * outlier_factor, w)
    if drop_flagged:
        w = np.where(flagged_rows(samples, labels), 0.0, w)
    if balance_classes:
        totals = np.bincount(labels, weights=w, minlength=n_classes)
        scale = np.zeros(n_classes)
        present = totals > 0
        scale[present] = totals[present].sum() / (present.sum() * totals[present])
        w = w * scale[labels]
    kept = w > 0
    if not kept.any():
        return np.ones(n)
    return w * (kept.sum() / w[kept].sum())


def clean_split(
    samples: pd.DataFrame,
    labels: np.ndarray,
    *,
    test_size: float = 0.2,
    exclude: np.ndarray | None = None,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified train/validation indices in which no duplicate group straddles the split.

    Rows in ``exclude`` (default: :func:`flagged_rows`) are left out. Each duplicate group is
    a unit assigned whole; units are shuffled with ``random_state`` and, per stratum (the
    unit's label), assigned to validation until the stratum's quota is met. Vectorised:
    a million rows take well under a second.

    Returns ``(train_idx, val_idx, excluded_idx)``, sorted.
    """
    if not 0.0 < test_size < 1.0:
        raise UsageError(f"test_size must be between 0 and 1, not {test_size}")
    n = len(samples)
    labels = np.asarray(labels)
    if exclude is None:
        exclude = flagged_rows(samples, labels)
    exclude = np.asarray(exclude, dtype=bool)
    kept = np.flatnonzero(~exclude)
    group = _column(samples, "duplicate_group", -1).astype(np.int64)
    unit = np.where(group >= 0, group, group.max(initial=-1) + 1 + np.arange(n))
    if len(kept) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.flatnonzero(exclude)
    _, unit_of = np.unique(unit[kept], return_inverse=True)
    unit_of = unit_of.ravel()
    n_units = int(unit_of.max()) + 1
    unit_size = np.bincount(unit_of, minlength=n_units)
    first = np.empty(n_units, dtype=np.int64)
    first[unit_of[::-1]] = kept[::-1]
    stratum = labels[first]
    rng = np.random.default_rng(random_state)
    order = rng.permutation(n_units)
    # Per stratum, in shuffled order: cumulative size; a unit goes to validation while the
    # stratum's validation quota is not yet filled.
    o_stratum = stratum[order]
    sort = np.argsort(o_stratum, kind="stable")
    units_sorted = order[sort]
    strat_sorted = o_stratum[sort]
    sizes_sorted = unit_size[units_sorted]
    starts = np.r_[0, np.flatnonzero(np.diff(strat_sorted)) + 1]
    cum = np.cumsum(sizes_sorted)
    offset = np.repeat(np.r_[0, cum[starts[1:] - 1]], np.diff(np.r_[starts, len(cum)]))
    within = cum - offset
    totals = np.bincount(strat_sorted, weights=sizes_sorted)
    quota = test_size * totals[strat_sorted]
    is_val_unit = np.zeros(n_units, dtype=bool)
    is_val_unit[units_sorted] = within <= quota + 0.5
    val = kept[is_val_unit[unit_of]]
    train = kept[~is_val_unit[unit_of]]
    return np.sort(train), np.sort(val), np.flatnonzero(exclude)
