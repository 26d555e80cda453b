"""The shared k-nearest-neighbour graph, built once per scan, the faiss search behind it, and
near-duplicate distances.

:class:`NeighborGraph` is what the checks read: ``indices``, ``distances``, ``k``, ``scale``,
``standardize`` and ``query``. :class:`FaissGraph` provides it (:func:`build_neighbor_graph`);
another engine can provide it with the same six names. :class:`Search` is the one faiss search
(exact, inverted file, or inverted file of quantised codes; Euclidean or inner product) that the
graph and the training record's neighbour vote (``run_evidence.neighbour_votes``) both use.

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
from .utils import CHUNK_ROWS, CHUNK_VALUES, chunk_rows

METHODS = ("exact", "ivf", "ivf-pq")
EXACT_MAX = 20_000
N_PROBE = 16
#: IVF cells per square root of n, and k-means iterations of their training (faiss's default is
#: 25; from 10 on the recall of the graph does not move; docs/benchmarks.md, "The neighbour graph").
CELLS_PER_SQRT_N = 2
TRAIN_ITERATIONS = 10
RECALL_QUERIES = 1000
#: Cells at least; faiss wants at least 39 training rows per cell (MIN_TRAIN_PER_CELL), and the
#: k-means is trained on TRAIN_PER_CELL rows per cell (a seeded sample).
MIN_CELLS = 16
MIN_TRAIN_PER_CELL = 40
TRAIN_PER_CELL = 64
#: From this many rows on, the cells hold product-quantised codes (module notes).
PQ_MIN_ROWS = 500_000
PQ_CELLS_PER_SQRT_N = 1
#: From 1M rows on, cells of this many rows (1,000 cells at 1M, as sqrt(n) gives there).
PQ_CELL_ROWS = 1_000
#: From this many cells on, the cells' centres are trained in two levels and found by HNSW.
HNSW_MIN_CELLS = 2_048
HNSW_LINKS = 32
#: Candidate cells the HNSW graph keeps while looking for the nearest ones (at least 4 x nprobe).
HNSW_EF_SEARCH = 64
#: The two-level k-means sees at most this many rows per cell...
TWO_LEVEL_TRAIN_PER_CELL = 32
PQ_N_PROBE = 12
PQ_RERANK_FACTOR = 4
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
class Search:
    """One faiss index over reference rows, searched in chunks of queries.

    Attributes
    ----------
    index : faiss.Index
        Trained and filled.
    inner_product : bool
        Similarities (larger is nearer) instead of squared Euclidean distances.
    reference : ndarray (m,) int64 or None
        The reference rows' ids in the caller's numbering (None: 0 .. m - 1).
    """

    index: Any
    inner_product: bool = False
    reference: np.ndarray | None = None

    def nearest(self, Z: np.ndarray, k: int, *,
                progress: Callable[[str], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, ids)`` of each query's ``k`` nearest reference rows, (m, k) each: Euclidean
        distances (or inner products), ids in the caller's numbering, -1 where a search found
        fewer than ``k`` (inverted-file cells with too few rows)."""
        n = len(Z)
        ids = np.empty((n, k), dtype=np.int64)
        scores = np.empty((n, k), dtype=np.float32)
        step = CHUNK_ROWS
        for s in range(0, n, step):
            D, I = self.index.search(Z[s : s + step], k)
            if self.reference is not None:
                I = np.where(I >= 0, self.reference[np.maximum(I, 0)], -1)
            ids[s : s + step] = I
            scores[s : s + step] = D if self.inner_product else np.sqrt(np.maximum(D, 0))
            if progress and n > 2 * step and (s // step) % 4 == 3:
                progress(f"neighbours: {min(s + step, n)}/{n}")
        return scores, ids


def build_search(Z: np.ndarray, method: str, *, n_cells: int = 0, n_probe: int = 1, inner_product: bool = False,
                 train_rows: int | None = None, iterations: int | None = None, reference: np.ndarray | None = None,
                 random_state: int = 0, progress: Callable[[str], None] | None = None) -> Search:
    """A :class:`Search` over the rows of ``Z`` (float32, C-contiguous).

    Parameters
    ----------
    method : {"exact", "ivf", "ivf-pq"}
        Exact search, an inverted file of ``n_cells`` cells probing ``n_probe`` of them, or an
        inverted file of product-quantised codes re-ranked exactly (Euclidean only; ``Z``'s
        width must divide into :func:`pq_codes`).
    train_rows : int, optional
        The cells' k-means is trained on this many seeded rows of ``Z`` (all when None).
    iterations : int, optional
        k-means iterations (faiss's default when None).
    reference : ndarray, optional
        The rows' ids in the caller's numbering, returned by :meth:`Search.nearest`.

    Examples
    --------
    >>> Z = np.array([[0.0], [1.0], [5.0]], np.float32)
    >>> build_search(Z, "exact").nearest(np.array([[0.9]], np.float32), 2)[1].tolist()
    [[1, 0]]
    """
    import faiss

    n, d = Z.shape
    if method == "exact":
        index = faiss.IndexFlatIP(d) if inner_product else faiss.IndexFlatL2(d)
    elif method == "ivf":
        index = ivf_index(d, n_cells, random_state=random_state, inner_product=inner_product, iterations=iterations)
        index.nprobe = min(n_probe, n_cells)
    elif method == "ivf-pq" and not inner_product:
        index = None
    else:
        raise UsageError(f"unknown neighbour {param('method')} {method!r}; choose from: {', '.join(METHODS)}")
    if method != "exact":
        train_n = n if train_rows is None else min(n, train_rows)
        rng = np.random.default_rng(random_state)
        sample = Z[np.sort(rng.choice(n, size=train_n, replace=False))] if train_n < n else Z
        if progress:
            progress(f"neighbours: training an IVF index ({n_cells} cells) on {train_n} samples")
        if index is None:
            centres = None
            if n_cells >= HNSW_MIN_CELLS:
                centres = two_level_centroids(sample[:: max(1, len(sample) // (TWO_LEVEL_TRAIN_PER_CELL * n_cells))], n_cells,
                                              random_state=random_state)
            index = _pq_index(d, n_cells, random_state=random_state, n_probe=n_probe, centres=centres)
        index.train(sample)
    index.add(Z)
    return Search(index, inner_product=inner_product, reference=reference)


def drop_self(idx: np.ndarray, dist: np.ndarray, first_row: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Remove each query row's own id from its k + 1 results (the first hit of it, or the last
    result when the row was not found: duplicates hid it, or it is not a reference row). Row
    ``i`` of ``idx`` is the query of id ``first_row + i``.

    Examples
    --------
    >>> idx = np.array([[0, 1, 2], [0, 2, 1]])   # row 1 is not among its own results
    >>> drop_self(idx, idx.astype(np.float32))[0].tolist()
    [[1, 2], [0, 2]]
    """
    n, k1 = idx.shape
    is_self = idx == np.arange(first_row, first_row + n)[:, None]
    first = is_self & (np.cumsum(is_self, axis=1) == 1)
    first[~first.any(axis=1), k1 - 1] = True
    keep = ~first
    return idx[keep].reshape(n, k1 - 1).astype(np.int64), dist[keep].reshape(n, k1 - 1)


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
    _search: Search | None = field(default=None, repr=False)
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
        return _padded(Z, self._pad)

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
    usual = _usual_values(features)
    total, sq = np.zeros(d), np.zeros(d)
    n_usual, departures = np.zeros(d), np.zeros(d)
    rows = chunk_rows(d)
    for s in range(0, n, rows):
        block = features[s : s + rows].astype(np.float64)
        total += block.sum(axis=0)
        sq += (block**2).sum(axis=0)
        dev = np.abs(block - usual)
        n_usual += (dev == 0).sum(axis=0)
        departures += dev.sum(axis=0)
    mean = total / n
    std = np.sqrt(np.maximum(sq / n - mean**2, 0))
    share = n_usual / n
    sparse = (share > 0.5) & (share < 1)
    departure = np.zeros(d)
    departure[sparse] = (2 * share[sparse] - 1) * departures[sparse] / (n - n_usual[sparse])
    scale = np.maximum(std, departure)
    scale[scale < 1e-12] = 1.0
    return mean.astype(np.float32), scale.astype(np.float32)


def _usual_values(features: np.ndarray) -> np.ndarray:
    """Per feature, the median of at most ``SPARSE_ROWS`` evenly spaced rows, in column blocks."""
    n, d = features.shape
    step = max(1, -(-n // SPARSE_ROWS))
    m = len(range(0, n, step))
    out = np.empty(d)
    cols = max(1, CHUNK_VALUES // m)
    for c in range(0, d, cols):
        sample = np.array(features[::step, c : c + cols], dtype=np.float64)
        out[c : c + cols] = np.partition(sample, m // 2, axis=0)[m // 2]
    return out


def _standardized(features: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    out = np.empty(features.shape, dtype=np.float32)
    rows = chunk_rows(features.shape[1])
    for s in range(0, features.shape[0], rows):
        out[s : s + rows] = (features[s : s + rows] - mean) / scale
    return out


def ivf_index(d: int, n_cells: int, *, random_state: int, inner_product: bool = False, iterations: int | None = None):
    """An untrained faiss inverted-file index whose k-means is seeded: the same seed gives the same
    cells, hence the same neighbours and the same report. ``iterations``: k-means iterations
    (faiss's default when None)."""
    import faiss

    if inner_product:
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, n_cells, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFFlat(faiss.IndexFlatL2(d), d, n_cells)
    return _seeded(index, random_state, iterations)


def _seeded(index, random_state: int, iterations: int | None):
    """``index`` (an inverted file) with its k-means seeded, and ``iterations`` of it when given."""
    index.cp.seed = int(random_state) % (2**31)
    if iterations is not None:
        index.cp.niter = iterations
    return index


def _padded(Z: np.ndarray, pad: int) -> np.ndarray:
    """``Z`` with ``pad`` zero columns (distances unchanged), so its width divides into codes."""
    return np.ascontiguousarray(np.pad(Z, ((0, 0), (0, pad)))) if pad else Z


def pq_codes(d: int) -> tuple[int, int]:
    """Product-quantiser codes per row and the zero columns that make ``d`` divide into them:
    two dimensions per code, at most 64 codes.

    Examples
    --------
    >>> pq_codes(64), pq_codes(13), pq_codes(784)
    ((32, 0), (7, 1), (64, 48))
    """
    codes = int(min(64, -(-d // 2)))
    return codes, -(-d // codes) * codes - d


def pq_cells(n: int) -> int:
    """Cells of the quantised inverted file for ``n`` rows: ``sqrt(n)`` up to 1M rows, then one
    per ``PQ_CELL_ROWS`` rows (module notes).

    Examples
    --------
    >>> pq_cells(640_000), pq_cells(1_000_000), pq_cells(5_000_000)
    (800, 1000, 5000)
    """
    return int(max(PQ_CELLS_PER_SQRT_N * np.sqrt(n), n // PQ_CELL_ROWS))


def two_level_centroids(sample: np.ndarray, n_cells: int, *, random_state: int,
                        iterations: int = TRAIN_ITERATIONS) -> np.ndarray:
    """``n_cells`` k-means centres of ``sample`` found in two levels: ``sqrt(n_cells)`` coarse
    clusters, then each split into a share of the cells proportional to its rows. The cost is
    about ``2 sqrt(n_cells)`` distance computations per row instead of ``n_cells`` (faiss's
    ``contrib.clustering.two_level_clustering`` is the same idea; this one never asks a cluster
    for more centres than it has rows, nor for none).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> two_level_centroids(rng.normal(size=(2000, 4)).astype(np.float32), 20, random_state=0).shape
    (20, 4)
    """
    import faiss

    n, d = sample.shape
    n_coarse = int(max(1, min(round(np.sqrt(n_cells)), n_cells)))
    coarse = faiss.Kmeans(d, n_coarse, niter=iterations, seed=int(random_state) % (2**31), min_points_per_centroid=1, max_points_per_centroid=n)
    coarse.train(sample)
    _, assigned = coarse.index.search(sample, 1)
    assigned = assigned[:, 0]
    sizes = np.bincount(assigned, minlength=n_coarse)
    # Largest remainders: the shares sum to n_cells, none above its rows, every non-empty one >= 1.
    share = sizes * n_cells / n
    cells = np.minimum(np.maximum(np.floor(share).astype(int), (sizes > 0).astype(int)), sizes)
    for c in np.argsort(-(share - np.floor(share)), kind="stable"):
        if cells.sum() >= n_cells:
            break
        if cells[c] < sizes[c]:
            cells[c] += 1
    centres = []
    for c in range(n_coarse):
        members = sample[assigned == c]
        if cells[c] == 0:
            continue
        if cells[c] >= len(members):
            centres.append(members[: cells[c]])
            continue
        fine = faiss.Kmeans(d, int(cells[c]), niter=iterations, seed=(int(random_state) + c + 1) % (2**31),
                            min_points_per_centroid=1, max_points_per_centroid=len(members))
        fine.train(np.ascontiguousarray(members))
        centres.append(fine.centroids)
    return np.ascontiguousarray(np.vstack(centres)[:n_cells], dtype=np.float32)


def _hnsw_quantizer(centres: np.ndarray):
    """An HNSW graph over the cells' centres, built in one thread (faiss builds HNSW in
    parallel with an order that depends on thread scheduling; one thread gives one graph)."""
    import faiss

    quantizer = faiss.IndexHNSWFlat(centres.shape[1], HNSW_LINKS)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        quantizer.add(centres)
    finally:
        faiss.omp_set_num_threads(threads)
    quantizer.hnsw.efSearch = HNSW_EF_SEARCH
    return quantizer


def _pq_index(d: int, n_cells: int, *, random_state: int, n_probe: int, centres: np.ndarray | None = None):
    """An untrained inverted file of 4-bit product-quantised codes, re-ranked exactly
    (module notes); seeded like :func:`ivf_index`. With ``centres`` the cells are given (found
    by HNSW) and only the codes are trained."""
    import faiss

    codes, _ = pq_codes(d)
    quantizer = faiss.IndexFlatL2(d) if centres is None else _hnsw_quantizer(centres)
    ivf = _seeded(faiss.IndexIVFPQFastScan(quantizer, d, n_cells, codes, 4), random_state, TRAIN_ITERATIONS)
    if centres is not None:
        ivf.referenced_objects = [quantizer]
    ivf.nprobe = min(n_probe, n_cells)
    index = faiss.IndexRefineFlat(ivf)
    index.k_factor = PQ_RERANK_FACTOR
    index.referenced_objects = [ivf]  # the refine index does not own its base: keep it alive
    return index


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
    if method not in METHODS:
        raise UsageError(f"unknown neighbour {param('method')} {method!r}; choose from: auto, {', '.join(METHODS)}")
    pad = pq_codes(d)[1] if method == "ivf-pq" else 0
    Z = _padded(Z, pad)
    wanted = pq_cells(n) if method == "ivf-pq" else CELLS_PER_SQRT_N * np.sqrt(n)
    n_cells = int(max(1, min(max(wanted, MIN_CELLS), n // MIN_TRAIN_PER_CELL)))
    search = build_search(Z, method, n_cells=n_cells, n_probe=PQ_N_PROBE if method == "ivf-pq" else N_PROBE,
                          train_rows=TRAIN_PER_CELL * n_cells, iterations=TRAIN_ITERATIONS,
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
    indices, distances = drop_self(idx, dist)
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
    exact_dist, exact_idx = build_search(Z, "exact").nearest(Z[q], k)
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
    d = graph.distances
    positive = np.where(d > 0, d, np.inf).min(axis=1)
    positive = positive[np.isfinite(positive)]
    if len(positive) == 0:
        return 0.0
    return float(factor * np.median(positive))
