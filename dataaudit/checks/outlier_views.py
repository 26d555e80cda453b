"""The outliers check's math: five views of a row that does not belong, as pure functions.

Not a check (the check, its words and its verdict are in :mod:`dataaudit.checks.outliers`): the
views are kept apart so that each piece can be read and tested without a scan.

``outlier_score`` is the largest of five ratios ``view / its threshold``; above 1 is an outlier.
Each view sees a kind of broken row that the others miss (recall per kind on digits,
breast_cancer, wine and synthetic sets: ``python -m bench outliers``):

1. ``far_from_neighbours``: the shared kNN graph's *local* ratio (:func:`knn_outlier_scores`) and
   *global* ratio (mean neighbour distance over the median row's), each cut at Tukey's far-out
   fence and at least 3 and 6. On data of low intrinsic dimension m (:func:`intrinsic_dimension`)
   a distance ratio r is a density ratio r^m, so the floors are raised to the power 6/m. A row
   flagged for one heavy-tailed feature's extreme is left to view 2: heavy tails are not flagged
   wholesale.
2. ``one_extreme_value``: the largest per-feature tail ratio (:func:`tail_spreads`,
   :func:`tail_ratios`) beyond 12: a glitch or a typo in one feature.
3. ``many_extreme_values``: the RMS of the row's other tail ratios beyond 3: far out in many
   features at once (other units, an unscaled row).
4. ``unusual_combination``: a Gaussian copula's Mahalanobis distance (:func:`copula_knots`,
   :func:`normal_scores`, :func:`copula_whitening`): every value plausible, the combination not
   (a row pieced together from different records).
5. ``constant_row``: every feature one value (all zeros) where chance cannot explain it
   (:func:`constant_rows`).

Beyond the graph, the cost is one chunked O(n d) pass plus O(d^2) work on a sample of rows.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from ..utils import chunk_rows, tukey_fence
from .copula import (  # noqa: F401  (the copula's constants are the check's too)
    COPULA_FACTOR, MAX_ATOM, NORMAL_IQR, ROWS_PER_FEATURE, SNAP, copula_knots, copula_whitening, normal_scores,
    robust_z_of_cube,
)

#: Rows sampled to estimate the features' distributions (fewer for wide data: one chunk's values).
SAMPLE_ROWS = 20_000
#: Tukey's far-out whisker (every fence is Q3 + FAR_OUT * IQR, at least a view's floor).
FAR_OUT = 3.0
#: Floors of the kNN view's local and global ratios. The local floor was 3: on breast_cancer (569
#: rows) two real rows sit at local ratios 3.1-3.2 and were flagged beside every planted far row
#: (F1 0.88 on 8 planted rows, 5 seeds); at 3.3 they are not, and no planted kind of the outliers
#: suite is found less often (docs/benchmarks.md, "Outliers by kind").
LOCAL_MINIMUM, GLOBAL_MINIMUM = 3.3, 6.0
#: Intrinsic dimension from which the kNN floors are the given minima; below it they rise.
DIM_REFERENCE = 6.0
#: A kNN flag is "one feature" when one feature holds this share of its squared distance...
SINGLE_SHARE = 0.8
#: ...and is left to the tail view when that feature's tail is this many times a Gaussian's.
HEAVY_VETO = 1.25
#: Floors of the fences of the largest tail ratio and of the other features' RMS.
TAIL_MINIMUM, REST_MINIMUM = 12.0, 3.0
#: A tail h times as heavy as a Gaussian's widens its spread by h ** HEAVY_POWER.
HEAVY_POWER = 0.5
#: The tail quantile q = 1/sqrt(n) (where an ordinary row's most extreme values lie), within these bounds.
TAIL_Q = (0.001, 0.05)
#: Departures from the median under this share of the robust scale are float noise or jitter.
JITTER = 0.02
#: Fewer departures than this in the sample: a feature's typical departure is its robust scale.
MIN_DEPARTURES = 5
#: No value held by this share of the rows: the quartiles describe the tails' shape.
CONTINUOUS_MODE = 0.1
#: A flagged constant row's score; constant rows are a property of the data above this share.
CONSTANT_SCORE, CONSTANT_MAX_SHARE = 1.5, 0.05
#: Constant rows need this many features to mean anything; the most frequent values checked.
CONSTANT_MIN_FEATURES, CONSTANT_VALUES = 3, 8


def knn_outlier_scores(indices: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """How much further a sample is from its neighbours than they are from theirs.

    ``score_i = mean_kNN_distance_i / median_j(mean_kNN_distance_j)`` over i's neighbours j
    (a local-density ratio, like LOF's): ~1 inside the data, large for a sample far from any
    cluster, whatever the cluster's own density.

    Examples
    --------
    >>> idx = np.array([[1, 2], [0, 2], [0, 1], [0, 1]])
    >>> dist = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [10.0, 10.0]])
    >>> knn_outlier_scores(idx, dist).round(1).tolist()
    [1.0, 1.0, 1.0, 10.0]
    """
    reach, ref = reach_and_reference(indices, distances)
    return local_ratio(reach, ref, float(np.median(reach)))


def reach_and_reference(indices: np.ndarray, distances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's mean neighbour distance (its reach) and the median reach of its neighbours
    (``indices`` are positions among the same rows)."""
    reach = distances.mean(axis=1).astype(np.float64)
    return reach, np.median(reach[indices], axis=1)


