"""Blocks of rows that a computation visits one at a time: the seam between a check's mergeable
math and the engine that holds the rows.

A function ``fn(*block, *args)`` sees one block's arrays (for example its labels and
probabilities). :meth:`Blocks.map` brings each block's small result back, :meth:`Blocks.reduce`
merges them two by two (a tree, so no step holds more than two results), and
:meth:`Blocks.map_rows` makes one per-row output per block, left where the blocks are.
:class:`LocalBlocks` holds numpy blocks in this process; :class:`dataaudit.distributed.DaskBlocks`
holds a Dask cluster's partitions and runs the same functions there.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

import numpy as np


class Blocks(Protocol):
    """``per_block``: one more argument for each block, after ``args`` (e.g. the block's first row id)."""

    def map(self, fn: Callable, *args: Any, per_block: Sequence | None = None) -> list: ...

    def reduce(self, fn: Callable, combine: Callable[[Any, Any], Any], *args: Any,
               per_block: Sequence | None = None) -> Any: ...

    def map_rows(self, fn: Callable, *args: Any, per_block: Sequence | None = None, dtype: Any = bool,
                 width: int | None = None) -> Any: ...

    def rows_blocks(self, rows: Any) -> "Blocks": ...


def tree_reduce(items: list, combine: Callable[[Any, Any], Any]) -> Any:
    """``combine`` over ``items`` two by two, neighbours first (the order of rows is kept).

    Examples
    --------
    >>> tree_reduce(["a", "b", "c", "d", "e"], lambda x, y: x + y)
    'abcde'
    """
    while len(items) > 1:
        items = [combine(items[i], items[i + 1]) if i + 1 < len(items) else items[i] for i in range(0, len(items), 2)]
    return items[0]


class LocalBlocks:
    """Blocks held in this process: a list of tuples of numpy arrays, in row order.

    Examples
    --------
    >>> import numpy as np
    >>> blocks = LocalBlocks([(np.array([1, 2]),), (np.array([3]),)])
    >>> int(blocks.reduce(lambda a: a.sum(), lambda x, y: x + y)), blocks.map(len)
    (6, [2, 1])
    """

    def __init__(self, blocks: Sequence[tuple]):
        self.blocks = [tuple(b) for b in blocks]

    def map(self, fn: Callable, *args: Any, per_block: Sequence | None = None) -> list:
        if per_block is None:
            return [fn(*block, *args) for block in self.blocks]
        return [fn(*block, *args, extra) for block, extra in zip(self.blocks, per_block)]

    def reduce(self, fn: Callable, combine: Callable[[Any, Any], Any], *args: Any,
               per_block: Sequence | None = None) -> Any:
        return tree_reduce(self.map(fn, *args, per_block=per_block), combine)

    def map_rows(self, fn: Callable, *args: Any, per_block: Sequence | None = None, dtype: Any = bool,
                 width: int | None = None) -> list:
        return self.map(fn, *args, per_block=per_block)

    def rows_blocks(self, rows: list) -> "LocalBlocks":
        """Blocks over a :meth:`map_rows` result."""
        return LocalBlocks([(r,) for r in rows])


def order_keys(values: np.ndarray) -> np.ndarray:
    """int64 keys ordered as the float64 ``values`` are (NaN excluded by the caller).

    Examples
    --------
    >>> order_keys(np.array([-2.0, -0.5, 0.0, 1e-300, 3.0])).argsort().tolist()
    [0, 1, 2, 3, 4]
    """
    bits = np.asarray(values, dtype=np.float64).view(np.int64)
    return bits ^ ((bits >> np.int64(63)) & np.int64(0x7FFFFFFFFFFFFFFF))


def _sorted_keys(values: np.ndarray) -> np.ndarray:
    """A block's values as sorted :func:`order_keys`, NaN as the largest key (never counted)."""
    values = np.asarray(values, dtype=np.float64)
    keys = order_keys(values)
    keys[np.isnan(values)] = np.iinfo(np.int64).max
    return np.sort(keys)


def _count_at_most(keys: np.ndarray, pivots: np.ndarray) -> np.ndarray:
    return np.searchsorted(keys, pivots, side="right")


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """numpy's interpolation between order statistics (``numpy.lib._function_base_impl._lerp``)."""
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


#: Parts each round of :func:`quantiles` cuts an interval of keys into.
WAYS = 256


def quantiles(blocks: Blocks, qs) -> np.ndarray:
    """``np.quantile`` (linear interpolation) of the non-NaN values of 1-D ``blocks``, exactly:
    each order statistic it needs is found by a many-way search on :func:`order_keys`, every
    round one count per block (8 rounds, all ranks at once). The blocks are sorted once and kept
    where they are.

    Examples
    --------
    >>> values = np.random.default_rng(0).normal(size=1001)
    >>> blocks = LocalBlocks([(values[:300],), (values[300:],)])
    >>> bool(np.array_equal(quantiles(blocks, [0, 0.25, 0.5, 1]), np.quantile(values, [0, 0.25, 0.5, 1])))
    True
    """
    qs = np.asarray(qs, dtype=np.float64)
    n = int(blocks.reduce(lambda v: int((~np.isnan(np.asarray(v, dtype=np.float64))).sum()), lambda a, b: a + b))
    if n == 0:
        return np.full(len(qs), np.nan)
    keys = blocks.rows_blocks(blocks.map_rows(_sorted_keys, dtype=np.int64))
    position = qs * (n - 1)
    below, upper = np.floor(position).astype(np.int64), np.ceil(position).astype(np.int64)
    ranks = np.unique(np.r_[below, upper])
    # Python integers: the bisection's midpoints of the whole int64 range overflow numpy's.
    lo = [int(np.iinfo(np.int64).min)] * len(ranks)
    hi = [int(np.iinfo(np.int64).max)] * len(ranks)
    while any(h - low > 1 for low, h in zip(lo, hi)):  # count(<= lo) <= rank < count(<= hi)
        # Each round cuts every open interval into up to WAYS parts at once (8 bits of the key a
        # round: 8 rounds, each one count per block, instead of 64 halvings).
        cuts = [sorted({low + (h - low) * j // WAYS for j in range(1, WAYS)} - {low}) if h - low > 1 else []
                for low, h in zip(lo, hi)]
        flat = np.array([c for cs in cuts for c in cs], dtype=np.int64)
        counts = np.sum(keys.map(_count_at_most, flat), axis=0)
        at = 0
        for i, cs in enumerate(cuts):
            mine, at = counts[at : at + len(cs)], at + len(cs)
            above = np.flatnonzero(mine > ranks[i])
            if len(above):
                hi[i] = cs[above[0]]
                if above[0] > 0:
                    lo[i] = cs[above[0] - 1]
            elif cs:
                lo[i] = cs[-1]
    # order_keys is its own inverse: it flips the non-sign bits of negative floats only.
    value = dict(zip(ranks.tolist(), order_keys(np.array(hi, dtype=np.int64).view(np.float64)).view(np.float64)))
    low_v = np.array([value[r] for r in below.tolist()])
    high_v = np.array([value[r] for r in upper.tolist()])
    return _lerp(low_v, high_v, position - below)


__all__ = ["Blocks", "LocalBlocks", "order_keys", "quantiles", "tree_reduce"]
