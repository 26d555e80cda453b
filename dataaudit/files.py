"""File-level entry point: load inputs from paths, scan, and write the outputs."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np

from . import data
from .errors import OutputError, UsageError
from .report import OUTPUT_FILES, Report
from .scan import scan


def _load_pred_probs(path: str) -> np.ndarray:
    path = data._check_path(path, "--pred-probs")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        return np.asarray(data._load_npy(path, "--pred-probs"))
    if ext == ".npz":
        return data._load_npz(path, "--pred-probs", None, ("pred_probs", "probs", "proba"))
    if ext in (".csv", ".parquet"):
        return data._read_table(path, "--pred-probs").to_numpy(dtype=float)
    raise UsageError(f"--pred-probs file '{path}' has an unknown extension: use .npy, .npz or .csv")


def _check_out(out: str, inputs: list[str]) -> None:
    out_abs = os.path.realpath(out)
    for p in inputs:
        p_abs = os.path.realpath(p)
        if out_abs == p_abs:
            raise OutputError(f"--out '{out}' is one of the input files: choose a directory for the outputs")
        if os.path.dirname(p_abs) == out_abs and os.path.basename(p_abs) in OUTPUT_FILES:
            raise OutputError(
                f"--out '{out}' would overwrite the input file '{p}': choose another directory"
            )
    if os.path.exists(out) and not os.path.isdir(out):
        raise OutputError(f"--out '{out}' is an existing file, not a directory: choose a directory")
    # Fail before the scan, not after minutes of work: the directory must be creatable and writable.
    try:
        os.makedirs(out, exist_ok=True)
        probe_fd, probe_path = tempfile.mkstemp(prefix=".dataaudit-", dir=out)
        os.close(probe_fd)
        os.unlink(probe_path)
    except OSError as exc:
        raise OutputError(f"--out '{out}' cannot be written ({exc.strerror or exc}): choose another directory") from None


def scan_files(
    x_path: str,
    y_path: str | None = None,
    *,
    x_key: str | None = None,
    y_key: str | None = None,
    label_column: str | None = None,
    pred_probs_path: str | None = None,
    test_x_path: str | None = None,
    test_y_path: str | None = None,
    out: str | None = None,
    model: Any = "auto",
    **scan_kwargs: Any,
) -> Report:
    """Scan data given as files (what ``dataaudit scan`` does) and write ``out`` if given."""
    inputs = [p for p in (x_path, y_path, pred_probs_path, test_x_path, test_y_path) if p]
    if isinstance(model, str) and model.endswith(".keras"):
        inputs.append(model)
    if out is not None:
        _check_out(out, inputs)
    X, y_from_table = data.load_features(x_path, x_key=x_key, label_column=label_column)
    if y_path is not None and y_from_table is not None:
        raise UsageError("labels given twice: use either Y or --label-column")
    if y_path is None and y_from_table is None:
        raise UsageError("no labels given: pass the Y file, or --label-column NAME for a table")
    y = data.load_labels(y_path, y_key=y_key) if y_path is not None else y_from_table
    if (test_x_path is None) != (test_y_path is None):
        if test_x_path is not None and label_column is not None:
            pass
        else:
            raise UsageError("give both --test-x and --test-y, or neither")
    X_test = y_test = None
    if test_x_path is not None:
        X_test, y_test_table = data.load_features(test_x_path, x_key=x_key, label_column=label_column if test_y_path is None else None)
        y_test = data.load_labels(test_y_path, y_key=y_key) if test_y_path is not None else y_test_table
    pred_probs = _load_pred_probs(pred_probs_path) if pred_probs_path else None
    report = scan(X, y, model=model, pred_probs=pred_probs, X_test=X_test, y_test=y_test, **scan_kwargs)
    if out is not None:
        report.save(out)
    return report
