"""The one I/O boundary: every file dataaudit reads or writes goes through here.

Readers never unpickle (``allow_pickle=False``), map ``.npy`` files into memory instead of
copying them, and turn every failure into an :class:`~dataaudit.errors.InputError` whose one
line names the file and the fix. Writers are atomic (a temporary file in the same directory,
renamed into place), so a reader never sees a half-written file, and they replace only
dataaudit's own output files in an existing directory.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import pandas as pd

from .errors import InputError, OutputError, UsageError, param

# Names a label column or a header row is recognised by.
LABEL_COLUMN_NAMES = ("label", "labels", "y", "target", "class", "classes")
#: Files a report writes; an existing output directory only ever has these replaced.
OUTPUT_FILES = ("report.json", "samples.csv", "sample_weight.npy", "split.npz", "report.html")
TABLE_EXTENSIONS = (".csv", ".tsv", ".parquet")

# ----------------------------------------------------------------------------- reading


def check_path(path: str | os.PathLike, what: str) -> str:
    """``path`` as a string, after checking it names a readable file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"{what} file '{path}' does not exist: check the path")
    if os.path.isdir(path):
        raise InputError(f"{what} path '{path}' is a directory: give a file (.npy, .npz, .csv, .parquet)")
    if not os.access(path, os.R_OK):
        raise InputError(f"{what} file '{path}' is not readable: check its permissions")
    return path


