"""Bounded memory: the whole audit on a LocalCluster whose workers may hold less than the data.

Run by hand, one size at a time (each takes minutes to an hour here), then the table:

    python -m bench.bounded prepare /work/tmp/b5m 5000000          # planted shards (bench.growth)
    python -m bench.bounded scan /work/tmp/b5m                       # -> /work/tmp/b5m/result.json
    python -m bench.bounded table /work/tmp/b5m /work/tmp/b20m ...   # markdown for docs/benchmarks.md

``scan`` starts a LocalCluster of 2 single-threaded worker processes limited to 2 GB each
(``memory_limit``: Dask spills at 60%, pauses at 80% and restarts a worker at 95% of it), and runs
what ``dataaudit scan X/ y/ --scheduler tcp://... --out OUT`` runs (``dataaudit.files.scan_files``
with the cluster's address: the CLI's path, every default check). Measured: wall time, each
stage's time (``timings.json``), the cluster's memory every 0.5 s (``distributed.diagnostics.
MemorySampler``: the sum of the workers' process memory), the driver's peak resident memory, the
workers that left (a restart for memory shows as a worker leaving), and the planted problems found
(label F1, near copies and their conflicts, far rows).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import time

import numpy as np

from .common import md_table, prf
from .growth import write_planted

#: Rows per shard file.
SHARD_ROWS = 1_000_000


def prepare(directory: str, n: int, d: int = 64) -> None:
    """Planted data (``bench.growth.write_planted``) as folders of ``.npy`` shards ``X/`` and ``y/``."""
    os.makedirs(directory, exist_ok=True)
    x_path, y_path, _ = write_planted(directory, n, d)
    X, y = np.load(x_path, mmap_mode="r"), np.load(y_path)
    for name in ("X", "y"):
        os.makedirs(os.path.join(directory, name), exist_ok=True)
    for part, s in enumerate(range(0, n, SHARD_ROWS)):
        np.save(os.path.join(directory, "X", f"part-{part:04d}.npy"), np.asarray(X[s : s + SHARD_ROWS]))
        np.save(os.path.join(directory, "y", f"part-{part:04d}.npy"), y[s : s + SHARD_ROWS])
    del X
    os.remove(x_path)
    os.remove(y_path)


def scan(directory: str, workers: int = 2, memory: str = "2GB") -> dict:
    """One bounded run on ``directory`` (made by :func:`prepare`); the result, also in ``result.json``."""
    import logging

    from distributed import Client, LocalCluster
    from distributed.diagnostics import MemorySampler

    from dataaudit.files import scan_files

    out = os.path.join(directory, "audit")
    shutil.rmtree(out, ignore_errors=True)
    sampler = MemorySampler()
    t0 = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, memory_limit=memory, dashboard_address=":0",
                      silence_logs=logging.WARNING) as cluster, Client(cluster) as watcher:
        started = set(watcher.scheduler_info()["workers"])
        with sampler.sample("run", client=watcher, interval=0.5):
            scan_files(os.path.join(directory, "X"), os.path.join(directory, "y"), out=out,
                       scheduler=cluster.scheduler_address)
        seconds = time.perf_counter() - t0
        ended = set(watcher.scheduler_info()["workers"])
        log = [line for _, line in watcher.get_scheduler_logs(n=10_000)]
    frame = sampler.to_pandas()
    leaving = [line for line in log if "Remove worker" in line or "restart" in line.lower()]
    result = {
        "n": None, "d": None, "workers": workers, "memory_limit": memory, "seconds": seconds,
        "cluster_peak_gb": float(frame["run"].max() / 1e9) if len(frame) else None,
        "driver_peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
        "workers_replaced": len(started ^ ended), "worker_removals_logged": len(leaving),
        "timings": json.load(open(os.path.join(out, "timings.json"))),
    }
    result.update(_found(directory, out))
    with open(os.path.join(directory, "result.json"), "w") as f:
        json.dump(result, f, indent=1)
    return result


def _found(directory: str, out: str) -> dict:
    import pandas as pd

    planted = np.load(os.path.join(directory, "planted.npz"))
    samples = pd.read_parquet(os.path.join(out, "samples.parquet"),
                              columns=["is_label_issue", "duplicate_group", "is_conflicting_duplicate", "is_outlier"])
    n = len(samples)
    truth = np.zeros(n, bool)
    truth[planted["flipped"]] = True
    group = samples["duplicate_group"].to_numpy()
    summary = json.load(open(os.path.join(out, "report.json")))
    return {
        "n": n, "d": summary["dataset"]["n_features"],
        "label_f1": prf(samples["is_label_issue"].to_numpy(), truth)[2],
        "copies_found": float((group[np.r_[planted["sources"], planted["copies"]]] >= 0).mean()),
        "conflicts_found": float(samples["is_conflicting_duplicate"].to_numpy()[planted["conflicting"]].mean()),
        "far_rows_found": float(samples["is_outlier"].to_numpy()[planted["far"]].mean()),
        "outliers_flagged": int(samples["is_outlier"].sum()),
    }


def table(results: list[dict]) -> str:
    rows = []
    for r in results:
        slow = sorted(((v, k) for k, v in _stage_seconds(r).items()), reverse=True)[:3]
        rows.append([f"{r['n']:,} x {r['d']}", r["seconds"], r["cluster_peak_gb"], r["driver_peak_gb"],
                     r["workers_replaced"], r["worker_removals_logged"], r["label_f1"], r["copies_found"],
                     r["conflicts_found"], r["far_rows_found"], ", ".join(f"{k} {s:.0f} s" for s, k in slow)])
    return md_table(["rows x features", "wall s", "cluster peak GB", "driver peak GB", "workers replaced",
                     "removals in the scheduler's log", "label F1", "near copies found", "their conflicts found",
                     "far rows found", "slowest stages"], rows)


#: Rows and workers the scaling table projects to.
PROJECTED = ((100_000_000, 32), (100_000_000, 256), (1_000_000_000, 32), (1_000_000_000, 256))


def _stage_seconds(result: dict) -> dict[str, float]:
    """Each stage's seconds, and the writing of the files (the wall time the stages leave)."""
    stages = {s["stage"]: float(s["seconds"]) for s in result["timings"]["stages"]}
    stages["write --out"] = max(result["seconds"] - sum(stages.values()), 0.0)
    return stages