def local_ratio(reach: np.ndarray, ref: np.ndarray, median_reach: float) -> np.ndarray:
    """``reach / ref``, the reference at least a thousandth of the median reach (duplicates sit at 0)."""
    floor = max(median_reach * 1e-3, 1e-12)
    return reach / np.maximum(ref, floor)


def inverse_dimensions(distances: np.ndarray) -> np.ndarray:
    """Each row's inverse intrinsic dimension (Levina and Bickel) from its sorted neighbour
    distances; NaN where it says nothing (a zero distance, fewer than 3 neighbours)."""
    d = np.asarray(distances, dtype=np.float64)
    out = np.full(len(d), np.nan)
    if d.shape[1] < 3:
        return out
    with np.errstate(divide="ignore", invalid="ignore"):
        inverse = np.log(d[:, -1:] / d[:, :-1]).sum(axis=1) / (d.shape[1] - 2)
    valid = (d[:, 0] > 0) & np.isfinite(inverse) & (inverse > 0)
    out[valid] = inverse[valid]
    return out


def intrinsic_dimension(distances: np.ndarray) -> float:
    """Levina and Bickel's maximum-likelihood intrinsic dimension from each row's sorted
    neighbour distances (its inverse averaged over rows, as MacKay and Ghahramani advise).

    Rows with a zero distance (duplicates) say nothing and are left out; ``DIM_REFERENCE``
    when nothing is left or there are fewer than 3 neighbours.

    Examples
    --------
    >>> from dataaudit.neighbors import build_neighbor_graph
    >>> rng = np.random.default_rng(0)
    >>> plane = rng.uniform(size=(3000, 2)) @ rng.normal(size=(2, 10))   # a plane in 10-D
    >>> round(intrinsic_dimension(build_neighbor_graph(plane.astype(np.float32)).distances), 1)
    1.8
    """
    inverse = inverse_dimensions(distances)
    inverse = inverse[np.isfinite(inverse)]
    return float(1.0 / inverse.mean()) if len(inverse) else DIM_REFERENCE


def tail_spreads(sample: np.ndarray, n: int, robust_scale: np.ndarray):
    """Per feature: median, spreads below and above it, and how heavy its tails are.

    Each side's spread is the distance from the median to the ``q`` or ``1 - q`` quantile,
    ``q = 1/sqrt(n)`` (the most extreme values an ordinary row among n reaches), at least the
    feature's typical departure from its median (for a feature that is mostly one value), and
    widened by ``h ** HEAVY_POWER`` where the tail is h times as heavy as a Gaussian's (the
    spread to q over the spread to the quartile, relative to a Gaussian's; continuous
    features only).

    Parameters
    ----------
    sample : ndarray (m, d)
        Rows the distributions are estimated on.
    n : int
        Rows in the data.
    robust_scale : ndarray (d,)
        Each feature's robust scale (the fallback departure, and the jitter unit).

    Returns
    -------
    median, down, up, heavy : ndarray (d,)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> S = np.c_[rng.normal(size=10_000), rng.standard_t(2, size=10_000)]
    >>> med, down, up, heavy = tail_spreads(S, 10_000, np.ones(2))
    >>> np.round(up, 1).tolist(), np.round(heavy, 1).tolist()   # t(2)'s tail: 2.7x a Gaussian's
    ([2.3, 11.5], [1.0, 2.7])
    """
    q = float(np.clip(1.0 / np.sqrt(n), *TAIL_Q))
    lo, q1, med, q3, hi = np.quantile(sample, [q, 0.25, 0.5, 0.75, 1 - q], axis=0)
    dev = np.abs(sample - med)
    dev[dev <= JITTER * robust_scale] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a feature without departures: handled below
        typical = np.nanmedian(dev, axis=0)
    few = (np.isfinite(dev).sum(axis=0) < MIN_DEPARTURES) | ~np.isfinite(typical)
    typical = np.where(few, robust_scale, typical)
    gaussian = float(ndtri(1 - q) / ndtri(0.75))
    with np.errstate(divide="ignore", invalid="ignore"):
        h_up = np.where(q3 > med, (hi - med) / (q3 - med) / gaussian, 1.0)
        h_down = np.where(q1 < med, (med - lo) / (med - q1) / gaussian, 1.0)
    mode = np.array([np.unique(col, return_counts=True)[1].max() for col in sample.T]) / len(sample)
    continuous = mode < CONTINUOUS_MODE  # a zero-inflated feature's quartiles say nothing of its tail
    h_up = np.where(continuous, np.maximum(np.nan_to_num(h_up, nan=1.0), 1.0), 1.0)
    h_down = np.where(continuous, np.maximum(np.nan_to_num(h_down, nan=1.0), 1.0), 1.0)
    down = np.maximum(med - lo, typical) * h_down**HEAVY_POWER
    up = np.maximum(hi - med, typical) * h_up**HEAVY_POWER
    return med, down, up, np.maximum(h_up, h_down)


