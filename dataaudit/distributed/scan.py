"""``scan(..., client=)``: the audit on a Dask cluster (see :mod:`dataaudit.distributed`).

The steps are one process's: validate (on summaries), the probe (its plan, dealt folds,
fitted on the workers), each check from mergeable summaries, the report. Checks that do not
run on a cluster yet are named in a finding when they were not asked for, and are a usage
error when they were.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import numpy as np

from .. import probe as probes
from .._version import __version__
from ..checks import REGISTRY
from ..checks.base import NEED_TEST, SEVERITY_ORDER, Finding
from ..errors import InputError, UsageError, param
from ..report import SCHEMA_VERSION
from ..selection import select_checks, validate_options
from ..timings import Stopwatch
from ..utils import json_value, resolve_seed
from . import require
from .arrays import aligned, as_rows
from .audit import (
    NEIGHBOURS, ON_CLUSTER, run_class_balance, run_duplicates, run_high_loss, run_label_issues, run_leakage,
)
from .cells import join_cells
from .cluster import worker_memory
from .outliers import run_outliers
from .blocks import DaskBlocks
from .probe import out_of_fold
from .report import ClusterReport


def _classes(y) -> np.ndarray:
    """The sorted distinct labels of a Dask array (merged per block)."""
    found = DaskBlocks(y).reduce(lambda b: np.unique(np.asarray(b)), lambda a, b: np.union1d(a, b))
    return np.asarray(found)


def _codes(y, classes: np.ndarray):
    def encode(block):
        block = np.asarray(block)
        return np.searchsorted(classes, block).astype(np.int64)

    return DaskBlocks(y).map_rows(encode, dtype=np.int64)


def _check_labels(y) -> None:
    kind = y.dtype.kind
    if kind == "f":
        bad = DaskBlocks(y).reduce(lambda b: int((~np.isfinite(b) | (b != np.round(b))).sum()), lambda a, b: a + b)
        if bad:
            raise InputError(f"{param('y')} holds {bad} labels that are not whole numbers (or are missing): give class "
                             "labels, one per row")
    elif kind not in "biuUSO":
        raise InputError(f"{param('y')} holds {y.dtype} values: give class labels (integers or text)")


def _selected(checks: str | Iterable[str] | None, has_test: bool) -> tuple[list[str], list[str]]:
    """The checks to run on the cluster and those of the default set left out."""
    names = select_checks(checks, available={NEED_TEST} if has_test else set())
    if checks is not None:
        other = [c for c in names if c not in ON_CLUSTER]
        if other:
            raise UsageError(f"the '{other[0]}' check does not run on a cluster yet ({param('client')}); the checks "
                             f"that do: {', '.join(ON_CLUSTER)}")
        return names, []
    return [c for c in names if c in ON_CLUSTER], [c for c in names if c not in ON_CLUSTER]


def _rows_and_labels(X: Any, y: Any, x_name: str, y_name: str, n_features: int | None = None):
    """Features (float32, flattened per sample) and labels as Dask arrays blocked alike, validated
    on summaries; the samples' shape."""
    features = as_rows(X, x_name)
    n = int(features.shape[0])
    sample_shape = tuple(int(s) for s in features.shape[1:])
    if features.ndim != 2:
        features = features.reshape((n, int(np.prod(sample_shape))))
    if n_features is not None and features.shape[1] != n_features:
        raise InputError(f"{param(x_name)} has {features.shape[1]} features per sample but X has {n_features}: the "
                         "splits must have the same columns")
    if features.dtype.kind not in "biuf":
        raise InputError(f"{param(x_name)} holds {features.dtype} values: give numbers")
    labels = as_rows(y, y_name)
    if labels.ndim != 1:
        raise InputError(f"{param(y_name)} has shape {labels.shape}: give one label per sample")
    if labels.shape[0] != n:
        raise InputError(f"{x_name} has {n} samples but {param(y_name)} has {labels.shape[0]} labels: they must match "
                         "row for row")
    labels = aligned(features, labels)
    _check_labels(labels)
    bad = DaskBlocks(features).reduce(lambda b: int((~np.isfinite(b)).sum()), lambda a, b: a + b)
    if bad:
        raise InputError(f"{x_name} holds {bad} missing or infinite values: impute or drop them before a scan on a "
                         "cluster")
    return features.astype(np.float32), labels, sample_shape


