"""Neighbours on a cluster by a join within cells: every row is sent, with its standardised
features, to the partition of its cell (the nearest of k-means centres trained on a seeded
sample), and each cell's rows are searched exactly among themselves (faiss). A cell holds about
``CELL_ROWS`` rows at any n, so the join costs ``n x CELL_ROWS`` distance computations: it grows
linearly with the rows. Identical rows always share a cell (they have the same nearest centre),
so exact duplicates are found there too, by a 64-bit hash of the raw row. Two rows a hair apart
fall on both sides of a border only when one of them lies on it: a row within twice the
near-duplicate threshold of its second cell's border is searched there too, as a guest (1M x 64:
without guests 2 of 5,000 planted copy pairs were split). What a border still hides is ordinary
neighbours a little farther than the true ones, as an inverted file probing one cell would.
"""

from __future__ import annotations

import numpy as np

from ..checks.outlier_views import feature_shares, inverse_dimensions, reach_and_reference
from ..neighbors import SPARSE_ROWS, nearest_other, standardize_from_sums, standardize_sums, usual_values
from ..rowhash import row_hashes
from ..search import HNSW_MIN_CELLS, drop_self, hnsw_quantizer, two_level_centroids
from .blocks import DaskBlocks

#: Rows per cell of the join, and the k-means training rows per cell.
CELL_ROWS = 2_000
TRAIN_PER_CELL = 32
#: The sample that sizes the border margin.
BORDER_SAMPLE = 20_000