def tail_ratios(block: np.ndarray, median: np.ndarray, down: np.ndarray, up: np.ndarray):
    """Each row's largest tail ratio ``|x_j - median_j| / spread_j`` (spread on x's side), its
    feature, and the RMS of the row's other ratios.

    Examples
    --------
    >>> B = np.array([[0.0, 1.0, -1.0], [50.0, 0.0, 0.0], [20.0, 20.0, 20.0]])
    >>> top, j, rest = tail_ratios(B, np.zeros(3), np.ones(3), np.ones(3))
    >>> top.tolist(), j.tolist(), np.round(rest, 3).tolist()
    ([1.0, 50.0, 20.0], [1, 0, 0], [0.707, 0.0, 20.0])
    """
    T = np.asarray(block, dtype=np.float64) - median
    T /= np.where(T >= 0, up, -down)  # in place: a chunk's worth of memory, not four
    j = T.argmax(axis=1)
    rows = np.arange(len(T))
    top = T[rows, j]
    T[rows, j] = 0.0  # the rest, exactly: subtracting top**2 from the sum would cancel away precision
    rest = np.sqrt(np.einsum("ij,ij->i", T, T) / max(T.shape[1] - 1, 1))
    return top, j, rest


def constant_mask(block: np.ndarray) -> np.ndarray:
    """Rows of ``block`` whose every feature holds one value (none below ``CONSTANT_MIN_FEATURES``)."""
    if block.shape[1] < CONSTANT_MIN_FEATURES:
        return np.zeros(len(block), bool)
    return block.max(axis=1) == block.min(axis=1)


