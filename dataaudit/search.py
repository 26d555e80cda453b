"""The one faiss search: exact, an inverted file, or an inverted file of product-quantised codes
re-ranked exactly; Euclidean or inner product. The shared neighbour graph
(:mod:`dataaudit.neighbors`) and the training record's neighbour vote
(``run_evidence.neighbour_votes``) both search through :func:`build_search`.

Inverted files are seeded (k-means seeded, HNSW built in one thread), so the same seed gives
the same neighbours. With many cells (``HNSW_MIN_CELLS``) the cells' centres are trained in two
levels (:func:`two_level_centroids`) and found by an HNSW graph: a query then costs the same at
any number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .errors import UsageError, param
from .utils import CHUNK_ROWS

METHODS = ("exact", "ivf", "ivf-pq")
TRAIN_ITERATIONS = 10
PQ_CELLS_PER_SQRT_N = 1
#: From 1M rows on, cells of this many rows (1,000 cells at 1M, as sqrt(n) gives there).
PQ_CELL_ROWS = 1_000
#: From this many cells on, the cells' centres are trained in two levels and found by HNSW.
HNSW_MIN_CELLS = 2_048
#: Links per centre of the HNSW graph, and candidate cells it keeps while looking for the nearest
#: ones. 5M x 64 (5,000 cells, 12 probed): 32 / 64 took 50 s to fill and 168 s to search, 16 / 32
#: 28 s and 107 s, the same recall@10 (0.19) and distance ratio (1.078).
HNSW_LINKS = 16
HNSW_EF_SEARCH = 32
#: The two-level k-means sees at most this many rows per cell...
TWO_LEVEL_TRAIN_PER_CELL = 32
PQ_RERANK_FACTOR = 4


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


def padded(Z: np.ndarray, pad: int) -> np.ndarray:
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


def hnsw_quantizer(centres: np.ndarray):
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
    quantizer = faiss.IndexFlatL2(d) if centres is None else hnsw_quantizer(centres)
    ivf = _seeded(faiss.IndexIVFPQFastScan(quantizer, d, n_cells, codes, 4), random_state, TRAIN_ITERATIONS)
    if centres is not None:
        ivf.referenced_objects = [quantizer]
    ivf.nprobe = min(n_probe, n_cells)
    index = faiss.IndexRefineFlat(ivf)
    index.k_factor = PQ_RERANK_FACTOR
    index.referenced_objects = [ivf]  # the refine index does not own its base: keep it alive
    return index


__all__ = ["METHODS", "Search", "build_search", "drop_self", "hnsw_quantizer", "ivf_index", "padded", "pq_cells",
           "pq_codes", "two_level_centroids"]