def scaling(small: dict, large: dict) -> str:
    """The scaling table: each stage as a fixed part plus a part per row (fitted through the two
    sizes measured on the same workers), rows per worker-second, and the projected time of
    larger runs when the part per row is spread over more workers and the fixed part is not."""
    a, b = _stage_seconds(small), _stage_seconds(large)
    workers = large["workers"]
    rows, totals = [], {p: 0.0 for p in PROJECTED}
    for stage in b:
        if stage not in a:
            continue
        per_row = max((b[stage] - a[stage]) / (large["n"] - small["n"]), 0.0)
        fixed = max(a[stage] - per_row * small["n"], 0.0)
        rate = 1.0 / (per_row * workers) if per_row > 0 else float("inf")
        projected = [fixed + per_row * n * workers / w for n, w in PROJECTED]
        for p, t in zip(PROJECTED, projected):
            totals[p] += t
        rows.append([stage, a[stage], b[stage], b[stage] / max(a[stage], 1e-9), f"{rate:,.0f}", fixed,
                     *[f"{t / 60:,.1f}" for t in projected]])
    rows.append(["total", sum(a.values()), sum(b.values()), sum(b.values()) / sum(a.values()), "", "",
                 *[f"{totals[p] / 60:,.1f}" for p in PROJECTED]])
    head = ["stage", f"s at {small['n'] / 1e6:g}M", f"s at {large['n'] / 1e6:g}M", "ratio", "rows per worker-second",
            "fixed s", *[f"min at {n / 1e6:,.0f}M on {w}" for n, w in PROJECTED]]
    return md_table(head, rows)


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    if command == "prepare":
        prepare(rest[0], int(rest[1]), int(rest[2]) if len(rest) > 2 else 64)
    elif command == "scan":
        print(json.dumps(scan(rest[0]), indent=1))
    elif command == "table":
        results = [json.load(open(os.path.join(d, "result.json"))) for d in rest]
        print(table(results))
        if len(results) >= 2:
            print()
            print(scaling(results[0], results[1]))
    else:
        sys.exit(f"unknown command {command!r}: prepare, scan or table")
