"""Remedies: per-sample weights and a cleaned, group-aware, stratified split.

Pure functions over the per-sample columns of a report, testable without any model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import UsageError


def _column(samples: pd.DataFrame, name: str, default) -> np.ndarray:
    if name in samples.columns:
        return samples[name].to_numpy()
    return np.full(len(samples), default)


def sample_weight(
    samples: pd.DataFrame,
    labels: np.ndarray,
    n_classes: int,
    *,
    balance_classes: bool = False,
) -> np.ndarray:
    """One non-negative weight per sample, mean 1.

    Each group of duplicates counts as much as one sample (its members share ``1/size``),
    and a sample's weight is scaled by its label quality when the label-noise check ran.
    With ``balance_classes=True`` every class gets the same total weight.
    """
    n = len(samples)
    w = np.ones(n, dtype=np.float64)
    quality = _column(samples, "label_quality", 1.0).astype(float)
    w *= np.clip(quality, 0.0, 1.0)
    group = _column(samples, "duplicate_group", -1).astype(np.int64)
    in_group = group >= 0
    if in_group.any():
        size = np.bincount(group[in_group])
        w[in_group] /= size[group[in_group]]
    if balance_classes:
        totals = np.bincount(labels, weights=w, minlength=n_classes)
        present = totals > 0
        scale = np.zeros(n_classes)
        scale[present] = totals.sum() / (present.sum() * totals[present])
        w *= scale[labels]
    total = w.sum()
    if total <= 0:
        return np.ones(n)
    return w * (n / total)


def clean_split(
    samples: pd.DataFrame,
    labels: np.ndarray,
    *,
    test_size: float = 0.2,
    exclude: np.ndarray | None = None,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified train/validation indices in which no duplicate group straddles the split.

    Returns ``(train_idx, val_idx, excluded_idx)``.
    """
    if not 0.0 < test_size < 1.0:
        raise UsageError(f"test_size must be between 0 and 1, not {test_size}")
    n = len(samples)
    if exclude is None:
        exclude = _column(samples, "is_label_issue", False).astype(bool) | _column(
            samples, "is_conflicting_duplicate", False
        ).astype(bool)
    keep = ~exclude
    group = _column(samples, "duplicate_group", -1).astype(np.int64)
    # Units: a duplicate group, or a lone sample. Each unit is assigned whole.
    unit = np.where(group >= 0, group, group.max(initial=-1) + 1 + np.arange(n))
    kept = np.flatnonzero(keep)
    _, unit_of = np.unique(unit[kept], return_inverse=True)
    n_units = int(unit_of.max()) + 1 if len(kept) else 0
    unit_size = np.bincount(unit_of, minlength=n_units)
    # A unit's stratum is the label of its first kept member.
    first = np.full(n_units, -1)
    first[unit_of[::-1]] = kept[::-1]
    stratum = labels[first] if n_units else np.zeros(0, np.int64)
    rng = np.random.default_rng(random_state)
    order = rng.permutation(n_units)
    is_val_unit = np.zeros(n_units, dtype=bool)
    for s in np.unique(stratum):
        units = order[stratum[order] == s]
        quota = test_size * unit_size[units].sum()
        filled = np.cumsum(unit_size[units])
        is_val_unit[units[filled <= quota + 0.5]] = True
    val = kept[is_val_unit[unit_of]]
    train = kept[~is_val_unit[unit_of]]
    return np.sort(train), np.sort(val), np.flatnonzero(exclude)
