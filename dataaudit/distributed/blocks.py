""":class:`dataaudit.blocks.Blocks` over Dask arrays: each block is one row-block of every
array, the functions run on the workers and only their (small) results come back."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..blocks import tree_reduce


class DaskBlocks:
    """Row blocks of Dask arrays with the same row chunks (:func:`arrays.aligned`).

    Parameters
    ----------
    arrays : dask.array.Array
        Blocked along rows only.
    """

    def __init__(self, *arrays: Any):
        first = arrays[0]
        for a in arrays[1:]:
            if a.chunks[0] != first.chunks[0]:
                raise ValueError("DaskBlocks needs arrays with the same row blocks")
        self.arrays = arrays
        self.rows = first.chunks[0]
        self.parts = list(zip(*(a.to_delayed().reshape(len(self.rows), -1)[:, 0] for a in arrays)))

    @property
    def starts(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.rows)[:-1]]).astype(np.int64)

    def map(self, fn: Callable, *args: Any) -> list:
        import dask
        from dask import delayed

        return list(dask.compute(*[delayed(fn)(*part, *args) for part in self.parts]))

    def reduce(self, fn: Callable, combine: Callable[[Any, Any], Any], *args: Any) -> Any:
        from dask import delayed

        items = [delayed(fn)(*part, *args) for part in self.parts]
        return tree_reduce(items, delayed(combine)).compute()

    def map_rows(self, fn: Callable, *args: Any, per_block: Sequence | None = None, dtype: Any = bool,
                 width: int | None = None) -> Any:
        """One Dask array: ``fn``'s rows per block (``width`` columns, or 1-D)."""
        import dask.array as da
        from dask import delayed

        extra = [() if per_block is None else (per_block[i],) for i in range(len(self.parts))]
        pieces = [da.from_delayed(delayed(fn)(*part, *args, *ex), shape=(rows,) if width is None else (rows, width),
                                  dtype=dtype)
                  for part, rows, ex in zip(self.parts, self.rows, extra)]
        return da.concatenate(pieces, axis=0)

    def rows_blocks(self, rows: Any) -> "DaskBlocks":
        """Blocks over a :meth:`map_rows` result, computed once and kept on the workers."""
        return DaskBlocks(rows.persist())


__all__ = ["DaskBlocks"]