def load_npy(path: str, what: str) -> np.ndarray:
    """A ``.npy`` file, memory-mapped, never unpickled."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        msg = str(exc)
        if "allow_pickle" in msg or "Python objects" in msg or "object" in msg.lower():
            raise InputError(
                f"{what} file '{path}' holds Python objects (pickled data); dataaudit never unpickles "
                "files: save a numeric or string array instead (e.g. np.save(path, arr.astype(float)))"
            ) from None
        if "mmap length" in msg or "cannot reshape" in msg or "size" in msg:
            raise InputError(f"{what} file '{path}' is truncated or corrupt ({msg}): write it again") from None
        raise InputError(f"{what} file '{path}' is not a valid .npy file ({msg})") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{what} file '{path}' cannot be read as .npy ({exc}): is it truncated or corrupt?") from None
    if arr.dtype.hasobject or arr.dtype.names is not None:
        raise InputError(f"{what} file '{path}' holds a structured or object array; save a plain numeric array instead")
    return arr


def open_npz(path: str, what: str):
    """An ``.npz`` archive opened without unpickling (use as a context manager)."""
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:  # zipfile.BadZipFile, OSError, EOFError, ValueError ...
        raise InputError(f"{what} file '{path}' cannot be read as .npz ({exc}): is it truncated or corrupt?") from None


def read_npz_array(npz, name: str, path: str, what: str) -> np.ndarray:
    """One array of an open ``.npz``; a pickled or corrupt member is an InputError."""
    try:
        return npz[name]
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "object" in str(exc).lower():
            raise InputError(f"{what} file '{path}' holds Python objects (pickled data); dataaudit never unpickles files") from None
        raise InputError(f"{what} file '{path}' is not a valid .npz file ({exc})") from None
    except Exception as exc:  # zlib.error, EOFError, BadZipFile on a damaged member
        raise InputError(f"{what} file '{path}' is truncated or corrupt ({type(exc).__name__}): write it again") from None


def load_npz(path: str, what: str, key: str | None, default_keys: tuple[str, ...], key_param: str) -> np.ndarray:
    """One array of an ``.npz`` file: ``key``, the only one, or the first of ``default_keys`` present."""
    with open_npz(path, what) as npz:
        keys = list(npz.keys())
        if key is None:
            key = keys[0] if len(keys) == 1 else next((k for k in default_keys if k in keys), None)
            if key is None:
                raise InputError(
                    f"{what} file '{path}' holds several arrays ({', '.join(keys)}): choose one with {param(key_param)}"
                )
        if key not in keys:
            raise InputError(f"{what} file '{path}' has no array '{key}'; it has: {', '.join(keys)}")
        return read_npz_array(npz, key, path, what)


def _looks_numeric(values) -> np.ndarray:
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").notna().to_numpy()


def read_table(path: str, what: str) -> pd.DataFrame:
    """A ``.csv``/``.tsv``/``.parquet`` table; a header row is recognised, not assumed."""
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".parquet":
            return pd.read_parquet(path)
        # Read without a header first and decide: a header row is one whose cells are not
        # numbers while the rows below are, or one that names a label column.
        table = pd.read_csv(path, header=None, skipinitialspace=True, sep="\t" if ext == ".tsv" else ",")
    except pd.errors.EmptyDataError:
        raise InputError(f"{what} file '{path}' is empty") from None
    except Exception as exc:
        raise InputError(f"{what} file '{path}' cannot be read as {ext[1:]} ({type(exc).__name__}: {exc})") from None
    if len(table) == 0:
        raise InputError(f"{what} file '{path}' is empty")
    first = table.iloc[0].to_numpy()
    first_numeric = _looks_numeric(first)
    rest_numeric = (
        np.array([_looks_numeric(table.iloc[1:, j].head(100).to_numpy()).all() for j in range(table.shape[1])])
        if len(table) > 1
        else np.zeros(table.shape[1], bool)
    )
    names_label = any(str(v).strip().lower() in LABEL_COLUMN_NAMES for v in first)
    if names_label or (not first_numeric.any() and rest_numeric.any()) or (~first_numeric & rest_numeric).any():
        header = [str(v).strip() for v in first]
        table = table.iloc[1:].reset_index(drop=True)
        table.columns = header
        # Columns read as text because of the header row are numbers now.
        for col in table.columns:
            converted = pd.to_numeric(table[col], errors="coerce")
            if converted.notna().sum() == table[col].notna().sum():
                table[col] = converted
    else:
        table.columns = [f"x{j}" for j in range(table.shape[1])]
    return table


def _extension(path: str) -> str:
    return os.path.splitext(path)[1].lower()


def load_features(
    path: str | os.PathLike, *, x_key: str | None = None, label_column: str | None = None, what: str = "X"
) -> tuple[Any, Any]:
    """Load features (and, from a table with ``label_column``, labels) from a file.

    Parameters
    ----------
    path : str
        ``.npy`` (memory-mapped), ``.npz``, ``.csv``, ``.tsv`` or ``.parquet``.
    x_key : str, optional
        The array to use in an ``.npz`` file with several arrays.
    label_column : str, optional
        For tables: the column holding the labels; every other column is a feature.
    what : str
        How messages name this input (``X``, or ``X_test`` for a held-out split).

    Returns
    -------
    X : ndarray or DataFrame
    y : ndarray or None
        Labels when ``label_column`` was given.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "X.npy"); np.save(path, np.zeros((3, 2)))
    >>> X, y = load_features(path)
    >>> X.shape, type(X).__name__, y
    ((3, 2), 'memmap', None)
    """
    path = check_path(path, param(what))
    ext = _extension(path)
    if label_column is not None and ext not in TABLE_EXTENSIONS:
        raise InputError(
            f"{param('label_column')} works only with a table (.csv or .parquet); give the labels as {param('y')} instead"
        )
    if ext == ".npy":
        return load_npy(path, param(what)), None
    if ext == ".npz":
        return load_npz(path, param(what), x_key, ("X", "x", "features", "data", "x_train", "X_train"), "x_key"), None
    if ext not in TABLE_EXTENSIONS:
        raise InputError(
            f"{param(what)} file '{path}' has an unknown extension '{ext or '(none)'}': use .npy, .npz, .csv or .parquet"
        )
    X = read_table(path, param(what))
    if label_column is None:
        return X, None
    if label_column not in X.columns:
        cols = ", ".join(map(str, X.columns[:20]))
        raise InputError(f"{param('label_column')} '{label_column}' is not a column of '{path}'; its columns are: {cols}")
    return X.drop(columns=[label_column]), X[label_column].to_numpy()


def load_labels(path: str | os.PathLike, *, y_key: str | None = None, what: str = "y") -> np.ndarray:
    """Load labels from ``.npy``, ``.npz``, ``.csv``/``.parquet`` or ``.txt`` (one label per line)."""
    path = check_path(path, param(what))
    ext = _extension(path)
    if ext == ".npy":
        return np.asarray(load_npy(path, param(what)))
    if ext == ".npz":
        return load_npz(path, param(what), y_key, ("y", "Y", "labels", "label", "target", "y_train"), "y_key")
    if ext == ".txt":
        try:
            with open(path, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except UnicodeDecodeError:
            raise InputError(f"{param(what)} file '{path}' is not UTF-8 text: save the labels one per line as text") from None
        while lines and not lines[-1].strip():
            lines.pop()
        if not lines:
            raise InputError(f"{param(what)} file '{path}' is empty")
        return np.array(lines, dtype=object)
    if ext in TABLE_EXTENSIONS:
        table = read_table(path, param(what))
        if table.shape[1] == 1:
            return table.iloc[:, 0].to_numpy()
        named = [c for c in table.columns if str(c).lower() in LABEL_COLUMN_NAMES]
        if len(named) == 1:
            return table[named[0]].to_numpy()
        return table.to_numpy()  # several columns: maybe one-hot; validation decides
    raise InputError(f"{param(what)} file '{path}' has an unknown extension '{ext or '(none)'}': use .npy, .csv or .txt")


def load_pred_probs(path: str | os.PathLike) -> np.ndarray:
    """Precomputed out-of-sample probabilities from ``.npy``, ``.npz`` or a table."""
    what = param("pred_probs")
    path = check_path(path, what)
    ext = _extension(path)
    if ext == ".npy":
        return np.asarray(load_npy(path, what))
    if ext == ".npz":
        return load_npz(path, what, None, ("pred_probs", "probs", "proba"), "pred_probs")
    if ext in TABLE_EXTENSIONS:
        return read_table(path, what).to_numpy(dtype=float)
    raise UsageError(f"{what} file '{path}' has an unknown extension: use .npy, .npz or .csv")


def load_record(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a training record (``AuditCallback.save``), read without unpickling;
    :meth:`dataaudit.dynamics.TrainingRecord.from_arrays` validates them."""
    what = param("dynamics")
    path = check_path(path, what)
    if _extension(path) != ".npz":
        raise InputError(f"{what} file '{path}' is not an .npz training record: save one with AuditCallback.save(path)")
    with open_npz(path, what) as npz:
        return {name: read_npz_array(npz, name, path, what) for name in npz.files}


