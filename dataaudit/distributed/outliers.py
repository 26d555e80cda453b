"""The outliers check on a cluster: the five views of :mod:`dataaudit.checks.outlier_views`
from the cell join's per-row columns (each row's neighbours are in its cell), exact quantiles for
every fence, and the tail spreads and the copula fitted on the driver from the rows one process
samples (the same seeded draws, the k-th qualifying row found by counting along the blocks). The
check's own ``summarize`` words the result.

What differs from one process: a row's neighbours are searched in its cell only (a row near a
border sees neighbours a little farther than its true ones, as an inverted file probing one
cell would), so the kNN view, and which rows qualify for the fits, can differ at the margin; the
intrinsic dimension is averaged over every row instead of a sample.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..blocks import quantiles
from ..checks import outliers
from ..checks.base import MAX_LISTED
from ..checks.copula import robust_z
from ..checks.outlier_views import (
    CONSTANT_MAX_SHARE, CONSTANT_SCORE, DIM_REFERENCE, FAR_OUT, GLOBAL_MINIMUM, HEAVY_VETO, LOCAL_MINIMUM,
    REST_MINIMUM, SINGLE_SHARE, TAIL_MINIMUM, VIEW_ORDER, combine_views, constant_mask, constant_values,
    copula_threshold, fit_row_model, knn_power, local_ratio, rare_by_chance, robust_scales, row_statistics,
    sample_size,
)
from ..utils import fence
from .audit import ClusterResult, merge_highest
from .blocks import DaskBlocks

#: The cell join's columns the kNN view reads, in this order.
KNN_COLUMNS = ["reach", "ref", "inv_dim", "share", "dominant"]


def _fence(values: np.ndarray, floor: float) -> float:
    """:func:`dataaudit.utils.tukey_fence` from the exact quartiles of a Dask array."""
    return fence(*quantiles(DaskBlocks(values), [0.25, 0.75]), FAR_OUT, floor)


def _ratios(knn, median_reach: float) -> np.ndarray:
    local = local_ratio(knn[:, 0], knn[:, 1], median_reach)
    return np.column_stack([local, knn[:, 0] / max(median_reach, 1e-12)])


def _constant_summary(X) -> tuple:
    X = np.asarray(X)
    const = constant_mask(X)
    values, counts = np.unique(X[const, 0], return_counts=True)
    return int(const.sum()), values, counts


def _merge_constant(a: tuple, b: tuple) -> tuple:
    values = np.union1d(a[1], b[1])
    counts = np.zeros(len(values), np.int64)
    for _, v, c in (a, b):
        counts[np.searchsorted(values, v)] += c
    return a[0] + b[0], values, counts


def _rare_constants(features, n: int) -> np.ndarray:
    """The values v whose constant rows chance cannot explain (``constant_rows``' rule, merged)."""
    count, values, counts = DaskBlocks(features).reduce(_constant_summary, _merge_constant)
    if not count or count / n > CONSTANT_MAX_SHARE:
        return np.zeros(0)
    judged = constant_values(values, counts)
    held = DaskBlocks(features).reduce(
        lambda X, vs: np.stack([(np.asarray(X) == v).sum(axis=0) for v in vs]).astype(np.float64), np.add, judged)
    return np.array([v for v, h in zip(judged, held) if rare_by_chance(n, h)])


def _knn_view(knn, ratios, *X_and_args) -> np.ndarray:
    """Per row: the kNN view, whether it is a flagged constant row, and whether its kNN flag
    leaves the rows the tails are fitted on (far in many features, not one). The block's
    features come first in ``X_and_args`` only when some constant rows are judged (``rare``)."""
    *X, t_local, t_global, rare = X_and_args
    # A row alone in its cell has no neighbour to measure (NaN): its other views judge it.
    view = np.nan_to_num(np.maximum(ratios[:, 0] / t_local, ratios[:, 1] / t_global), nan=0.0)
    const = np.zeros(len(knn), bool)
    if X:
        X = np.asarray(X[0])
        const = constant_mask(X) & np.isin(X[:, 0], rare)
    return np.column_stack([view, const, (view > 1) & (knn[:, 3] < SINGLE_SHARE)])


def _row_pass(X, knn, flags, model, heavy_features) -> np.ndarray:
    """The tail and copula statistics of a block's rows, the kNN view after the heavy-tail veto,
    and whether the row's first value is 0 (an all-zero constant row)."""
    X = np.asarray(X)
    top, feature, rest, d2 = row_statistics(X, model)
    view = flags[:, 0].copy()
    veto = (view > 1) & (knn[:, 3] >= SINGLE_SHARE) & np.isin(knn[:, 4].astype(np.int64), heavy_features)
    view[veto] = 0.0  # one heavy-tailed feature's extreme: the tail view judges it
    return np.column_stack([top, feature, rest, d2, view, X[:, 0] == 0]) if len(X) else np.zeros((0, 6))


def _views(stats, flags, t_top: float, t_rest: float, cube: tuple | None, t_copula: float) -> np.ndarray:
    """The five views (``VIEW_ORDER``), the score and the reason of a block's rows."""
    copula = robust_z(np.cbrt(stats[:, 3]), *cube) / t_copula if cube is not None else np.zeros(len(stats))
    stacked = np.vstack([np.where(flags[:, 1] > 0, CONSTANT_SCORE, 0.0), stats[:, 2] / t_rest, stats[:, 0] / t_top,
                         stats[:, 4], copula])
    scores, _, reason = combine_views(stacked)
    return np.column_stack([stacked.T, scores, reason])


def _counts(views, stats) -> np.ndarray:
    reason = views[:, 6].astype(np.int64)
    zero = int(((reason == VIEW_ORDER.index("constant_row")) & (stats[:, 5] > 0)).sum())
    return np.r_[(views[:, :5] > 1).sum(axis=0), np.bincount(reason + 1, minlength=6)[1:], zero]


def _highest(labels, views, stats, start: int) -> np.ndarray:
    flagged = np.flatnonzero(views[:, 5] > 1)
    order = flagged[np.argsort(-views[flagged, 5], kind="stable")[:MAX_LISTED]]
    return np.column_stack([views[order, 5], order + int(start), labels[order], views[order, 6], stats[order, 1]])


def _kept(flags, which: str) -> np.ndarray:
    """The rows a fit may use: ``base`` (the tails: neither constant nor far in many features) or
    ``ordinary`` (the copula: neither constant nor flagged by the kNN view)."""
    other = flags[:, 2] > 0 if which == "base" else flags[:, 0] > 1
    return ~(flags[:, 1] > 0) & ~other


def _ranked(flags, which: str, wanted: tuple) -> np.ndarray:
    ranks, start = wanted
    return np.flatnonzero(_kept(flags, which))[ranks] + int(start)


def _kept_per_block(blocks: DaskBlocks, which: str) -> np.ndarray:
    return np.array(blocks.map(lambda f: int(_kept(f, which).sum())), dtype=np.int64)


def _rows_at_ranks(blocks: DaskBlocks, which: str, ranks: np.ndarray, per_block: np.ndarray,
                   starts: list) -> np.ndarray:
    """The row ids of the kept rows of the given ranks (sorted), counted in row order across
    blocks (``per_block``: each block's kept rows)."""
    before = np.r_[0, np.cumsum(per_block)[:-1]]
    at = np.searchsorted(before, ranks, side="right") - 1
    wanted = [ranks[at == b] - before[b] for b in range(len(per_block))]
    found = blocks.map(_ranked, which, per_block=[(w, s) for w, s in zip(wanted, starts)]) if len(ranks) else []
    return np.concatenate(found) if found else np.zeros(0, np.int64)


def run_outliers(features, labels, join, n: int, label_name: Callable, *, random_state: int,
                 local_minimum: float = LOCAL_MINIMUM, global_minimum: float = GLOBAL_MINIMUM,
                 weight: float = 0.5) -> ClusterResult:
    """The outliers check on the rows of ``features`` (a Dask array blocked as ``labels``), from
    the cell join ``join`` (:class:`dataaudit.distributed.cells.CellJoin`)."""
    chunks = labels.chunks[0]
    d = int(features.shape[1])
    knn = join.stats[KNN_COLUMNS].to_dask_array(lengths=list(chunks)).astype(np.float64).persist()
    # 1. kNN ratios; floors raised where the intrinsic dimension is low.
    median_reach = float(quantiles(DaskBlocks(knn[:, 0]), [0.5])[0])
    total, seen = DaskBlocks(knn).reduce(
        lambda k: np.array([np.nansum(k[:, 2]), np.isfinite(k[:, 2]).sum()]), np.add)
    dim = float(seen / total) if seen else DIM_REFERENCE
    power = knn_power(dim)
    ratios = DaskBlocks(knn).map_rows(_ratios, median_reach, dtype=np.float64, width=2).persist()
    t_local = _fence(ratios[:, 0], local_minimum**power)
    t_global = _fence(ratios[:, 1], global_minimum**power)
    rare = _rare_constants(features, n)
    # The features are read again only when some constant rows are judged (rarely).
    arrays = (knn, ratios, features) if len(rare) else (knn, ratios)
    flags = DaskBlocks(*arrays).map_rows(_knn_view, t_local, t_global, rare, dtype=np.float64, width=3).persist()
    # 2-4. Tail spreads and the copula, from the rows one process samples.
    rng = np.random.default_rng(random_state)
    size = sample_size(d)

    def draw(count: int) -> np.ndarray:
        """One process's ``_sample``: sorted positions among ``count`` rows."""
        return np.sort(rng.choice(count, size, replace=False)) if count > size else np.arange(count)

    draw(n)  # one process's intrinsic-dimension sample: drawn, so the next samples are the same rows
    everyone = np.asarray(features[draw(n)].compute(), np.float64)
    blocks = DaskBlocks(flags)
    starts = list(blocks.starts)
    base = _kept_per_block(blocks, "base")
    tails = everyone
    if base.sum() > n // 2:  # the same rows one process samples from the rows the tails are fitted on
        rows = _rows_at_ranks(blocks, "base", draw(int(base.sum())), base, starts)
        tails = np.asarray(features[rows].compute(), np.float64)
    ordinary = _kept_per_block(blocks, "ordinary")
    rows = _rows_at_ranks(blocks, "ordinary", draw(int(ordinary.sum())), ordinary, starts)
    ordinary = np.asarray(features[rows].compute(), np.float64)
    model = fit_row_model(everyone, tails, ordinary, n, robust_scales(everyone, join.scale))
    heavy = np.flatnonzero(model.heavy >= HEAVY_VETO)
    stats = DaskBlocks(features, knn, flags).map_rows(_row_pass, model, heavy, dtype=np.float64, width=6).persist()
    t_top = _fence(stats[:, 0], TAIL_MINIMUM)
    t_rest = _fence(stats[:, 2], REST_MINIMUM)
    cube = tuple(quantiles(DaskBlocks(np.cbrt(stats[:, 3])), [0.25, 0.5, 0.75])) if model.copula else None
    t_copula = copula_threshold(n)
    views = DaskBlocks(stats, flags).map_rows(_views, t_top, t_rest, cube, t_copula, dtype=np.float64,
                                              width=7).persist()
    counts = DaskBlocks(views, stats).reduce(_counts, np.add)
    by_view = {view: int(c) for view, c in zip(VIEW_ORDER, counts[:5])}
    kinds = {view: int(c) for view, c in zip(VIEW_ORDER, counts[5:10])}
    blocks = DaskBlocks(labels, views, stats)
    highest = blocks.reduce(_highest, merge_highest, per_block=list(blocks.starts))
    worst = [(int(i), int(lab), float(s), int(r), int(f)) for s, i, lab, r, f in highest]
    info = {"intrinsic_dimension": dim, "local_threshold": t_local, "global_threshold": t_global,
            "tail_threshold": t_top, "rest_threshold": t_rest,
            "copula_threshold": t_copula if model.copula else None,
            "copula_features": int(len(model.cols)) if model.copula else 0}
    figures, metrics, findings = outliers.summarize(n, kinds, int(counts[10]), by_view, worst, info, label_name,
                                                    k=join.k, local_minimum=local_minimum,
                                                    global_minimum=global_minimum)
    score = views[:, 5]
    flagged = (score > 1.0).persist()
    return ClusterResult(outliers.NAME, figures, metrics, findings, {"outlier_score": score, "is_outlier": flagged},
                         weight=DaskBlocks(flagged).map_rows(lambda f: np.where(f, weight, 1.0), dtype=np.float64),
                         exclude=flagged)
