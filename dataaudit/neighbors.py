"""The shared k-nearest-neighbour graph, built once per scan, and near-duplicate distances.

:class:`NeighborGraph` is what the checks read: ``indices``, ``distances``, ``k``, ``scale``,
``standardize`` and ``query``. :class:`FaissGraph` provides it (:func:`build_neighbor_graph`);
another engine can provide it with the same six names. It searches through
:func:`dataaudit.search.build_search`, the one faiss search (exact, inverted file, or inverted
file of quantised codes; Euclidean or inner product) that the training record's neighbour vote
(``run_evidence.neighbour_votes``) uses too.

Distances are Euclidean on standardised features (each feature scaled to unit variance), so
no single large-valued feature dominates. A *sparse* feature, one that holds the same value in
most rows (an image's border pixel, a count, a one-hot column), is scaled by the typical size
of its departures from that value when that is larger than its standard deviation: a border
pixel lit in 1 digit in 500 is 30-40 standard deviations out by its std alone, which would
make ordinary digits look like broken inputs. faiss is a maintained C++ library with
BLAS-backed exact search and inverted-file approximate search:

- ``n <= 20,000``: exact search (``IndexFlatL2``);
- up to 500,000: ``IndexIVFFlat`` with ``2 * sqrt(n)`` cells, trained by seeded k-means (10
  iterations) on a subsample, probing 16 cells per query;
- larger (``PQ_MIN_ROWS``): cells holding 4-bit product-quantised codes scanned
  with SIMD (``IndexIVFPQFastScan``, two dimensions per code), probing 12 cells, and the best
  ``4 k`` candidates re-ranked by their exact distances (``IndexRefineFlat``): distances stay
  exact, and scanning a cell costs a fraction of the float scan (the figures that chose these
  numbers: docs/benchmarks.md, "The neighbour graph: why its numbers"). ``sqrt(n)`` cells up to
  1M rows, then cells of a fixed ``PQ_CELL_ROWS`` rows: a query scans the same number of codes
  at any n, so the search grows linearly with n instead of as n^1.5. So many cells are trained
  by a two-level k-means (:func:`two_level_centroids`) and found by an HNSW graph over the
  cells' centres (built in one thread: the same seed, the same graph).

The recall@k against exact search is measured on a seeded subsample of queries and stored in
``FaissGraph.recall``, with how much farther the neighbours found are than the true ones
(``FaissGraph.distance_ratio``; both in ``report.summary["neighbors"]``): on data without
low-dimensional structure recall is low while the neighbours found are barely farther, which is
what the outlier ratios and the duplicate threshold read.

IVF was chosen over HNSW because its result does not depend on thread scheduling (the same
seed gives the same graph, hence the same report) and it builds 1M x 64 in about a minute
on two cores; near duplicates, the case that matters most, fall in the same cell and are
found even where recall of ordinary neighbours is lower.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np

from .errors import UsageError, param
from . import search as ann
from .utils import CHUNK_VALUES, chunk_rows

EXACT_MAX = 20_000
N_PROBE = 16
#: IVF cells per square root of n, and k-means iterations of their training (faiss's default is
#: 25; from 10 on the recall of the graph does not move; docs/benchmarks.md, "The neighbour graph").
CELLS_PER_SQRT_N = 2
RECALL_QUERIES = 1000
#: Cells at least; faiss wants at least 39 training rows per cell (MIN_TRAIN_PER_CELL), and the
#: k-means is trained on TRAIN_PER_CELL rows per cell (a seeded sample).
MIN_CELLS = 16
MIN_TRAIN_PER_CELL = 40
TRAIN_PER_CELL = 64
#: From this many rows on, the cells hold product-quantised codes (module notes).
PQ_MIN_ROWS = 500_000
PQ_N_PROBE = 12
#: Queries of the recall measurement above PQ_MIN_ROWS: their exact search alone took 5.7 s at
#: 1M x 64 with 1000 (recall's standard error with 250 is still about 0.02).
PQ_RECALL_QUERIES = 250
SPARSE_ROWS = 100_000


@runtime_checkable
class NeighborGraph(Protocol):
    """What the checks read of the shared kNN graph: every sample's ``k`` nearest other samples.

    Attributes
    ----------
    indices : ndarray (n, k) int64
        Nearest first, the sample itself excluded.
    distances : ndarray (n, k) float32
        Euclidean distances between standardised samples (:meth:`standardize`).
    k : int
    scale : ndarray (d,)
        Each feature's scale in the standardisation (see :func:`standardize_params`).
    """

    indices: np.ndarray
    distances: np.ndarray

    @property
    def k(self) -> int: ...

    @property
    def scale(self) -> np.ndarray: ...

    def standardize(self, features: np.ndarray) -> np.ndarray:
        """Other samples (e.g. a test split) scaled exactly as the graph's samples were."""

    def query(self, features: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest graph samples of other samples: ``(distances, indices)``."""

    def info(self) -> dict[str, Any]:
        """What the report says of the graph (``summary["neighbors"]``)."""


@dataclass
class FaissGraph:
    """The :class:`NeighborGraph` built by faiss (:func:`build_neighbor_graph`).

    Attributes
    ----------
    indices : ndarray (n, k) int64
    distances : ndarray (n, k) float32
        Euclidean distances in standardised feature space.
    method : str
        ``"exact"``, ``"ivf"`` or ``"ivf-pq"`` (approximate).
    recall : float or None
        Measured recall@k of the approximate search (None for exact search).
    distance_ratio : float or None
        Median over the same queries of the mean distance to the neighbours found over the mean
        distance to the true ones (None for exact search).
    """

    indices: np.ndarray
    distances: np.ndarray
    method: str = "exact"
    metric: str = "euclidean (standardised features)"
    recall: float | None = None
    distance_ratio: float | None = None
    _search: ann.Search | None = field(default=None, repr=False)
    _mean: np.ndarray | None = field(default=None, repr=False)
    _scale: np.ndarray | None = field(default=None, repr=False)
    _pad: int = field(default=0, repr=False)

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])

    @property
    def scale(self) -> np.ndarray:
        return self._scale

    def standardize(self, features: np.ndarray) -> np.ndarray:
        Z = ((np.asarray(features, dtype=np.float32) - self._mean) / self._scale).astype(np.float32)
        return ann.padded(Z, self._pad)

    def query(self, features: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        return self._search.nearest(self.standardize(features), k)

    def info(self) -> dict[str, Any]:
        out = {"k": self.k, "method": self.method, "metric": self.metric}
        if self.recall is not None:
            out["recall_at_k"] = round(self.recall, 4)
            out["distance_ratio"] = self.distance_ratio
        return out


def standardize_params(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and scale, computed in chunks of rows.

    The scale is the std (1 for a constant feature) or, for a sparse feature (one value v in a
    share q > 1/2 of the rows), ``(2q - 1) * mean |x - v|`` over the other rows when that is
    larger (see the module notes). The weight ``2q - 1`` goes from 0 at q = 1/2 to 1 at q = 1,
    so the scale changes smoothly as a feature becomes sparse (no jump for a binary feature near
    50/50). v is found on at most ``SPARSE_ROWS`` evenly spaced rows (a value holding more than
    half the rows is their median); q and the departures are counted on every row.

    Examples
    --------
    >>> X = np.zeros((1000, 2), np.float32)
    >>> X[:, 0] = np.arange(1000) % 2       # dense: half 0, half 1 -> its std, 0.5
    >>> X[:2, 1] = 16.0                      # sparse: 0 but in 2 rows -> ~their departure, 16
    >>> [round(float(s), 2) for s in standardize_params(X)[1]]
    [0.5, 15.94]
    """
    n, d = features.shape
    step = max(1, -(-n // SPARSE_ROWS))
    usual = usual_values(features[::step])
    sums = np.zeros((4, d))
    rows = chunk_rows(d)
    for s in range(0, n, rows):
        sums += standardize_sums(features[s : s + rows], usual)
    return standardize_from_sums(sums, n)


def standardize_sums(block: np.ndarray, usual: np.ndarray) -> np.ndarray:
    """A block's sums for :func:`standardize_params` (mergeable by +): per feature, the values,
    their squares, the rows at the usual value and the departures from it."""
    block = np.asarray(block, dtype=np.float64)
    dev = np.abs(block - usual)
    return np.stack([block.sum(axis=0), (block**2).sum(axis=0), (dev == 0).sum(axis=0), dev.sum(axis=0)])


def standardize_from_sums(sums: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale (float32) from the summed :func:`standardize_sums` of ``n`` rows."""
    total, sq, n_usual, departures = sums
    mean = total / n
    std = np.sqrt(np.maximum(sq / n - mean**2, 0))
    share = n_usual / n
    sparse = (share > 0.5) & (share < 1)
    departure = np.zeros(len(total))
    departure[sparse] = (2 * share[sparse] - 1) * departures[sparse] / (n - n_usual[sparse])
    scale = np.maximum(std, departure)
    scale[scale < 1e-12] = 1.0
    return mean.astype(np.float32), scale.astype(np.float32)


def usual_values(sample: np.ndarray) -> np.ndarray:
    """Per feature, the median of ``sample`` (at most ``SPARSE_ROWS`` evenly spaced rows), in
    column blocks."""
    m, d = sample.shape
    out = np.empty(d)
    cols = max(1, CHUNK_VALUES // max(m, 1))
    for c in range(0, d, cols):
        part = np.array(sample[:, c : c + cols], dtype=np.float64)
        out[c : c + cols] = np.partition(part, m // 2, axis=0)[m // 2]
    return out


def _standardized(features: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    out = np.empty(features.shape, dtype=np.float32)
    rows = chunk_rows(features.shape[1])
    for s in range(0, features.shape[0], rows):
        out[s : s + rows] = (features[s : s + rows] - mean) / scale
    return out


def _distance_ratio(found: np.ndarray, exact: np.ndarray) -> float:
    """Median over queries of (mean distance to the neighbours found) / (mean distance to the true
    ones): how much farther an approximate graph's neighbours are (1.0: as near as the true ones).

    Examples
    --------
    >>> _distance_ratio(np.array([[0.0, 1.1, 2.2], [0.0, 1.0, 2.0]]), np.array([[0.0, 1.0, 2.0]] * 2))
    1.05
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = found.mean(axis=1) / exact.mean(axis=1)
    ratio = ratio[np.isfinite(ratio)]
    return round(float(np.median(ratio)), 4) if len(ratio) else 1.0


def build_neighbor_graph(
    features: np.ndarray,
    k: int = 10,
    *,
    random_state: int = 0,
    method: str = "auto",
    progress: Callable[[str], None] | None = None,
) -> FaissGraph:
    """Build the kNN graph of ``features`` (itself excluded).

    Parameters
    ----------
    features : ndarray (n, d) float32
    k : int
        Neighbours per sample (capped at n - 1).
    method : {"auto", "exact", "ivf", "ivf-pq"}
        ``auto``: exact up to 20,000 samples, IVF up to 500,000, IVF of quantised codes above.

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [5.0, 5.0], [0.0, 0.1]], dtype=np.float32)
    >>> g = build_neighbor_graph(X, k=1)
    >>> g.indices[:, 0].tolist()
    [3, 3, 1, 0]
    """
    n, d = features.shape
    k = int(max(1, min(k, n - 1)))
    mean, scale = standardize_params(features)
    Z = _standardized(features, mean, scale)
    if method == "auto":
        method = "exact" if n <= EXACT_MAX else "ivf" if n < PQ_MIN_ROWS else "ivf-pq"
    if method not in ann.METHODS:
        raise UsageError(f"unknown neighbour {param('method')} {method!r}; choose from: auto, {', '.join(ann.METHODS)}")
    pad = ann.pq_codes(d)[1] if method == "ivf-pq" else 0
    Z = ann.padded(Z, pad)
    wanted = ann.pq_cells(n) if method == "ivf-pq" else CELLS_PER_SQRT_N * np.sqrt(n)
    n_cells = int(max(1, min(max(wanted, MIN_CELLS), n // MIN_TRAIN_PER_CELL)))
    search = ann.build_search(Z, method, n_cells=n_cells, n_probe=PQ_N_PROBE if method == "ivf-pq" else N_PROBE,
                          train_rows=TRAIN_PER_CELL * n_cells, iterations=ann.TRAIN_ITERATIONS,
                          random_state=random_state, progress=progress)
    if progress:
        progress(f"neighbours: {method} search of {k} neighbours for {n} samples")
    dist, idx = search.nearest(Z, k + 1, progress=progress)
    # Missing results (IVF cells with too few points) come back as -1: point them at self.
    missing = idx < 0
    if missing.any():
        idx[missing] = np.nonzero(missing)[0]
        dist[missing] = np.inf
    recall = distance_ratio = None
    if method != "exact":
        recall, distance_ratio = _measured_recall(Z, idx, dist, k + 1, random_state=random_state,
                                                  n_queries=RECALL_QUERIES if method == "ivf" else PQ_RECALL_QUERIES)
    indices, distances = ann.drop_self(idx, dist)
    finite = np.isfinite(distances)
    if not finite.all():
        distances[~finite] = distances[finite].max() if finite.any() else 0.0
    return FaissGraph(indices, distances, method=method, recall=recall, distance_ratio=distance_ratio,
                      _search=search, _mean=mean, _scale=scale, _pad=pad)


def _measured_recall(Z: np.ndarray, idx: np.ndarray, dist: np.ndarray, k: int, *, random_state: int,
                     n_queries: int) -> tuple[float, float]:
    """Recall@k of an approximate search's ``idx`` against exact search on a seeded subsample of
    queries, and :func:`_distance_ratio` on the same queries."""
    n = len(Z)
    rng = np.random.default_rng(random_state + 1)
    q = np.sort(rng.choice(n, size=min(n_queries, n), replace=False))
    exact_dist, exact_idx = ann.build_search(Z, "exact").nearest(Z[q], k)
    hits = [len(set(a) & set(b)) for a, b in zip(idx[q].tolist(), exact_idx.tolist())]
    return float(np.sum(hits) / (len(q) * k)), _distance_ratio(dist[q], exact_dist)


def near_duplicate_threshold(graph: NeighborGraph, factor: float = 0.1) -> float:
    """Distance under which two samples are near duplicates: ``factor`` x the median
    distance of a sample to its nearest non-identical neighbour.

    It adapts to the data's own spacing: in low-dimensional data, where genuine samples sit
    close together, the median nearest-neighbour distance is small and so is the threshold.

    Examples
    --------
    >>> g = FaissGraph(np.zeros((4, 1), int), np.array([[0.0], [2.0], [2.0], [4.0]], np.float32))
    >>> round(near_duplicate_threshold(g), 6)
    0.2
    """
    positive = nearest_other(graph.distances)
    positive = positive[np.isfinite(positive)]
    if len(positive) == 0:
        return 0.0
    return float(factor * np.median(positive))


def nearest_other(distances: np.ndarray) -> np.ndarray:
    """Each row's distance to its nearest non-identical neighbour among ``distances`` (n, k);
    NaN when every neighbour is identical (or there is none).

    Examples
    --------
    >>> nearest_other(np.array([[0.0, 2.0], [1.0, 3.0], [0.0, 0.0]])).tolist()
    [2.0, 1.0, nan]
    """
    d = np.asarray(distances, dtype=np.float64)
    positive = np.where(d > 0, d, np.inf).min(axis=1) if d.shape[1] else np.full(len(d), np.inf)
    return np.where(np.isfinite(positive), positive, np.nan)