def constant_values(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The constant rows' most frequent values, the ones judged (``CONSTANT_VALUES``)."""
    return values[np.argsort(-counts, kind="stable")[:CONSTANT_VALUES]]


def rare_by_chance(n: int, held: np.ndarray) -> bool:
    """Whether fewer than one row would hold a value in every feature by chance, given how many
    rows hold it in each feature (``held``)."""
    with np.errstate(divide="ignore"):
        return bool(np.log(n) + np.log(held / n).sum() < 0)


def constant_rows(X: np.ndarray) -> np.ndarray:
    """Rows whose every feature holds one value v, where chance cannot explain them: fewer than
    one such row expected if the features were independent (``n * prod_j P(x_j = v) < 1``).

    None when the data has fewer than ``CONSTANT_MIN_FEATURES`` features, or when more than
    ``CONSTANT_MAX_SHARE`` of the rows are constant (then that is what the data is).

    Examples
    --------
    >>> X = np.random.default_rng(0).integers(0, 3, size=(500, 8)).astype(float)
    >>> X[[3, 7]] = 0.0
    >>> np.flatnonzero(constant_rows(X)).tolist()
    [3, 7]
    """
    n, d = X.shape
    const = np.zeros(n, bool)
    step = chunk_rows(d)
    for s in range(0, n, step):
        const[s : s + step] = constant_mask(X[s : s + step])
    flag = np.zeros(n, bool)
    if not const.any() or const.mean() > CONSTANT_MAX_SHARE:
        return flag
    for v in constant_values(*np.unique(X[const, 0], return_counts=True)):
        held = np.zeros(d)
        for s in range(0, n, step):
            held += (X[s : s + step] == v).sum(axis=0)
        if rare_by_chance(n, held):
            flag |= const & (X[:, 0] == v)
    return flag


def feature_shares(Z: np.ndarray, Zn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows ``Z`` (m, d) and their neighbours ``Zn`` (m, k, d), standardised: the largest
    feature's share of the mean squared distance, and that feature."""
    c = ((np.asarray(Zn, np.float64) - np.asarray(Z, np.float64)[:, None, :]) ** 2).mean(axis=1)
    return c.max(axis=1) / np.maximum(c.sum(axis=1), 1e-300), c.argmax(axis=1)


def single_feature_share(graph, X: np.ndarray, rows: np.ndarray):
    """For each of ``rows``: :func:`feature_shares` against its neighbours in ``graph``."""
    share, feature = np.zeros(len(rows)), np.zeros(len(rows), int)
    step = max(1, chunk_rows(X.shape[1]) // graph.k)
    for s in range(0, len(rows), step):
        r = rows[s : s + step]
        Zn = graph.standardize(X[graph.indices[r].ravel()]).reshape(len(r), graph.k, -1)
        share[s : s + step], feature[s : s + step] = feature_shares(graph.standardize(X[r]), Zn)
    return share, feature


def knn_power(dim: float) -> float:
    """The power the kNN floors are raised to at intrinsic dimension ``dim``."""
    return max(1.0, DIM_REFERENCE / max(dim, 0.5))  # (a dimension under 1/2 is noise in the estimate)


def robust_scales(everyone: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Each feature's robust scale: its IQR as a standard deviation, at most its ``scale``."""
    q1, q3 = np.quantile(everyone, [0.25, 0.75], axis=0)
    iqr = (q3 - q1) / NORMAL_IQR
    scale = np.asarray(scale, np.float64)
    return np.where(iqr > 0, np.minimum(iqr, scale), scale)


@dataclass
class RowModel:
    """What the one pass over the rows needs (:func:`row_statistics`): each feature's tail
    spreads and the copula's knots and whitening, fitted on samples of rows."""

    median: np.ndarray
    down: np.ndarray
    up: np.ndarray
    heavy: np.ndarray
    knots: list
    cols: np.ndarray
    m: int
    mu: np.ndarray | None = None
    W: np.ndarray | None = None

    @property
    def copula(self) -> bool:
        return self.W is not None


def fit_row_model(everyone: np.ndarray, tails_sample: np.ndarray, ordinary: np.ndarray, n: int,
                  robust: np.ndarray) -> RowModel:
    """Tail spreads from ``tails_sample`` (rows neither far in many features nor constant),
    the copula's knots from ``everyone`` (a sample of all rows) and its whitening from
    ``ordinary`` rows (no kNN view flagged them, not constant)."""
    med, down, up, heavy = tail_spreads(tails_sample, n, robust)
    knots, atom_share = copula_knots(everyone, SNAP * robust)
    model = RowModel(med, down, up, heavy, knots, np.flatnonzero(atom_share <= MAX_ATOM), len(everyone))
    if len(model.cols) < 2 or len(ordinary) < ROWS_PER_FEATURE * len(model.cols):
        return model
    G = normal_scores(ordinary, knots, model.cols, model.m)
    live = G.std(axis=0) > 1e-6  # constant on the ordinary rows: no correlation to judge
    if live.sum() >= 2:
        model.cols = model.cols[live]
        model.mu, model.W = copula_whitening(G[:, live])
    return model


def row_statistics(block: np.ndarray, model: RowModel):
    """A block's largest tail ratio, its feature, the RMS of the other ratios, and the copula's
    squared Mahalanobis distance (0 without a copula)."""
    block = np.asarray(block, dtype=np.float64)
    top, feature, rest = tail_ratios(block, model.median, model.down, model.up)
    d2 = np.zeros(len(block))
    if model.copula and len(block):
        Y = (normal_scores(block, model.knots, model.cols, model.m) - model.mu) @ model.W
        d2 = np.einsum("ij,ij->i", Y, Y).astype(np.float64)
    return top, feature, rest, d2


def copula_threshold(n: int) -> float:
    return COPULA_FACTOR * np.sqrt(2 * np.log(max(n, 3)))


#: The views in the order a flagged row's reason is chosen (the first above 1).
VIEW_ORDER = ("constant_row", "many_extreme_values", "one_extreme_value", "far_from_neighbours", "unusual_combination")


def combine_views(stacked: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``outlier_score`` (the largest view), the flag (above 1) and the reason (the first view
    above 1, -1 if none) of views stacked in ``VIEW_ORDER`` (5, n)."""
    scores = np.nan_to_num(stacked.max(axis=0), nan=0.0, posinf=np.finfo(np.float64).max)
    flagged = scores > 1.0
    reason = np.full(len(scores), -1)
    reason[flagged] = np.argmax(stacked[:, flagged] > 1.0, axis=0)
    return scores, flagged, reason


def _sample(rows: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(rows, size, replace=False)) if len(rows) > size else rows


def sample_size(d: int) -> int:
    """Rows sampled to estimate the features' distributions (a sample holds at most a chunk's values)."""
    return min(SAMPLE_ROWS, chunk_rows(d))


def outlier_views(X: np.ndarray, graph, *, random_state: int = 0, local_minimum: float = LOCAL_MINIMUM,
                  global_minimum: float = GLOBAL_MINIMUM):
    """Every view's ``score / threshold`` (see the module notes), and what the figures report.

    Returns
    -------
    views : dict of str to ndarray (n,)
        ``constant_row``, ``many_extreme_values``, ``one_extreme_value``, ``far_from_neighbours``,
        ``unusual_combination``; a row is an outlier when any is above 1.
    info : dict
        Thresholds, the intrinsic dimension, ``feature``: each row's most extreme feature.
    """
    n, d = X.shape
    rng = np.random.default_rng(random_state)
    size = sample_size(d)
    every = np.arange(n)
    # 1. kNN ratios, floors raised where the intrinsic dimension is low.
    dim = intrinsic_dimension(graph.distances[_sample(every, size, rng)])
    power = knn_power(dim)
    reach, ref = reach_and_reference(graph.indices, graph.distances)
    median_reach = float(np.median(reach))
    local = local_ratio(reach, ref, median_reach)
    glob = reach / max(median_reach, 1e-12)
    t_local = tukey_fence(local, FAR_OUT, floor=local_minimum**power)
    t_global = tukey_fence(glob, FAR_OUT, floor=global_minimum**power)
    knn = np.maximum(local / t_local, glob / t_global)
    flagged = np.flatnonzero(knn > 1)
    share, dominant = single_feature_share(graph, X, flagged)
    const = constant_rows(X)
    # 2-3. Tail spreads, from rows that are neither far in many features nor constant.
    base = ~const
    base[flagged[share < SINGLE_SHARE]] = False
    everyone = np.asarray(X[_sample(every, size, rng)], dtype=np.float64)
    robust = robust_scales(everyone, graph.scale)
    sample = everyone if base.sum() <= n // 2 else np.asarray(X[_sample(np.flatnonzero(base), size, rng)], np.float64)
    # 4. Copula, fitted on rows no kNN view flagged (before the veto) that are not constant.
    ordinary = ~const
    ordinary[flagged] = False
    fit_rows = _sample(np.flatnonzero(ordinary), size, rng)
    model = fit_row_model(everyone, sample, np.asarray(X[fit_rows], np.float64), n, robust)
    veto = flagged[(share >= SINGLE_SHARE) & (model.heavy[dominant] >= HEAVY_VETO)]
    knn[veto] = 0.0  # one heavy-tailed feature's extreme: the tail view judges it
    top, feature, rest, d2 = np.empty(n), np.empty(n, np.int32), np.empty(n), np.zeros(n)
    step = chunk_rows(d)
    for s in range(0, n, step):  # one pass over the rows
        top[s : s + step], feature[s : s + step], rest[s : s + step], d2[s : s + step] = row_statistics(
            X[s : s + step], model)
    t_top = tukey_fence(top, FAR_OUT, floor=TAIL_MINIMUM)
    t_rest = tukey_fence(rest, FAR_OUT, floor=REST_MINIMUM)
    t_copula = copula_threshold(n)
    views = {
        "constant_row": np.where(const, CONSTANT_SCORE, 0.0),
        "many_extreme_values": rest / t_rest,
        "one_extreme_value": top / t_top,
        "far_from_neighbours": knn,
        "unusual_combination": robust_z_of_cube(d2) / t_copula if model.copula else np.zeros(n),
    }
    info = {
        "intrinsic_dimension": dim,
        "local_threshold": t_local,
        "global_threshold": t_global,
        "tail_threshold": t_top,
        "rest_threshold": t_rest,
        "copula_threshold": t_copula if model.copula else None,
        "copula_features": int(len(model.cols)) if model.copula else 0,
        "feature": feature,
    }
    return views, info
