"""Growth with the number of rows: 1M and 5M rows x 64 (20M when asked), the whole command.

``dataaudit scan X.npy y.npy --out DIR`` in a fresh process on float32 ``.npy`` files read
memory-mapped, every default check. Data: 20 Gaussian clusters in 64 dimensions, the label
the cluster's parity, with planted problems recorded beside the files: 5% of the labels flipped,
0.5% of the rows near copies (noise 1e-4) of rows in the other half, half of the copies carrying
the other label, and 0.01% far rows (every feature 12 standard deviations out). Per size: wall
time, peak memory of the process, each stage's time from ``timings.json``, label-issue F1 on the
flips, the planted near copies found (their rows in a duplicate group), their conflicts found,
and the far rows flagged as outliers. The target: 5M at most 5 x the 1M time (linear growth).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from .common import md_table, prf

TITLE = "Growth with rows (1M -> 5M)"
CHUNK = 500_000


def write_planted(directory: str, n: int, d: int = 64, seed: int = 0) -> tuple[str, str, str]:
    """``X.npy`` (float32, written in chunks), ``y.npy`` and ``planted.npz`` (flipped, copies,
    their sources, conflicting copies, far rows) in ``directory``."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, size=(20, d)).astype(np.float32)
    x_path, y_path = os.path.join(directory, "X.npy"), os.path.join(directory, "y.npy")
    X = np.lib.format.open_memmap(x_path, mode="w+", dtype=np.float32, shape=(n, d))
    y = np.empty(n, dtype=np.int64)
    flipped = np.zeros(n, dtype=bool)
    for s in range(0, n, CHUNK):
        m = min(CHUNK, n - s)
        c = rng.integers(0, len(centers), m)
        X[s : s + m] = centers[c] + rng.normal(size=(m, d)).astype(np.float32)
        flipped[s : s + m] = rng.random(m) < 0.05
        y[s : s + m] = (c % 2) ^ flipped[s : s + m]
    n_copies = n // 200
    sources = np.sort(rng.choice(n // 2, n_copies, replace=False))
    copies = n // 2 + np.sort(rng.choice(n - n // 2, n_copies, replace=False))
    X[copies] = X[sources] + rng.normal(0, 1e-4, size=(n_copies, d)).astype(np.float32)
    conflicting = rng.random(n_copies) < 0.5
    y[copies] = np.where(conflicting, 1 - y[sources], y[sources])
    # A copy's label is what it is now: a flip planted on it before no longer counts.
    flipped[copies] = False
    flipped[sources] &= ~conflicting
    taken = np.zeros(n, bool)
    taken[sources] = taken[copies] = True
    far = np.sort(rng.choice(np.flatnonzero(~taken), max(8, n // 10_000), replace=False))
    X[far] = 12 * np.sign(rng.normal(size=(len(far), d))).astype(np.float32)
    flipped[far] = False
    X.flush()
    del X
    np.save(y_path, y)
    planted = os.path.join(directory, "planted.npz")
    np.savez(planted, flipped=np.flatnonzero(flipped), sources=sources, copies=copies,
             conflicting=copies[conflicting], far=far)
    return x_path, y_path, planted


def scan_command(x_path: str, y_path: str, out: str, extra: tuple[str, ...] = ()) -> float:
    """The command in a fresh process; its wall seconds (raises on a non-zero exit)."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "dataaudit", "scan", x_path, y_path, "--out", out, "--format", "json",
                           *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode not in (0, 1) or not os.path.exists(os.path.join(out, "report.json")):
        raise RuntimeError(f"scan exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds


def samples_columns(out: str, columns: list[str]) -> dict[str, np.ndarray]:
    """Columns of the samples table (``samples.csv`` or the partitioned ``samples.parquet``)."""
    import pandas as pd

    csv = os.path.join(out, "samples.csv")
    if os.path.exists(csv):
        table = pd.read_csv(csv, usecols=columns)
    else:
        table = pd.read_parquet(os.path.join(out, "samples.parquet"), columns=columns)
    return {c: table[c].to_numpy() for c in columns}


def score(out: str, planted_path: str, n: int) -> dict[str, float]:
    """Label F1 on the flips, near copies found and their conflicts, far rows flagged."""
    planted = np.load(planted_path)
    cols = samples_columns(out, ["is_label_issue", "duplicate_group", "is_conflicting_duplicate", "is_outlier"])
    truth = np.zeros(n, bool)
    truth[planted["flipped"]] = True
    copies = np.r_[planted["sources"], planted["copies"]]
    conflicting = planted["conflicting"]
    return {
        "label_f1": prf(cols["is_label_issue"], truth)[2],
        "copies_found": float((cols["duplicate_group"][copies] >= 0).mean()),
        "conflicts_found": float(cols["is_conflicting_duplicate"][conflicting].mean()),
        "far_flagged": float(cols["is_outlier"][planted["far"]].mean()),
    }


def one_size(n: int, directory: str, extra: tuple[str, ...] = ()) -> dict:
    x_path, y_path, planted = write_planted(directory, n)
    out = os.path.join(directory, "audit")
    seconds = scan_command(x_path, y_path, out, extra)
    with open(os.path.join(out, "timings.json"), encoding="utf-8") as fh:
        timings = json.load(fh)
    with open(os.path.join(out, "report.json"), encoding="utf-8") as fh:
        neighbours = json.load(fh).get("neighbors", {})
    return {"n": n, "seconds": seconds, "timings": timings, "recall": neighbours.get("recall_at_k"),
            "distance_ratio": neighbours.get("distance_ratio"), **score(out, planted, n)}


def run(quick: bool = False, sizes: tuple[int, ...] | None = None) -> str:
    sizes = sizes or ((20_000, 60_000) if quick else (1_000_000, 5_000_000))
    results = []
    for n in sizes:
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
            results.append(one_size(n, tmp))
            print(f"   growth {n:,}: {results[-1]['seconds']:.0f} s", file=sys.stderr, flush=True)
    stages = [s for s in results[-1]["timings"]["stages"]]
    rows = []
    for r in results:
        rows.append([f"{r['n']:,} x 64", r["seconds"], r["timings"]["peak_rss_mb"], r["label_f1"], r["copies_found"],
                     r["conflicts_found"], r["far_flagged"], r["recall"], r["distance_ratio"]])
    table = md_table(["rows", "wall s (command)", "peak MB", "label F1", "near copies found", "their conflicts found",
                      "far rows flagged", "graph recall@10", "distance ratio"], rows)
    stage_rows = []
    for s in stages:
        name = s["stage"]
        times = [next((x["seconds"] for x in r["timings"]["stages"] if x["stage"] == name), None) for r in results]
        growth = times[-1] / times[0] if times[0] and times[-1] is not None and len(times) > 1 else None
        stage_rows.append([name, *times, growth])
    total = [r["seconds"] for r in results]
    stage_rows.append(["whole command", *total, total[-1] / total[0] if len(total) > 1 else None])
    stage_table = md_table(["stage", *[f"{r['n']:,} s" for r in results], "growth"], stage_rows)
    ratio = results[-1]["n"] / results[0]["n"]
    sizes_text = " -> ".join(f"{r['n']:,}" for r in results)
    return (f"## {TITLE}\n\n{__doc__.strip()}\n\n{table}\n\nEach stage ({sizes_text}, {ratio:.0f} x the rows; "
            f"`timings.json`):\n\n{stage_table}\n")
