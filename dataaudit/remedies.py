"""Remedies: per-sample weights, cleaned data and a cleaned, group-aware, stratified split.

Pure functions over the checks' row verdicts (:class:`dataaudit.checks.base.RowVerdict`):
they combine whatever checks ran, in one loop, without knowing which checks those are, and
are testable without any model.

Sample weights
--------------
``w = the product of every check's weight factor``, then scaled to mean 1 over the rows whose
weight is not zero (each check documents its factor in its ``run``; the README sums them up).
``balance_classes=True`` then rescales so every class carries the same total weight;
``drop_flagged=True`` sets the rows any check excludes to exactly 0 instead.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .checks.base import RowVerdict
from .errors import UsageError, param


def excluded_rows(verdicts: Iterable[RowVerdict], n: int) -> np.ndarray:
    """Rows that any check excludes from cleaned data.

    Examples
    --------
    >>> a = RowVerdict(np.ones(3, bool), np.ones(3), exclude=np.array([True, False, False]))
    >>> b = RowVerdict(np.ones(3, bool), np.ones(3))
    >>> excluded_rows([a, b], 3).tolist()
    [True, False, False]
    """
    out = np.zeros(n, dtype=bool)
    for v in verdicts:
        if v.exclude is not None:
            out |= np.asarray(v.exclude, dtype=bool)
    return out


def relabels(verdicts: Iterable[RowVerdict], n: int) -> np.ndarray:
    """Per row, a corrected label code offered by a check, or -1.

    A row is offered a label only if every check that excludes it offers one (a row that an
    outlier check drops is not saved by a label check's suggestion).
    """
    verdicts = list(verdicts)
    label = np.full(n, -1, dtype=np.int64)
    blocked = np.zeros(n, dtype=bool)
    for v in verdicts:
        if v.relabel is not None:
            offered = np.asarray(v.relabel) >= 0
            label = np.where(offered & (label < 0), v.relabel, label)
    for v in verdicts:
        if v.exclude is not None:
            no_offer = np.ones(n, bool) if v.relabel is None else np.asarray(v.relabel) < 0
            blocked |= np.asarray(v.exclude, dtype=bool) & no_offer
    return np.where(blocked, -1, label)


def split_groups(verdicts: Iterable[RowVerdict], n: int) -> np.ndarray:
    """Group ids (-1: none) of rows that must stay on one side of a split: the connected
    components of every check's groups.

    Examples
    --------
    >>> a = RowVerdict(np.ones(4, bool), np.ones(4), group=np.array([0, 0, -1, -1]))
    >>> b = RowVerdict(np.ones(4, bool), np.ones(4), group=np.array([-1, 0, 0, -1]))
    >>> split_groups([a, b], 4).tolist()
    [0, 0, 0, -1]
    """
    groupings = [np.asarray(v.group, dtype=np.int64) for v in verdicts if v.group is not None]
    if not groupings:
        return np.full(n, -1, dtype=np.int64)
    if len(groupings) == 1:
        return groupings[0]
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rows, cols = [], []
    for group in groupings:
        members = np.flatnonzero(group >= 0)
        first = np.full(int(group.max()) + 1, -1)
        first[group[members][::-1]] = members[::-1]
        rows.append(members)
        cols.append(first[group[members]])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    size = np.bincount(comp)
    return np.where(size[comp] > 1, comp, -1)


def sample_weight(
    verdicts: Iterable[RowVerdict],
    labels: np.ndarray,
    n_classes: int,
    *,
    balance_classes: bool = False,
    drop_flagged: bool = False,
) -> np.ndarray:
    """One finite, non-negative weight per sample, mean 1 over the rows with weight > 0.

    See the module docstring for the formula.

    Examples
    --------
    >>> label = RowVerdict(np.array([False, True, False, False]), np.ones(4), weight=np.array([1, 0.2, 1, 1]))
    >>> dup = RowVerdict(np.array([False, False, True, True]), np.ones(4), weight=np.array([1, 1, 0.5, 0.5]))
    >>> sample_weight([label, dup], np.array([0, 1, 1, 1]), 2).round(3).tolist()
    [1.818, 0.364, 0.909, 0.909]
    """
    verdicts = list(verdicts)
    labels = np.asarray(labels)
    n = len(labels)
    w = np.ones(n)
    for v in verdicts:
        if v.weight is not None:
            w = w * np.asarray(v.weight, dtype=float)
    if drop_flagged:
        w = np.where(excluded_rows(verdicts, n), 0.0, w)
    if balance_classes:
        w = w * balance_scale(np.bincount(labels, weights=w, minlength=n_classes))[labels]
    kept = w > 0
    if not kept.any():
        return np.ones(n)
    return w * (kept.sum() / w[kept].sum())


def balance_scale(totals: np.ndarray) -> np.ndarray:
    """Per class, the factor that gives every class present the same total weight (``totals``:
    each class's summed weight; a class without weight gets 0).

    Examples
    --------
    >>> balance_scale(np.array([3.0, 1.0, 0.0])).tolist()
    [0.6666666666666666, 2.0, 0.0]
    """
    scale = np.zeros(len(totals))
    present = totals > 0
    scale[present] = totals[present].sum() / (present.sum() * totals[present])
    return scale


def clean_split(
    labels: np.ndarray,
    *,
    exclude: np.ndarray,
    group: np.ndarray,
    test_size: float = 0.2,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified train/validation indices in which no group straddles the split.

    Rows in ``exclude`` (see :func:`excluded_rows`) are left out; ``group`` (see
    :func:`split_groups`) holds ids >= 0 of rows that stay together. Each group is a unit
    assigned whole; units are shuffled with ``random_state`` and, per stratum (the unit's
    label), assigned to validation until the stratum's quota is met. Vectorised: a million
    rows take well under a second.

    Returns ``(train_idx, val_idx, excluded_idx)``, sorted.

    Examples
    --------
    >>> labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> train, val, out = clean_split(labels, exclude=np.arange(8) == 7, group=np.array([0, 0, -1, -1, -1, -1, -1, -1]),
    ...                               test_size=0.25)
    >>> len(train) + len(val), out.tolist(), bool({0, 1} <= set(train) or {0, 1} <= set(val))
    (7, [7], True)
    """
    if not 0.0 < test_size < 1.0:
        raise UsageError(f"{param('test_size')} must be between 0 and 1, not {test_size}")
    n = len(labels)
    labels = np.asarray(labels)
    exclude = np.asarray(exclude, dtype=bool)
    kept = np.flatnonzero(~exclude)
    group = np.asarray(group, dtype=np.int64)
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
