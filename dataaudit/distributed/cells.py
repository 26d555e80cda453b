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

from typing import Any

import numpy as np

from ..neighbors import SPARSE_ROWS, standardize_from_sums, standardize_sums, usual_values
from ..rowhash import row_hashes
from ..search import HNSW_MIN_CELLS, drop_self, two_level_centroids
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


def _block_frame(X, start, mean, scale, centre_rows, margin: float):
    """A block's rows as (cell, row, guest, hash, z0..): each row in its cell (the nearest centre),
    and again as a guest in its second cell when it lies within ``margin`` of that cell's border
    (a near copy of it may have fallen there)."""
    import faiss
    import pandas as pd

    Z = ((np.asarray(X, np.float32) - mean) / scale).astype(np.float32)
    index = faiss.IndexFlatL2(Z.shape[1])
    index.add(centre_rows)
    nearest = min(2, len(centre_rows))
    D, cell = index.search(Z, nearest)
    s = int(start[0]) if len(start) else 0
    rows = np.arange(s, s + len(Z), dtype=np.int64)
    hashes = row_hashes(np.asarray(X)).view(np.int64) if len(Z) else np.zeros(0, np.int64)
    guest = np.zeros(len(Z), bool)
    if nearest == 2:
        d = np.sqrt(np.maximum(D, 0))
        guest = d[:, 1] - d[:, 0] <= margin
    take = np.r_[np.arange(len(Z)), np.flatnonzero(guest)]
    frame = pd.DataFrame(Z[take], columns=[f"z{i}" for i in range(Z.shape[1])])
    frame.insert(0, "hash", hashes[take])
    frame.insert(0, "guest", np.r_[np.zeros(len(Z), bool), np.ones(int(guest.sum()), bool)])
    frame.insert(0, "row", rows[take])
    frame.insert(0, "cell", np.r_[cell[:, 0], cell[guest, 1] if nearest == 2 else []].astype(np.int64))
    return frame


def _join(frame, k: int):
    """Each row's ``k`` nearest rows of its cell (exact), its nearest non-identical distance, and
    the first row identical to it in the cell (-1: none)."""
    import faiss
    import pandas as pd

    z_cols = [c for c in frame.columns if c.startswith("z")]
    out = []
    for _, whole in frame.groupby("cell", sort=True):
        guests = whole[whole["guest"].to_numpy()]
        cell = whole[~whole["guest"].to_numpy()].sort_values("row")
        rows = cell["row"].to_numpy()
        Z = np.ascontiguousarray(cell[z_cols].to_numpy(np.float32))
        m = len(rows)
        if m == 0:
            continue
        kk = min(k + 1, m)
        index = faiss.IndexFlatL2(Z.shape[1])
        index.add(Z)
        if len(guests):
            # A guest's nearest members (the guest is not one of them): only its close ones count.
            G = np.ascontiguousarray(guests[z_cols].to_numpy(np.float32))
            gd, gi = index.search(G, min(k, m))
            piece = pd.DataFrame({"row": guests["row"].to_numpy(), "first_same": np.full(len(G), -1, np.int64),
                                  "nearest": np.full(len(G), np.nan), "guest": np.ones(len(G), bool)})
            for j in range(k):
                piece[f"n{j}"] = rows[gi[:, j]] if j < gi.shape[1] else np.full(len(G), -1, np.int64)
                piece[f"d{j}"] = (np.sqrt(np.maximum(gd[:, j], 0)) if j < gd.shape[1]
                                  else np.full(len(G), np.inf)).astype(np.float32)
            out.append(piece)
        D, I = index.search(Z, kk)
        D = np.sqrt(np.maximum(D, 0))
        ids = np.full((m, k), -1, np.int64)
        dist = np.full((m, k), np.inf, np.float32)
        if kk > 1:
            local, d = drop_self(I, D)
            ids[:, : kk - 1] = np.where(local >= 0, rows[np.maximum(local, 0)], -1)
            dist[:, : kk - 1] = d
        # Identical rows (equal hashes of the raw row): each points at the first of them.
        _, inverse, counts = np.unique(cell["hash"].to_numpy(), return_inverse=True, return_counts=True)
        inverse = inverse.ravel()
        first_of = np.full(len(counts), np.iinfo(np.int64).max)
        np.minimum.at(first_of, inverse, rows)
        first_row = np.where(counts[inverse] > 1, first_of[inverse], -1)
        positive = np.where(dist > 0, dist, np.inf).min(axis=1)
        piece = pd.DataFrame({"row": rows, "first_same": first_row, "nearest": np.where(np.isfinite(positive), positive,
                                                                                         np.nan).astype(np.float64),
                              "guest": np.zeros(m, bool)})
        for j in range(k):
            piece[f"n{j}"] = ids[:, j]
            piece[f"d{j}"] = dist[:, j]
        out.append(piece)
    if not out:
        cols = {"row": np.int64, "first_same": np.int64, "nearest": np.float64, "guest": bool}
        for j in range(k):
            cols[f"n{j}"] = np.int64
            cols[f"d{j}"] = np.float32
        return pd.DataFrame({c: np.zeros(0, t) for c, t in cols.items()})
    return pd.concat(out, ignore_index=True)


