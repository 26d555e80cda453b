"""Wall time and peak memory at 50k, 200k and 1M rows x 64 features, in fresh processes.

Data: a float32 ``.npy`` file read memory-mapped (as ``dataaudit scan X.npy y.npy`` does),
make_classification-like clusters with 1% planted near duplicates. dataaudit's duplicates
check (neighbour graph + exact hashing + grouping) runs side by side with cleanlab Datalab's
``near_duplicate`` check on the same features; the reference gets a time limit. The full scan
(probe + every check) is timed too. Peak RSS (the process's ``VmHWM``) includes the Python
interpreter and imports. "Planted near dups found": the fraction of the planted pairs' rows
that land in a duplicate group (a neighbour graph with lower recall@k for ordinary
neighbours still finds near duplicates: they fall in the same IVF cell).
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from .common import md_table, measure

TITLE = "Speed and memory at scale"
REFERENCE_TIMEOUT = 300


def write_data(directory: str, n: int, d: int = 64, seed: int = 0) -> tuple[str, str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_centers = 32
    centers = rng.normal(0, 3, size=(n_centers, d)).astype(np.float32)
    x_path, y_path = os.path.join(directory, f"X_{n}.npy"), os.path.join(directory, f"y_{n}.npy")
    X = np.lib.format.open_memmap(x_path, mode="w+", dtype=np.float32, shape=(n, d))
    y = np.empty(n, dtype=np.int64)
    step = 100_000
    for s in range(0, n, step):
        m = min(step, n - s)
        c = rng.integers(0, n_centers, m)
        X[s : s + m] = centers[c] + rng.normal(size=(m, d)).astype(np.float32)
        y[s : s + m] = (c % 2) ^ (rng.random(m) < 0.05)
    n_dup = n // 100
    src = rng.choice(n // 2, n_dup, replace=False)
    dst = n // 2 + rng.choice(n - n // 2, n_dup, replace=False)
    X[dst] = X[src] + rng.normal(0, 1e-4, size=(n_dup, d)).astype(np.float32)
    X.flush()
    del X
    np.save(y_path, y)
    return x_path, y_path, np.sort(np.r_[src, dst])


def dataaudit_scan(x_path: str, y_path: str, checks: str | None, planted: np.ndarray) -> dict:
    from dataaudit.files import scan_files

    report = scan_files(x_path, y_path, checks=checks)
    grouped = report.samples["duplicate_group"].to_numpy() >= 0
    return {
        "found": float(grouped[planted].mean()),
        "probe": report.summary.get("probe", {}).get("model"),
        "recall": report.summary.get("neighbors", {}).get("recall_at_k"),
    }


def datalab_near_duplicates(x_path: str, y_path: str, planted: np.ndarray) -> dict:
    from cleanlab import Datalab

    X = np.load(x_path)
    y = np.load(y_path)
    lab = Datalab(data={"y": y}, label_name="y", verbosity=0)
    lab.find_issues(features=X, issue_types={"near_duplicate": {}})
    return {"found": float(lab.get_issues()["is_near_duplicate_issue"].to_numpy(bool)[planted].mean())}


def run(quick: bool = False) -> str:
    sizes = [2_000] if quick else [50_000, 200_000, 1_000_000]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            x_path, y_path, planted = write_data(tmp, n)
            ours = measure(dataaudit_scan, x_path, y_path, "duplicates", planted)
            if ours["status"] != "ok":
                raise RuntimeError(f"dataaudit failed at n={n}: {ours.get('error')}")
            if n <= 200_000:
                ref = measure(datalab_near_duplicates, x_path, y_path, planted, timeout=REFERENCE_TIMEOUT)
            else:
                ref = {"status": "not run (over 200k it does not finish in minutes)", "seconds": None, "peak_mb": None}
            ratio = ours["seconds"] / ref["seconds"] if ref["status"] == "ok" else None
            ref_time = ref["seconds"] if ref["status"] == "ok" else f"> {REFERENCE_TIMEOUT} s (timed out)" if ref["status"] == "timeout" else ref["status"]
            rows.append([
                f"{n:,} x 64", "duplicates (near + exact)", ours["seconds"], ours["peak_mb"],
                ours["result"]["recall"], ours["result"]["found"], ref_time, ref.get("peak_mb"),
                ref["result"]["found"] if ref["status"] == "ok" else None, ratio,
            ])
            full = measure(dataaudit_scan, x_path, y_path, None, planted)
            if full["status"] != "ok":
                raise RuntimeError(f"dataaudit full scan failed at n={n}: {full.get('error')}")
            rows.append([f"{n:,} x 64", f"full scan (probe: {full['result']['probe']})", full["seconds"], full["peak_mb"],
                         full["result"]["recall"], full["result"]["found"], None, None, None, None])
            os.unlink(x_path)
    table = md_table(
        ["data", "dataaudit run", "seconds", "peak RSS MB", "graph recall@k", "planted near dups found",
         "Datalab near_duplicate, s", "Datalab peak MB", "Datalab planted found", "time ratio dataaudit / Datalab"],
        rows,
    )
    return f"## {TITLE}\n\n{__doc__.strip()}\n\n{table}\n"