def standardize(features, n: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`dataaudit.neighbors.standardize_params` over the blocks (the same sums)."""
    step = max(1, -(-n // SPARSE_ROWS))
    usual = usual_values(np.asarray(features[::step].compute(), dtype=np.float64))
    sums = DaskBlocks(features).reduce(standardize_sums, np.add, usual)
    return standardize_from_sums(sums, n)


def centres(features, n: int, mean: np.ndarray, scale: np.ndarray, random_state: int) -> np.ndarray:
    """The cells' centres: seeded k-means of a seeded sample of the standardised rows."""
    import faiss

    n_cells = int(max(1, n // CELL_ROWS))
    if n_cells == 1:
        return np.zeros((1, features.shape[1]), np.float32)
    rng = np.random.default_rng(random_state)
    take = np.sort(rng.choice(n, size=min(n, TRAIN_PER_CELL * n_cells), replace=False))
    sample = ((np.asarray(features[take].compute(), np.float32) - mean) / scale).astype(np.float32)
    if n_cells >= HNSW_MIN_CELLS:
        return two_level_centroids(sample, n_cells, random_state=random_state)
    km = faiss.Kmeans(sample.shape[1], n_cells, niter=10, seed=int(random_state) % 2**31, min_points_per_centroid=1,
                      max_points_per_centroid=TRAIN_PER_CELL * 8)
    km.train(sample)
    return km.centroids


def _block_frame(X, start, mean, scale, centre_rows, margin: float, test: bool = False):
    """A block's rows as (cell, row, guest, test, hash, z0..): each row in its cell (the nearest
    centre), and again as a guest in its second cell when it lies within ``margin`` of that
    cell's border (a near copy of it may have fallen there). A held-out split's rows (``test``)
    are guests in both: they are matched against the training rows, not searched for."""
    import faiss
    import pandas as pd

    Z = ((np.asarray(X, np.float32) - mean) / scale).astype(np.float32)
    if len(centre_rows) >= HNSW_MIN_CELLS:  # many cells: found by a graph over the centres, as one process's
        index = hnsw_quantizer(centre_rows)
    else:
        index = faiss.IndexFlatL2(Z.shape[1])
        index.add(centre_rows)
    nearest = min(2, len(centre_rows))
    D, cell = index.search(Z, nearest)
    s = int(start[0]) if len(start) else 0
    rows = np.arange(s, s + len(Z), dtype=np.int64)
    hashes = row_hashes(np.asarray(X)).view(np.int64) if len(Z) else np.zeros(0, np.int64)
    second = np.zeros(len(Z), bool)
    if nearest == 2:
        d = np.sqrt(np.maximum(D, 0))
        second = d[:, 1] - d[:, 0] <= margin
    take = np.r_[np.arange(len(Z)), np.flatnonzero(second)]
    frame = pd.DataFrame(Z[take], columns=[f"z{i}" for i in range(Z.shape[1])])
    frame.insert(0, "hash", hashes[take])
    frame.insert(0, "test", np.full(len(take), test))
    frame.insert(0, "guest", np.r_[np.full(len(Z), test), np.ones(int(second.sum()), bool)])
    frame.insert(0, "row", rows[take])
    frame.insert(0, "cell", np.r_[cell[:, 0], cell[second, 1] if nearest == 2 else []].astype(np.int64))
    return frame


def _test_matches(tests, z_cols, index, rows, hashes, Z, bound: float) -> np.ndarray:
    """A cell's candidate leaks: (test row, training row, distance, exact) for each test row
    placed in the cell whose nearest training row is at most ``bound`` away or identical (the
    same hash and the same features; the first such row)."""
    T = np.ascontiguousarray(tests[z_cols].to_numpy(np.float32))
    dist, near = index.search(T, 1)
    dist, near = np.sqrt(np.maximum(dist[:, 0], 0)), near[:, 0]
    order = np.lexsort((rows, hashes))
    at = np.minimum(np.searchsorted(hashes[order], tests["hash"].to_numpy()), len(order) - 1)
    same = order[at]
    exact = (hashes[same] == tests["hash"].to_numpy()) & (Z[same] == T).all(axis=1)
    match = np.where(exact, same, near)
    keep = exact | ((dist <= bound) & (near >= 0))
    return np.column_stack([tests["row"].to_numpy()[keep], rows[match[keep]],
                            np.where(exact, 0.0, dist)[keep], exact[keep]]).astype(np.float64)


#: The per-row columns of the join (cell order, then row order), with their types.
STATS = {"row": np.int64, "first_same": np.int64, "nearest": np.float64, "reach": np.float64, "ref": np.float64,
         "inv_dim": np.float64, "share": np.float64, "dominant": np.int64}
#: Rows whose neighbours' feature shares are computed at a time (a (rows, k, d) array).
SHARE_ROWS = 1_000


def _empty_stats():
    import pandas as pd

    return pd.DataFrame({c: np.zeros(0, t) for c, t in STATS.items()})


def _cell_stats(rows, Z, local, dist, hashes, k: int):
    """One cell's per-row columns: the first identical row (-1: none), the nearest non-identical
    distance, and what the outliers' kNN view reads (reach, the neighbours' median reach, the
    inverse intrinsic dimension, the largest feature's share of the distance and that feature)."""
    import pandas as pd

    m = len(rows)
    _, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    first_of = np.full(len(counts), np.iinfo(np.int64).max)
    np.minimum.at(first_of, inverse, rows)
    stats = {"row": rows, "first_same": np.where(counts[inverse] > 1, first_of[inverse], -1),
             "nearest": nearest_other(dist)}
    if local.shape[1]:
        # A cell of fewer than k + 1 rows (rows far from the rest often make one of their own)
        # gives its rows the neighbours it has; their dimension estimate says nothing.
        reach, ref = reach_and_reference(local, dist)
        share, dominant = np.empty(m), np.empty(m, np.int64)
        for s in range(0, m, SHARE_ROWS):
            piece = slice(s, s + SHARE_ROWS)
            share[piece], dominant[piece] = feature_shares(Z[piece], Z[local[piece]])
        inv_dim = inverse_dimensions(dist) if local.shape[1] == k else np.full(m, np.nan)
        stats.update(reach=reach, ref=ref, inv_dim=inv_dim, share=share, dominant=dominant)
    else:  # a row alone in its cell: no neighbour to measure (the other views judge it)
        stats.update(reach=np.full(m, np.nan), ref=np.full(m, np.nan), inv_dim=np.full(m, np.nan),
                     share=np.zeros(m), dominant=np.zeros(m, np.int64))
    return pd.DataFrame({c: np.asarray(v, dtype=STATS[c]) for c, v in stats.items()})


def _join(frame, k: int, bound: float):
    """Each cell's rows searched exactly among themselves (``k`` nearest): the rows' columns
    (:func:`_cell_stats`), the candidate near-duplicate pairs, ``(row, neighbour, distance)``
    at most ``bound`` apart and not identical (identical rows are linked through their exact
    group; a guest's pairs are with its host cell's rows), and the test rows' candidate leaks
    (:func:`_test_matches`)."""
    import faiss
    import pandas as pd

    z_cols = [c for c in frame.columns if c.startswith("z")]
    stats, pairs, leaks = [], [], []
    for _, whole in frame.groupby("cell", sort=True):
        is_test = whole["test"].to_numpy()
        guests = whole[whole["guest"].to_numpy() & ~is_test]
        cell = whole[~whole["guest"].to_numpy()].sort_values("row")
        rows = cell["row"].to_numpy()
        Z = np.ascontiguousarray(cell[z_cols].to_numpy(np.float32))
        m = len(rows)
        if m == 0:
            continue
        index = faiss.IndexFlatL2(Z.shape[1])
        index.add(Z)
        if is_test.any():
            leaks.append(_test_matches(whole[is_test], z_cols, index, rows, cell["hash"].to_numpy(), Z, bound))
        if len(guests):
            # A guest's nearest members (the guest is not one of them): only its close ones count.
            gd, gi = index.search(np.ascontiguousarray(guests[z_cols].to_numpy(np.float32)), min(k, m))
            gd = np.sqrt(np.maximum(gd, 0))
            close = (gd <= bound) & (gi >= 0)
            g_rows = np.repeat(guests["row"].to_numpy(), gi.shape[1]).reshape(gi.shape)
            pairs.append(np.column_stack([g_rows[close], rows[gi[close]], gd[close]]))
        kk = min(k + 1, m)
        D, I = index.search(Z, kk)
        local, dist = drop_self(I, np.sqrt(np.maximum(D, 0)))
        cell_stats = _cell_stats(rows, Z, local, dist, cell["hash"].to_numpy(), k)
        stats.append(cell_stats)
        first = cell_stats["first_same"].to_numpy()
        close = (dist <= bound) & (local >= 0)
        i, j = np.nonzero(close)
        o = local[i, j]
        keep = ~((first[i] >= 0) & (first[i] == first[o]))
        pairs.append(np.column_stack([rows[i[keep]], rows[o[keep]], dist[i[keep], j[keep]]]))
    found = np.concatenate(pairs) if pairs else np.zeros((0, 3))
    leaked = np.concatenate(leaks) if leaks else np.zeros((0, 4))
    return (pd.concat(stats, ignore_index=True) if stats else _empty_stats()), found.astype(np.float64), leaked


def border_margin(features, n: int, mean: np.ndarray, scale: np.ndarray, random_state: int, *,
                  factor: float = 0.1, threshold: float | None = None) -> float:
    """How near a cell's border a row must lie to be searched in the next cell too: twice the
    near-duplicate threshold (given, or ``factor`` x the median nearest-neighbour distance of a
    sample, which, sparser than the rows, overstates it). A copy at most that far from a row
    can only sit across the border if the row's two nearest centres differ by less than twice the
    distance between them (the triangle inequality)."""
    import faiss

    if threshold is not None:
        return 2 * float(threshold)
    rng = np.random.default_rng(random_state + 1)
    take = np.sort(rng.choice(n, size=min(n, BORDER_SAMPLE), replace=False))
    Z = ((np.asarray(features[take].compute(), np.float32) - mean) / scale).astype(np.float32)
    if len(Z) < 3:
        return 0.0
    index = faiss.IndexFlatL2(Z.shape[1])
    index.add(Z)
    D, _ = index.search(Z, 3)
    positive = nearest_other(np.sqrt(np.maximum(D[:, 1:], 0)))
    positive = positive[np.isfinite(positive)]
    return float(2 * factor * np.median(positive)) if len(positive) else 0.0


class CellJoin:
    """The cell join's result, kept on the workers: ``stats`` (a Dask DataFrame of :data:`STATS`
    indexed by row, partitioned as the row blocks), each partition's candidate pairs and, with a
    held-out split, its candidate leaks."""

    def __init__(self, stats, pairs, mean, scale, n_cells: int, bound: float, k: int, leaks=None):
        self.stats, self.pairs, self.k, self.leaks = stats, pairs, k, leaks
        self.mean, self.scale, self.n_cells, self.bound = mean, scale, n_cells, bound
        self._median_nearest: float | None = None

    def column(self, name: str, chunks):
        """A column of ``stats`` as a Dask array with the row blocks ``chunks``."""
        return self.stats[name].to_dask_array(lengths=list(chunks))

    def threshold(self, factor: float, chunks) -> float:
        """:func:`dataaudit.neighbors.near_duplicate_threshold` over every row: ``factor`` x the
        median nearest non-identical distance (found once, for the duplicates and the leaks)."""
        if self._median_nearest is None:
            from ..blocks import quantiles

            self._median_nearest = float(quantiles(DaskBlocks(self.column("nearest", chunks)), [0.5])[0])
        return float(factor * self._median_nearest) if np.isfinite(self._median_nearest) else 0.0

    def edges(self, tau: float) -> np.ndarray:
        """Pairs (row, neighbour) at most ``tau`` apart and not identical, and each identical
        row's link to the first of its twins: (m, 2) int64, gathered (they are few)."""
        import dask

        def close(found, tau):
            return found[found[:, 2] <= tau, :2].astype(np.int64)

        def twins(part):
            rows, first = part.index.to_numpy(), part["first_same"].to_numpy()
            linked = (first >= 0) & (first != rows)
            return np.column_stack([rows[linked], first[linked]]).astype(np.int64)

        found = dask.compute([dask.delayed(close)(p, tau) for p in self.pairs] if tau > 0 else [],
                             [dask.delayed(twins)(p) for p in self.stats.to_delayed()])
        pieces = [*found[0], *found[1]]
        return np.concatenate(pieces).reshape(-1, 2) if pieces else np.zeros((0, 2), np.int64)

    def leaked(self, tau: float) -> np.ndarray:
        """Each leaked test row's match: (test row, training row, exact) sorted by test row, the
        row identical to it or else its nearest training row when at most ``tau`` away (a test
        row searched in two cells keeps the better match)."""
        import dask

        def close(found, tau):
            return found[(found[:, 3] > 0) | (found[:, 2] <= tau)]

        found = dask.compute(*[dask.delayed(close)(p, tau) for p in self.leaks])
        table = np.concatenate(found) if found else np.zeros((0, 4))
        best = table[np.lexsort((table[:, 1], table[:, 2], -table[:, 3], table[:, 0]))]
        first = np.r_[True, np.diff(best[:, 0]) > 0] if len(best) else np.zeros(0, bool)
        best = best[first]
        return np.column_stack([best[:, 0], best[:, 1], best[:, 3]]).astype(np.int64)

    def first_same(self, wanted: np.ndarray) -> np.ndarray:
        """The first identical row (-1: none) of each of the sorted ``wanted`` rows."""
        import dask

        def of(part, wanted):
            rows = part.index.to_numpy()
            keep = np.isin(rows, wanted)
            return np.column_stack([rows[keep], part["first_same"].to_numpy()[keep]])

        found = dask.compute(*[dask.delayed(of)(p, wanted) for p in self.stats.to_delayed()])
        table = np.concatenate(found) if found else np.zeros((0, 2), np.int64)
        table = table[np.argsort(table[:, 0])]
        return table[np.searchsorted(table[:, 0], wanted), 1]


#: Workers with less memory than this shuffle the rows by Dask's task-based shuffle: its pieces
#: are ordinary task results, which a worker spills to disk under pressure, where the
#: peer-to-peer shuffle's send buffer (1 GiB by default) alone filled workers of 2 GB (5M x 64).
P2P_MIN_MEMORY = 8 * 2**30


def shuffle_method(worker_memory: int | None) -> str:
    """Dask's shuffle for workers of ``worker_memory`` bytes (None: no limit)."""
    return "tasks" if worker_memory is not None and worker_memory < P2P_MIN_MEMORY else "p2p"


def join_cells(features, n: int, *, k: int, random_state: int, factor: float = 0.1,
               threshold: float | None = None, test=None, worker_memory: int | None = None) -> CellJoin:
    """The cell join of the rows (module notes), its per-row columns in row order; ``test``: a
    held-out split's features (a Dask array), matched against the rows in the same cells;
    ``worker_memory``: the smallest worker's memory limit (chooses the shuffle)."""
    import dask
    import dask.dataframe as dd
    from dask import delayed

    mean, scale = standardize(features, n)
    centre_rows = centres(features, n, mean, scale, random_state)
    margin = border_margin(features, n, mean, scale, random_state, factor=factor, threshold=threshold)
    blocks = DaskBlocks(features)
    shared = delayed(centre_rows)  # one key for every block (not a copy in each task)
    frames = [delayed(_block_frame)(part[0], np.array([s]), mean, scale, shared, margin)
              for part, s in zip(blocks.parts, blocks.starts)]
    if test is not None:
        held = DaskBlocks(test)
        frames += [delayed(_block_frame)(part[0], np.array([s]), mean, scale, shared, margin, True)
                   for part, s in zip(held.parts, held.starts)]
    meta = _block_frame(np.zeros((0, features.shape[1]), np.float32), np.array([0]), mean, scale, centre_rows, margin)
    table = dd.from_delayed(frames, meta=meta)
    by_cell = table.shuffle("cell", npartitions=max(1, len(blocks.parts)),
                            shuffle_method=shuffle_method(worker_memory))
    # The candidate pairs' bound: the border margin (twice the threshold, or twice an overstated
    # estimate of it), so the threshold fixed later from every row's nearest distance is inside it.
    joins = [delayed(_join, nout=3)(part, k, margin) for part in by_cell.to_delayed()]
    persisted = dask.persist(*[j[i] for i in range(3) for j in joins])  # one run of each join
    p = len(joins)
    stats_parts, pairs, leaks = list(persisted[:p]), list(persisted[p : 2 * p]), list(persisted[2 * p :])
    in_cells = dd.from_delayed(stats_parts, meta=_empty_stats())
    divisions = [int(s) for s in blocks.starts] + [n]
    stats = in_cells.set_index("row", divisions=divisions, shuffle_method=shuffle_method(worker_memory)).persist()
    return CellJoin(stats, pairs, mean, scale, len(centre_rows), margin, k, leaks if test is not None else None)


__all__ = ["CELL_ROWS", "CellJoin", "join_cells", "standardize"]