def _settle(*collections: Any) -> None:
    """Wait until the persisted ``collections`` are computed: a stage's time in ``timings.json``
    is then its own, not the next stage's (persisting returns at once)."""
    from distributed import futures_of, wait

    wait([f for c in collections if c is not None for f in futures_of(c)])


def scan_on_cluster(X: Any, y: Any, *, client: Any, model: Any = "auto", pred_probs: Any = None,
                    X_test: Any = None, y_test: Any = None,
                    checks: str | Iterable[str] | None = None, random_state: Any = 0,
                    options: Mapping[str, Mapping[str, Any]] | None = None,
                    progress: Callable[[str], None] | None = None) -> ClusterReport:
    """:func:`dataaudit.scan` on the cluster of ``client`` (see :mod:`dataaudit.distributed`)."""
    require()
    watch = Stopwatch()
    with watch.stage("validate"):
        seed = resolve_seed(random_state)
        check_opts, probe_options = validate_options(options)
        if int(as_rows(X, "X").shape[0]) < 2:
            raise InputError("X has fewer than 2 samples: an audit compares samples")
        features, labels_given, sample_shape = _rows_and_labels(X, y, "X", "y")
        n = int(features.shape[0])
        classes = _classes(labels_given)
        labels = _codes(labels_given, classes).persist()
        counts = DaskBlocks(labels).reduce(lambda b: np.bincount(b, minlength=len(classes)), np.add)
        has_test = X_test is not None or y_test is not None
        if has_test and (X_test is None or y_test is None):
            raise UsageError(f"give both {param('X_test')} and {param('y_test')}, or neither")
        test_features, test_labels = (_rows_and_labels(X_test, y_test, "X_test", "y_test", int(features.shape[1]))[:2]
                                      if has_test else (None, None))
        selected, left_out = _selected(checks, has_test)
        if probes.is_keras_file(model) or probes.is_keras_model(model):
            raise UsageError(f"a Keras model as {param('model')} does not run on a cluster yet; use a scikit-learn model")
    k = len(classes)

    def label_name(code: int) -> Any:
        return json_value(classes[int(code)])

    skipped = []
    if left_out:
        skipped.append(Finding("input", "info", 0, f"not run on a cluster yet: {', '.join(left_out)}",
                               "Run those checks on one machine (without a client), on the data or a sample of it."))
    probe_summary = None
    neighbours_info = None
    probs = loss = None
    needs_probe = any(c in ("label_issues", "high_loss") for c in selected)
    if needs_probe and k < 2:
        raise InputError(f"all samples carry one label ({label_name(0)!r}): a classifier needs two classes")
    if needs_probe:
        with watch.stage("probe"):
            if pred_probs is not None:
                probs = aligned(features, as_rows(pred_probs, "pred_probs")).astype(np.float64)
                if probs.shape != (n, k):
                    raise InputError(f"{param('pred_probs')} has shape {probs.shape}; expected ({n}, {k})")
                from ..probabilities import cross_entropy

                probs = probs.persist()
                loss = DaskBlocks(probs, labels).map_rows(cross_entropy, dtype=np.float64).persist()
                probe_summary = {"model": "given pred_probs", "n_folds": 0}
            else:
                sample = features[: min(n, 2000)].compute()
                plan = probes.make_plan(model, counts, sample_shape, random_state=seed, sample=sample, **probe_options)
                probs, loss, probe_summary = out_of_fold(features, labels, plan, n_classes=k, counts=counts,
                                                         random_state=seed, say=progress,
                                                         worker_memory=worker_memory(client))
            _settle(probs, loss)
    if {"duplicates", "outliers", "leakage"} & set(selected):
        with watch.stage("neighbours"):
            near = {key: value for key, value in check_opts.get("duplicates", {}).items() if key in ("threshold", "factor")}
            if "factor" in check_opts.get("leakage", {}) and "threshold" not in near:
                # The candidates' bound is twice the largest threshold asked for.
                near["factor"] = max(near.get("factor", 0.1), check_opts["leakage"]["factor"])
            join = join_cells(features, n, k=NEIGHBOURS, random_state=seed, test=test_features,
                              worker_memory=worker_memory(client), **near)
            neighbours_info = {"k": NEIGHBOURS, "method": "cell join", "metric": "euclidean (standardised features)",
                               "cells": join.n_cells}
            _settle(join.stats, *join.pairs, *(join.leaks or []))
    results = []
    for name in selected:
        opts = check_opts.get(name, {})
        with watch.stage(f"check: {name}"):
            if name == "class_balance":
                results.append(run_class_balance(labels, counts, label_name, **opts))
            elif name == "label_issues":
                results.append(run_label_issues(labels, probs, counts, label_name, probe_summary, **opts))
            elif name == "high_loss":
                results.append(run_high_loss(labels, loss, n, label_name, **opts))
            elif name == "duplicates":
                results.append(run_duplicates(join, labels, n, k, label_name, **opts))
            elif name == "leakage":
                results.append(run_leakage(join, labels, test_labels, classes, n, label_name, **opts))
            elif name == "outliers":
                results.append(run_outliers(features, labels, join, n, label_name, random_state=seed, **opts))
            _settle(*results[-1].columns.values(), results[-1].weight, results[-1].exclude)
    with watch.stage("report"):
        report = _assemble(labels, classes, counts, results, skipped, probe_summary, seed, n, sample_shape, client,
                           neighbours_info,
                           held=[a for a in (features, probs, loss) if a is not None])
    report.timings = watch.to_dict()
    return report