def _edges(joined, tau: float, k: int) -> np.ndarray:
    """Pairs (row, neighbour) at most ``tau`` apart and not identical, and each exact twin's
    link to the first of its twins: (m, 2) int64. A row's neighbours are in its partition."""
    rows = joined["row"].to_numpy()
    first = joined["first_same"].to_numpy()
    member = ~joined["guest"].to_numpy()
    order = np.argsort(rows[member])
    sorted_rows, sorted_first = rows[member][order], first[member][order]
    pairs = []
    if tau > 0 and len(rows):
        for j in range(k):
            nbr = joined[f"n{j}"].to_numpy()
            close = (joined[f"d{j}"].to_numpy() <= tau) & (nbr >= 0)
            i, o, fi = rows[close], nbr[close], first[close]
            at = np.minimum(np.searchsorted(sorted_rows, o), len(sorted_rows) - 1)
            fo = np.where(sorted_rows[at] == o, sorted_first[at], -2)
            keep = ~((fi >= 0) & (fi == fo))  # identical rows: linked through their exact group
            pairs.append(np.column_stack([i[keep], o[keep]]))
    twins = (first >= 0) & (first != rows)
    pairs.append(np.column_stack([rows[twins], first[twins]]))
    return np.concatenate(pairs).astype(np.int64).reshape(-1, 2)


def _rows_of(joined, wanted: np.ndarray) -> np.ndarray:
    """(row, first_same) of the ``wanted`` rows held in this partition."""
    rows = joined["row"].to_numpy()
    keep = np.isin(rows, wanted) & ~joined["guest"].to_numpy()
    return np.column_stack([rows[keep], joined["first_same"].to_numpy()[keep]])


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
    d = np.sqrt(np.maximum(D[:, 1:], 0))
    positive = np.where(d > 0, d, np.inf).min(axis=1)
    positive = positive[np.isfinite(positive)]
    return float(2 * factor * np.median(positive)) if len(positive) else 0.0


def join_cells(features, n: int, *, k: int, random_state: int, factor: float = 0.1, threshold: float | None = None):
    """The cell join of the rows (module notes): ``(joined, mean, scale, n_cells)``, ``joined`` a
    persisted Dask DataFrame with a row per input row (``row``, ``first_same``, ``nearest``,
    ``n0..``, ``d0..``), partitioned by cell."""
    import dask.dataframe as dd
    from dask import delayed

    mean, scale = standardize(features, n)
    centre_rows = centres(features, n, mean, scale, random_state)
    margin = border_margin(features, n, mean, scale, random_state, factor=factor, threshold=threshold)
    blocks = DaskBlocks(features)
    frames = [delayed(_block_frame)(part[0], np.array([s]), mean, scale, centre_rows, margin)
              for part, s in zip(blocks.parts, blocks.starts)]
    meta = _block_frame(np.zeros((0, features.shape[1]), np.float32), np.array([0]), mean, scale, centre_rows, margin)
    table = dd.from_delayed(frames, meta=meta)
    partitions = max(1, len(blocks.parts))
    by_cell = table.shuffle("cell", npartitions=partitions)
    joined = by_cell.map_partitions(_join, k, meta=_join(meta, k)).persist()
    return joined, mean, scale, len(centre_rows)


def edges(joined, tau: float, k: int) -> np.ndarray:
    import dask

    parts = joined.to_delayed()
    found = dask.compute(*[dask.delayed(_edges)(p, tau, k) for p in parts])
    return np.concatenate(found) if found else np.zeros((0, 2), np.int64)


def first_same(joined, wanted: np.ndarray) -> np.ndarray:
    """The first identical row (-1: none) of each of the sorted ``wanted`` rows."""
    import dask

    found = dask.compute(*[dask.delayed(_rows_of)(p, wanted) for p in joined.to_delayed()])
    table = np.concatenate(found) if found else np.zeros((0, 2), np.int64)
    table = table[np.argsort(table[:, 0])]
    return table[np.searchsorted(table[:, 0], wanted), 1]


def nearest_column(joined) -> Any:
    """The rows' nearest non-identical distances as a Dask array (cell order)."""
    return joined["nearest"].to_dask_array(lengths=True)


__all__ = ["CELL_ROWS", "edges", "first_same", "join_cells", "nearest_column", "standardize"]
