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

    def _calls(self, fn: Callable, args: tuple, per_block: Sequence | None) -> list:
        from dask import delayed

        extra = [() if per_block is None else (per_block[i],) for i in range(len(self.parts))]
        return [delayed(fn)(*part, *args, *ex) for part, ex in zip(self.parts, extra)]

    def map(self, fn: Callable, *args: Any, per_block: Sequence | None = None) -> list:
        import dask

        return list(dask.compute(*self._calls(fn, args, per_block)))

    def reduce(self, fn: Callable, combine: Callable[[Any, Any], Any], *args: Any,
               per_block: Sequence | None = None) -> Any:
        from dask import delayed

        return tree_reduce(self._calls(fn, args, per_block), delayed(combine)).compute()

    def map_rows(self, fn: Callable, *args: Any, per_block: Sequence | None = None, dtype: Any = bool,
                 width: int | None = None) -> Any:
        """One Dask array: ``fn``'s rows per block (``width`` columns, or 1-D)."""
        import dask.array as da

        pieces = [da.from_delayed(call, shape=(rows,) if width is None else (rows, width), dtype=dtype)
                  for call, rows in zip(self._calls(fn, args, per_block), self.rows)]
        return da.concatenate(pieces, axis=0)

    def rows_blocks(self, rows: Any) -> "DaskBlocks":
        """Blocks over a :meth:`map_rows` result, computed once and kept on the workers."""
        return DaskBlocks(rows.persist())


__all__ = ["DaskBlocks"]