# ----------------------------------------------------------------------------- the output directory


def check_output_dir(directory: str | os.PathLike, inputs: Iterable[str] = (), *, what: str = "directory") -> str:
    """Create ``directory`` if needed and prove it writable, before any long work.

    Refuses a directory that is one of ``inputs`` or would overwrite one of them with an
    output file, a path that is a file, and a directory that cannot be written.
    """
    out = os.fspath(directory)
    out_abs = os.path.realpath(out)
    for p in inputs:
        p_abs = os.path.realpath(p)
        if out_abs == p_abs:
            raise OutputError(f"{param(what)} '{out}' is one of the input files: choose a directory for the outputs")
        if os.path.dirname(p_abs) == out_abs and os.path.basename(p_abs) in OUTPUT_FILES:
            raise OutputError(f"{param(what)} '{out}' would overwrite the input file '{p}': choose another directory")
    if os.path.exists(out) and not os.path.isdir(out):
        raise OutputError(f"{param(what)} '{out}' is an existing file, not a directory: choose a directory")
    try:
        os.makedirs(out, exist_ok=True)
        probe_fd, probe_path = tempfile.mkstemp(prefix=".dataaudit-", dir=out)
        os.close(probe_fd)
        os.unlink(probe_path)
    except OSError as exc:
        raise OutputError(f"{param(what)} '{out}' cannot be written ({exc.strerror or exc}): choose another directory") from None
    return out


# ----------------------------------------------------------------------------- atomic writing


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = ".tmp") -> Iterator[str]:
    """A temporary file beside ``path`` to write; renamed to ``path`` when the block ends
    without an error, removed otherwise: readers never see a half-written file."""
    fd, tmp = tempfile.mkstemp(prefix=".dataaudit-", suffix=suffix, dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write(path: str, write: Callable[[io.IOBase], None], *, binary: bool) -> None:
    """Write ``path`` through ``write(fh)`` so that readers never see a half-written file."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())


def write_text(path: str, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text), binary=False)


def write_json(path: str, obj: Any) -> None:
    write_text(path, dumps_json(obj) + "\n")


def write_npy(path: str, array: np.ndarray) -> None:
    atomic_write(path, lambda fh: np.save(fh, array, allow_pickle=False), binary=True)


def write_npz(path: str, **arrays: np.ndarray) -> None:
    atomic_write(path, lambda fh: np.savez(fh, **arrays), binary=True)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def dumps_json(obj: Any) -> str:
    """Deterministic JSON (fixed key order as built, no NaN)."""
    return json.dumps(obj, indent=2, default=_json_default, allow_nan=False, ensure_ascii=False)
