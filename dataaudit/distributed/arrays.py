"""Inputs as Dask arrays of rows: Dask arrays as given, ``.npy`` files and folders of shards
read by the workers (``.npy`` memory-mapped, ``.parquet`` a table per shard), numpy arrays sent to
the workers in blocks. Validation happens here, on summaries: the driver never loads the rows.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..errors import InputError, InputTypeError, UsageError, param

#: Rows per block: about this many bytes of features each.
BLOCK_BYTES = 64 * 2**20
SHARD_EXTENSIONS = (".npy", ".parquet")


def block_rows(row_bytes: int) -> int:
    """Rows per block for rows of ``row_bytes`` bytes (at least 1,000).

    Examples
    --------
    >>> block_rows(64 * 4)
    262144
    """
    return int(max(1000, BLOCK_BYTES // max(row_bytes, 1)))


def _read_npy(path: str, start: int, stop: int) -> np.ndarray:
    return np.array(np.load(path, mmap_mode="r", allow_pickle=False)[start:stop])


def _read_parquet(path: str, columns: list[str] | None) -> np.ndarray:
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=columns)
    if table.num_columns == 1:
        return table.column(0).to_numpy()
    return np.column_stack([c.to_numpy() for c in table.columns])


def _npy_header(path: str, what: str) -> tuple[tuple, np.dtype]:
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InputError(f"{param(what)}: cannot read '{path}' as a .npy array ({exc})") from None
    if arr.dtype.kind not in "biufUS":
        raise InputError(f"{param(what)}: '{path}' holds {arr.dtype} values; give numbers (or text labels)")
    return arr.shape, arr.dtype


def _npy_rows(path: str, what: str):
    import dask.array as da
    from dask import delayed

    shape, dtype = _npy_header(path, what)
    step = block_rows(int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize)
    parts = [da.from_delayed(delayed(_read_npy)(path, s, min(s + step, shape[0])),
                             shape=(min(s + step, shape[0]) - s, *shape[1:]), dtype=dtype)
             for s in range(0, shape[0], step)]
    return da.concatenate(parts, axis=0) if parts else da.zeros((0, *shape[1:]), dtype=dtype)


def shard_paths(folder: str, what: str) -> list[str]:
    """The shard files of ``folder``, in name order: all ``.npy`` or all ``.parquet``."""
    names = sorted(f for f in os.listdir(folder) if f.endswith(SHARD_EXTENSIONS) and not f.startswith("."))
    if not names:
        raise InputError(f"{param(what)}: folder '{folder}' holds no .npy or .parquet shards")
    kinds = {os.path.splitext(f)[1] for f in names}
    if len(kinds) > 1:
        raise InputError(f"{param(what)}: folder '{folder}' mixes .npy and .parquet shards; keep one kind")
    return [os.path.join(folder, f) for f in names]


def load_rows(path: str | os.PathLike, what: str) -> tuple[Any, list[int]]:
    """A Dask array of the rows in a ``.npy`` file or a folder of shards, and the shards' row
    counts (one entry for a file)."""
    import dask.array as da
    from dask import delayed

    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"{param(what)}: '{path}' does not exist")
    if os.path.isfile(path):
        if not path.endswith(".npy"):
            raise UsageError(f"{param(what)}: a distributed scan reads .npy files or folders of .npy / .parquet shards, "
                             f"not '{os.path.basename(path)}'")
        arr = _npy_rows(path, what)
        return arr, [arr.shape[0]]
    paths = shard_paths(path, what)
    if paths[0].endswith(".npy"):
        parts = [_npy_rows(p, what) for p in paths]
        tails = {p.shape[1:] for p in parts}
        if len(tails) > 1:
            raise InputError(f"{param(what)}: the shards in '{path}' have different row shapes {sorted(tails)}")
        return da.concatenate(parts, axis=0), [p.shape[0] for p in parts]
    import pyarrow.parquet as pq

    parts, counts = [], []
    for p in paths:
        meta = pq.read_schema(p)
        rows = pq.read_metadata(p).num_rows
        width = len(meta.names)
        shape = (rows,) if width == 1 else (rows, width)
        dtype = np.dtype(meta.field(0).type.to_pandas_dtype()) if width == 1 else np.dtype(np.float64)
        if dtype.kind not in "biufUSO":
            raise InputError(f"{param(what)}: shard '{p}' holds {meta.field(0).type} values")
        if dtype.kind == "O":
            dtype = np.dtype(object)
        parts.append(da.from_delayed(delayed(_read_parquet)(p, None), shape=shape, dtype=dtype))
        counts.append(rows)
    return da.concatenate(parts, axis=0), counts


def _numpy_rows(X: np.ndarray):
    """A numpy array as a Dask array: a memory-mapped ``.npy`` file is read by the workers; an
    array in memory goes to them inside the graph, block by block (not scattered: a block the
    scheduler holds the recipe of is recomputed when its worker dies)."""
    import dask.array as da

    filename = getattr(X, "filename", None)
    if filename is not None and str(filename).endswith(".npy") and os.path.exists(filename):
        arr = _npy_rows(str(filename), "X")
        if arr.shape == X.shape:
            return arr
    step = block_rows(int(np.prod(X.shape[1:], dtype=np.int64)) * X.dtype.itemsize)
    return da.from_array(np.asarray(X), chunks=(step, *X.shape[1:]), name=False)


def as_rows(X: Any, what: str):
    """``X`` (a Dask array, a numpy array or memmap, a pandas DataFrame or Series) as a Dask array
    of rows whose blocks span whole rows."""
    import dask.array as da

    if isinstance(X, da.Array):
        arr = X
    elif hasattr(X, "to_dask_array"):  # a Dask DataFrame or Series
        arr = X.to_dask_array(lengths=True)
    else:
        if hasattr(X, "to_numpy"):
            X = X.to_numpy()
        if not isinstance(X, np.ndarray):
            raise InputTypeError(f"{param(what)} must be a Dask or numpy array, not {type(X).__name__}")
        arr = _numpy_rows(X)
    if arr.ndim == 0:
        raise InputError(f"{param(what)} is a single value; give one row per sample")
    if any(np.isnan(c) for c in arr.chunks[0]):
        arr = arr.compute_chunk_sizes()
    if arr.ndim > 1 and len(arr.chunks) > 1 and any(len(c) > 1 for c in arr.chunks[1:]):
        arr = arr.rechunk({i: -1 for i in range(1, arr.ndim)})
    return arr


def aligned(a, b):
    """``b`` re-blocked to ``a``'s row blocks (same number of rows)."""
    if a.chunks[0] == b.chunks[0]:
        return b
    return b.rechunk({0: a.chunks[0], **{i: -1 for i in range(1, b.ndim)}})


__all__ = ["aligned", "as_rows", "block_rows", "load_rows", "shard_paths"]
