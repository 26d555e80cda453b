"""Atomic file output: write to a temporary file in the same directory, then rename."""

from __future__ import annotations

import io
import json
import os
import tempfile
from typing import Any, Callable

import numpy as np


def atomic_write(path: str, write: Callable[[io.IOBase], None], *, binary: bool) -> None:
    """Write ``path`` through ``write(fh)`` so that readers never see a half-written file."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".dataaudit-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text(path: str, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text), binary=False)


def write_json(path: str, obj: Any) -> None:
    write_text(path, dumps_json(obj) + "\n")


def write_npy(path: str, array: np.ndarray) -> None:
    atomic_write(path, lambda fh: np.save(fh, array, allow_pickle=False), binary=True)


def write_npz(path: str, **arrays: np.ndarray) -> None:
    atomic_write(path, lambda fh: np.savez(fh, **arrays), binary=True)


def _default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def dumps_json(obj: Any) -> str:
    """Deterministic JSON (fixed key order as built, no NaN)."""
    return json.dumps(obj, indent=2, default=_default, allow_nan=False, ensure_ascii=False)
