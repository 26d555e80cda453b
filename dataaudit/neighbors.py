"""The shared k-nearest-neighbour graph, built once per scan.

Distances are Euclidean on standardised features (each feature scaled to unit variance),
so that no single large-valued feature dominates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn.neighbors import NearestNeighbors


@dataclass
class NeighborGraph:
    """k nearest neighbours of every sample, itself excluded, nearest first.

    Attributes
    ----------
    indices : ndarray (n, k) int64
    distances : ndarray (n, k) float32
        Euclidean distances in standardised feature space.
    method : str
        ``"exact"`` or the approximate index used.
    """

    indices: np.ndarray
    distances: np.ndarray
    method: str = "exact"
    metric: str = "euclidean (standardised features)"

    @property
    def k(self) -> int:
        return int(self.indices.shape[1])


def standardize(features: np.ndarray) -> np.ndarray:
    """Scale every feature to zero mean and unit variance (constant features left at 0)."""
    mean = features.mean(axis=0, dtype=np.float64)
    std = features.std(axis=0, dtype=np.float64)
    std[std == 0] = 1.0
    return ((features - mean) / std).astype(np.float32)


def build_neighbor_graph(
    features: np.ndarray,
    k: int = 10,
    *,
    random_state: int = 0,
    progress: Callable[[str], None] | None = None,
) -> NeighborGraph:
    """Build the kNN graph of ``features`` (itself excluded)."""
    n = features.shape[0]
    k = int(min(k, n - 1))
    Z = standardize(features)
    if progress:
        progress(f"neighbours: exact search, {n} samples")
    nn = NearestNeighbors(n_neighbors=k + 1).fit(Z)
    dist, idx = nn.kneighbors(Z)
    return NeighborGraph(*_drop_self(idx, dist.astype(np.float32)), method="exact")


def _drop_self(idx: np.ndarray, dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove each row's own index from k+1 results (or the last one, when duplicates hid it)."""
    n, k1 = idx.shape
    is_self = idx == np.arange(n)[:, None]
    no_self = ~is_self.any(axis=1)
    is_self[no_self, k1 - 1] = True
    keep = ~is_self
    return idx[keep].reshape(n, k1 - 1).astype(np.int64), dist[keep].reshape(n, k1 - 1)