def _assemble(labels, classes, counts, results, skipped, probe_summary, seed, n, sample_shape, client,
              neighbours_info=None, held=()) -> ClusterReport:
    import dask.dataframe as dd
    import pandas as pd
    from dask import delayed

    k = len(classes)
    findings = list(skipped)
    for r in results:
        findings.extend(r.findings)
    order = {name: i for i, name in enumerate(["input", *REGISTRY])}
    findings.sort(key=lambda f: (-SEVERITY_ORDER[f.severity], order.get(f.check, len(order))))
    summary: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "dataaudit", "version": __version__},
        "random_state": seed,
        "dataset": {
            "n_samples": n,
            "n_features": int(np.prod(sample_shape)) if sample_shape else 1,
            "sample_shape": list(sample_shape),
            "n_classes": k,
            "classes": [{"label": json_value(classes[c]), "count": int(counts[c])} for c in range(k)],
            "n_missing_values": 0,
            "notes": [],
        },
        "checks_run": [r.name for r in results],
    }
    if probe_summary is not None:
        summary["probe"] = probe_summary
    if neighbours_info is not None:
        summary["neighbors"] = neighbours_info
    for r in results:
        summary[r.name] = r.figures
    summary["metrics"] = {key: round(float(v), 6) for r in results for key, v in r.metrics.items()}
    summary["findings"] = [f.to_dict() for f in findings]
    summary["cluster"] = {"workers": len(client.scheduler_info().get("workers", {})),
                          "partitions": len(labels.chunks[0])}

    weights = [r.weight for r in results if r.weight is not None]
    excluded = None
    for r in results:
        if r.exclude is not None:
            excluded = r.exclude if excluded is None else excluded | r.exclude
    held = [labels, *held, *(c for r in results for c in r.columns.values()), *weights]
    report = ClusterReport(None, summary, labels=labels, classes=classes, weights=weights, excluded=excluded,
                           random_state=seed, client=client, held=held)
    names, arrays = ["label"], [labels]
    for r in results:
        for key, col in r.columns.items():
            names.append(key)
            arrays.append(col)
    names.append("sample_weight")
    arrays.append(report.sample_weight())
    label_columns = {"label", "predicted_label", "suggested_label"}

    def frame(start, *cols):
        data = {}
        for name, col in zip(names, cols):
            data[name] = classes[col] if name in label_columns else col
        out = pd.DataFrame(data, index=pd.RangeIndex(start, start + len(cols[0]), name="index"))
        return out

    parts = list(zip(*(a.to_delayed().ravel() for a in arrays)))
    starts = DaskBlocks(labels).starts
    meta = frame(0, *[np.zeros(0, dtype=a.dtype) for a in arrays])
    divisions = [int(s) for s in starts] + [n - 1]
    report.samples = dd.from_delayed([delayed(frame)(int(s), *p) for s, p in zip(starts, parts)], meta=meta,
                                     divisions=divisions)
    return report


__all__ = ["scan_on_cluster"]
