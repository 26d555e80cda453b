"""The audit on a Dask cluster against the same audit in one process, side by side in one run.

Data: ``bench.growth.write_planted`` (20 Gaussian clusters in 64 dimensions, 5% of the labels
flipped, near copies half of them with the other label, far rows), a float32 ``.npy`` file. One
process: ``dataaudit.scan(np.load(X, mmap_mode="r"), y)`` with the checks a cluster runs
(class balance, label issues, high loss, duplicates, outliers) and the default probe. Cluster: the same call with
``client=`` a LocalCluster of 1 and of 2 single-threaded worker processes, the rows read by the
workers from the file (``dataaudit.distributed.arrays.load_rows``). Compared: the label-issue
flags (identical, Jaccard), label F1 on the planted flips, every figure of ``report.json`` that
both hold (the neighbour graph's aside: one process searches an inverted file, the cluster joins
within cells), the planted near copies found and their conflicts, and the wall time (the
cluster's includes starting its workers). The outliers: the planted far rows are found by
both; the cluster flags one row more than one process (21 against 20 at 200k: a rather
isolated row, its nearest other row 8.9 away, whose kNN view is 1.85 on the cluster and 0.36 in
one process: it lies near its cell's border, its true neighbours are in the next cell, and its
own cell's rows are farther; the border guests that keep near duplicates together only cover
twice the duplicate threshold).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

import numpy as np

from .common import md_table, prf
from .growth import write_planted

TITLE = "On a Dask cluster: the same verdicts as one process"
COLUMNS = ["is_label_issue", "duplicate_group", "is_conflicting_duplicate", "is_outlier"]
CHECKS = "class_balance,label_issues,high_loss,duplicates,outliers"


def _figures(summary: dict) -> dict:
    return {k: summary[k] for k in ("dataset", "probe", "class_balance", "label_issues", "high_loss", "duplicates",
                                    "outliers", "metrics")}


def _differences(a: dict, b: dict, path: str = "") -> list[str]:
    """Paths where two JSON-like values differ (the probe's cluster-only keys aside)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            out += _differences(a.get(key), b.get(key), f"{path}.{key}" if path else key)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if json.dumps(a) == json.dumps(b) else [path]


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def local_scan(x_path: str, y_path: str) -> tuple[dict, np.ndarray, float]:
    import dataaudit

    t0 = time.perf_counter()
    report = dataaudit.scan(np.load(x_path, mmap_mode="r"), np.load(y_path), checks=CHECKS)
    columns = report.samples[COLUMNS]
    return report.summary, columns, time.perf_counter() - t0


def cluster_scan(x_path: str, y_path: str, workers: int) -> tuple[dict, np.ndarray, float]:
    from distributed import Client, LocalCluster

    import dataaudit
    from dataaudit.distributed.arrays import load_rows

    t0 = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=":0", silence_logs=50) as cluster, \
            Client(cluster) as client:
        X, _ = load_rows(x_path, "X")
        y, _ = load_rows(y_path, "y")
        report = dataaudit.scan(X, y, checks=CHECKS, client=client)
        columns = report.samples[COLUMNS].compute()
        seconds = time.perf_counter() - t0
    return report.summary, columns, seconds


def run(quick: bool = False, n: int | None = None) -> str:
    n = n or (20_000 if quick else 200_000)
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        x_path, y_path, planted = write_planted(tmp, n)
        planted = np.load(planted)
        truth = np.zeros(n, bool)
        truth[planted["flipped"]] = True
        copies = np.r_[planted["sources"], planted["copies"]]
        conflicting = planted["conflicting"]
        far = planted["far"]
        runs = {"one process": local_scan(x_path, y_path)}
        print(f"   cluster bench {n:,}: one process {runs['one process'][2]:.0f} s", file=sys.stderr, flush=True)
        for workers in (1, 2):
            runs[f"LocalCluster, {workers} worker{'s' * (workers > 1)}"] = cluster_scan(x_path, y_path, workers)
            print(f"   cluster bench {n:,}: {workers} workers {runs[list(runs)[-1]][2]:.0f} s", file=sys.stderr, flush=True)
    base_summary, base_columns, base_seconds = runs["one process"]
    base_flags = base_columns["is_label_issue"].to_numpy()
    base_outliers = base_columns["is_outlier"].to_numpy()
    rows = []
    for name, (summary, columns, seconds) in runs.items():
        flags = columns["is_label_issue"].to_numpy()
        group = columns["duplicate_group"].to_numpy()
        jaccard = (flags & base_flags).sum() / max((flags | base_flags).sum(), 1)
        differ = _differences(_figures(base_summary), _figures(summary))
        rows.append([name, seconds, seconds / base_seconds, int(flags.sum()), bool(np.array_equal(flags, base_flags)),
                     float(jaccard), prf(flags, truth)[2], summary["probe"]["passes"],
                     float((group[copies] >= 0).mean()), float(columns["is_conflicting_duplicate"].to_numpy()[conflicting].mean()),
                     _jaccard(columns["is_outlier"].to_numpy(), base_outliers),
                     float(columns["is_outlier"].to_numpy()[far].mean()),
                     bool(np.array_equal(group, base_columns["duplicate_group"].to_numpy())),
                     "none" if not differ else f"{len(differ)}: " + ", ".join(differ[:4])])
    table = md_table(["run", "wall s", "time / one process", "flagged", "flags identical", "Jaccard", "label F1",
                      "probe passes", "near copies found", "their conflicts found", "outliers' Jaccard",
                      "far rows found", "duplicate groups identical",
                      "report.json figures that differ"], rows)
    return f"## {TITLE}\n\n{__doc__.strip()}\n\n{n:,} rows x 64 features.\n\n{table}\n"
