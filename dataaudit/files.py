"""File-level entry point (what ``dataaudit scan`` runs): load inputs, check the gate and the
output directory, scan, apply the gate and write the outputs."""

from __future__ import annotations

from typing import Any

from . import gate, io
from .errors import InputError, UsageError, param
from .probe import AUTO, is_keras_file
from .report import Report
from .scan import scan
from .selection import available_needs, select_checks


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
    dynamics_path: str | None = None,
    out: str | None = None,
    model: Any = AUTO,
    checks: Any = None,
    fail_on: str | None = None,
    scheduler: str | None = None,
    **scan_kwargs: Any,
) -> Report:
    """Scan data given as files and write ``out`` if given.

    Every input, the gate expression and the output directory are checked before the scan,
    so a usage mistake never costs the minutes of a scan. ``fail_on``'s result is in
    ``report.summary["gate"]``.
    """
    has_test = test_x_path is not None
    if test_y_path is not None and test_x_path is None:
        raise UsageError(f"give both {param('X_test')} and {param('y_test')}, or neither")
    if has_test and test_y_path is None and label_column is None:
        raise UsageError(f"give both {param('X_test')} and {param('y_test')}, or neither")
    conditions = gate.parse(fail_on) if fail_on else None
    if conditions is not None:
        available = available_needs(has_test=has_test, has_record=dynamics_path is not None, model=model)
        gate.validate(conditions, select_checks(checks, available))
    inputs = [p for p in (x_path, y_path, pred_probs_path, test_x_path, test_y_path, dynamics_path) if p]
    if is_keras_file(model):
        inputs.append(model)
    if out is not None:
        io.check_output_dir(out, inputs, what="out")
    if scheduler is not None:
        return _scan_on_cluster(x_path, y_path, scheduler, out=out, model=model, checks=checks, fail_on=fail_on,
                                unsupported={"--x-key": x_key, "--y-key": y_key, "--label-column": label_column,
                                             "--dynamics": dynamics_path},
                                pred_probs_path=pred_probs_path, test_paths=(test_x_path, test_y_path), **scan_kwargs)
    X, y_from_table = io.load_features(x_path, x_key=x_key, label_column=label_column)
    if y_path is not None and y_from_table is not None:
        raise UsageError(f"labels given twice: use either {param('y')} or {param('label_column')}")
    if y_path is None and y_from_table is None:
        raise UsageError(f"no labels given: pass {param('y')}, or {param('label_column')} for a table")
    y = io.load_labels(y_path, y_key=y_key) if y_path is not None else y_from_table
    X_test = y_test = None
    if has_test:
        X_test, y_test = io.load_features(test_x_path, x_key=x_key, what="X_test",
                                          label_column=label_column if test_y_path is None else None)
        if test_y_path is not None:
            y_test = io.load_labels(test_y_path, y_key=y_key, what="y_test")
    pred_probs = io.load_pred_probs(pred_probs_path) if pred_probs_path else None
    report = scan(X, y, model=model, pred_probs=pred_probs, X_test=X_test, y_test=y_test, checks=checks,
                  dynamics=dynamics_path, **scan_kwargs)
    if conditions is not None:
        report.gate(fail_on)
    if out is not None:
        report.save(out)
    return report


def _scan_on_cluster(x_path: str, y_path: str | None, scheduler: str, *, out: str | None, model: Any, checks: Any,
                     fail_on: str | None, unsupported: dict[str, Any], pred_probs_path: str | None,
                     test_paths: tuple[str | None, str | None] = (None, None), **scan_kwargs: Any) -> Report:
    """``dataaudit scan X Y --scheduler S``: X and Y (and a held-out split; ``.npy`` files or
    folders of shards) read by the workers; a LocalCluster made for ``local:N`` is closed afterwards."""
    given = [name for name, value in unsupported.items() if value is not None]
    if given:
        raise UsageError(f"{given[0]} does not work with {param('scheduler')} yet: scan on one machine for it")
    if y_path is None:
        raise UsageError(f"no labels given: pass {param('y')} (a .npy file or a folder of shards)")
    from .distributed.arrays import load_rows
    from .distributed.cluster import close, connect

    client = connect(scheduler)
    try:
        X, x_counts = load_rows(x_path, "X")
        y, y_counts = load_rows(y_path, "y")
        if X.shape[0] != y.shape[0]:
            detail = ""
            if len(x_counts) == len(y_counts) and len(x_counts) > 1:
                first = next(i for i, (a, b) in enumerate(zip(x_counts, y_counts)) if a != b)
                detail = f" (shard {first + 1}: {x_counts[first]} rows of X, {y_counts[first]} labels)"
            raise InputError(f"X has {X.shape[0]} rows but {param('y')} has {y.shape[0]} labels{detail}: they must "
                             "match row for row")
        pred_probs = load_rows(pred_probs_path, "pred_probs")[0] if pred_probs_path else None
        X_test, y_test = (load_rows(p, what)[0] if p else None for p, what in zip(test_paths, ("X_test", "y_test")))
        report = scan(X, y, model=model, checks=checks, pred_probs=pred_probs, X_test=X_test, y_test=y_test,
                      client=client, **scan_kwargs)
        if fail_on:
            report.gate(fail_on)
        if out is not None:
            from .distributed import cluster_failures

            with cluster_failures():
                report.save(out)
        return report
    finally:
        close(client)
