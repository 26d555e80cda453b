"""Vectorised exact-row identity: 64-bit row hashes, verified, and groups of identical rows.

Floats are canonicalised before hashing so that ``-0.0 == 0.0`` and every NaN equals every
other NaN in the same position (two rows that are "the same, missing the same values" are
duplicates). Work is done in chunks, so a memory-mapped 1M x 64 input is never copied whole.
"""

from __future__ import annotations

import numpy as np

from .utils import chunk_rows

_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def canonical_bytes(block: np.ndarray) -> np.ndarray:
    """Rows of ``block`` as uint64 words, with -0.0 -> 0.0 and one NaN bit pattern."""
    block = np.array(block, copy=True)
    if block.dtype.kind == "f":
        block += 0  # -0.0 + 0 == +0.0
        block[np.isnan(block)] = np.nan
    elif block.dtype.kind == "b":
        block = block.astype(np.uint8)
    raw = np.ascontiguousarray(block).view(np.uint8).reshape(block.shape[0], -1)
    pad = (-raw.shape[1]) % 8
    if pad:
        raw = np.concatenate([raw, np.zeros((raw.shape[0], pad), np.uint8)], axis=1)
    return raw.view(np.uint64)


def _multipliers(n_words: int) -> np.ndarray:
    rng = np.random.default_rng(0x5EED)
    return rng.integers(1, 2**63, size=n_words, dtype=np.uint64) | np.uint64(1)


def row_hashes(X: np.ndarray) -> np.ndarray:
    """A 64-bit hash per row of a 2-D array (equal rows give equal hashes).

    Examples
    --------
    >>> h = row_hashes(np.array([[0.0, 1.0], [-0.0, 1.0], [1.0, 0.0]]))
    >>> bool(h[0] == h[1]), bool(h[0] == h[2])
    (True, False)
    """
    n = X.shape[0]
    out = np.empty(n, dtype=np.uint64)
    mult = None
    step = chunk_rows(int(np.prod(X.shape[1:])))
    with np.errstate(over="ignore"):
        for start in range(0, n, step):
            words = canonical_bytes(X[start : start + step])
            if mult is None:
                mult = _multipliers(words.shape[1])
            # splitmix-style mixing of each word, then a random linear combination.
            w = words ^ (words >> np.uint64(30))
            w *= _MIX1
            w ^= w >> np.uint64(27)
            w *= _MIX2
            w ^= w >> np.uint64(31)
            out[start : start + len(words)] = (w * mult).sum(axis=1, dtype=np.uint64)
    return out


def exact_groups(X: np.ndarray) -> np.ndarray:
    """Group identical rows: an id per row, shared by identical rows, ``-1`` for unique rows.

    Ids are numbered in order of each group's first row. Hash matches are verified
    against the rows themselves, so a hash collision never merges different rows.

    Examples
    --------
    >>> exact_groups(np.array([[1, 2], [3, 4], [1, 2], [5, 6], [3, 4]])).tolist()
    [0, 1, 0, -1, 1]
    """
    n = X.shape[0]
    hashes = row_hashes(X)
    order = np.argsort(hashes, kind="stable")
    sorted_h = hashes[order]
    starts = np.flatnonzero(np.r_[True, sorted_h[1:] != sorted_h[:-1]])
    sizes = np.diff(np.r_[starts, n])
    group = np.full(n, -1, dtype=np.int64)
    multi = sizes > 1
    if not multi.any():
        return group
    # Candidate rows (in hash groups of size > 1), verified exactly.
    cand_start = starts[multi]
    cand_size = sizes[multi]
    members = np.concatenate([order[s : s + k] for s, k in zip(cand_start, cand_size)])
    bucket = np.repeat(np.arange(len(cand_start)), cand_size)
    rows = canonical_bytes(X[np.sort(members)])
    pos = np.empty(n, dtype=np.int64)
    pos[np.sort(members)] = np.arange(len(members))
    words = rows[pos[members]]
    # Exact grouping of candidates by (bucket, full row bytes).
    keyed = np.column_stack([bucket.astype(np.uint64), words])
    _, inverse = np.unique(keyed, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    counts = np.bincount(inverse)
    keep = counts[inverse] > 1
    group[members[keep]] = inverse[keep]
    return renumber_by_first_appearance(group)


def renumber_by_first_appearance(group: np.ndarray) -> np.ndarray:
    """Renumber group ids 0, 1, 2 ... in order of each group's first row; ``-1`` stays."""
    out = np.full_like(group, -1)
    mask = group >= 0
    if not mask.any():
        return out
    ids = group[mask]
    uniq, first = np.unique(ids, return_index=True)
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(uniq))
    out[mask] = rank[np.searchsorted(uniq, ids)]
    return out
