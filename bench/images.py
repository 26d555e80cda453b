"""Image-shaped (wide) inputs: full scan time and label-issue F1, and what each probe option costs.

Data: scikit-learn's 8 x 8 digits upsampled with ``scipy.ndimage.zoom`` to 28 x 28 (and to
32 x 32 x 3 by stacking the grey image as three channels), scaled to 0..255, sampled with
replacement to 10k and 60k rows with faint pixel jitter (Gaussian, sd 8 grey levels; without it
the sampled copies are exact duplicates and the duplicates check, not the probe, finds the
flips), stored as uint8. 10% symmetric label noise (``flip_labels``, seed 0). "Full scan":
``dataaudit.scan(X, y)`` with every check and the default ``model="auto"``, in a fresh process.

Probe options (one pass, out-of-fold probabilities on 10k x 28 x 28 fed to confident learning,
the probe alone, every option in the same run): the members of the large ensemble before
(boosting + three networks on the raw pixels), boosting left out (today's default above 256
features), a PCA fitted in each fold in front of every member, and boosting on a PCA with the
networks on the raw pixels. Boosting on 784 raw features costs most of the time and adds
nothing the networks do not already give.
"""

from __future__ import annotations

import time

import numpy as np

from .common import flip_labels, md_table, measure, prf

TITLE = "Images and other wide inputs"
#: The previous default (boosting on raw pixels) may not finish in minutes on a busy machine.
OPTION_TIMEOUT = 900


def digits_images(n: int, size: int = 28, channels: int = 1, seed: int = 0, noise: float = 0.10):
    """``(X uint8 (n, size, size[, channels]), noisy labels, is_flipped, true labels)``."""
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    digits = load_digits()
    big = np.stack([zoom(im, size / 8, order=1) for im in digits.images])
    big = np.clip(big / 16 * 255, 0, 255)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(big), n, replace=n > len(big))
    X = np.clip(big[idx] + rng.normal(0, 8, (n, size, size)), 0, 255).astype(np.uint8)
    if channels > 1:
        X = np.repeat(X[..., None], channels, axis=-1)
    y = digits.target[idx].astype(np.int64)
    noisy, flipped = flip_labels(y, noise, "symmetric", seed)
    return X, noisy, flipped, y


def full_scan(n: int, size: int, channels: int) -> dict:
    import dataaudit

    X, y, flipped, _ = digits_images(n, size, channels)
    t0 = time.perf_counter()
    report = dataaudit.scan(X, y, random_state=0)
    seconds = time.perf_counter() - t0
    p, r, f = prf(report.samples["is_label_issue"].to_numpy(bool), flipped)
    probe = report.summary.get("probe", {})
    return {"seconds": seconds, "p": p, "r": r, "f1": f, "members": probe.get("model"),
            "accuracy": probe.get("out_of_sample_accuracy")}


def _option_estimators(option: str, n: int):
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline

    from dataaudit.probe import build_member

    networks = [build_member("mlp_64x2", n, i + 1) for i in range(3)]
    boosting = build_member("hgb_50", n, 0)  # n_features not given: on the raw pixels
    pca = PCA(64, svd_solver="randomized", random_state=0)
    if option == "boosting + 3 networks, raw pixels (before)":
        return [boosting, *networks]
    if option == "3 networks, raw pixels (default above 256 features)":
        return networks
    if option == "PCA-64 per fold, then boosting + 3 networks":
        return [make_pipeline(pca, boosting), *(make_pipeline(pca, m) for m in networks)]
    if option == "PCA-64 per fold, then 3 networks":
        return [make_pipeline(pca, m) for m in networks]
    if option == "boosting on PCA-64 + 3 networks, raw pixels":
        return [make_pipeline(pca, boosting), *networks]
    raise ValueError(option)


OPTIONS = [
    "boosting + 3 networks, raw pixels (before)",
    "3 networks, raw pixels (default above 256 features)",
    "PCA-64 per fold, then boosting + 3 networks",
    "PCA-64 per fold, then 3 networks",
    "boosting on PCA-64 + 3 networks, raw pixels",
]


def probe_option(option: str, n: int) -> dict:
    from dataaudit.confident import find_issues
    from dataaudit.probe import ProbePlan, n_folds_for, run_probe

    X, y, flipped, truth = digits_images(n)
    X = X.reshape(n, -1).astype(np.float32)
    estimators = tuple(_option_estimators(option, n))
    model = ProbePlan("option", estimators, None, n_folds_for(np.bincount(y)), 1)
    t0 = time.perf_counter()
    result = run_probe(X, y, 10, model, random_state=0)
    seconds = time.perf_counter() - t0
    p, r, f = prf(find_issues(y, result.pred_probs), flipped)
    return {"seconds": seconds, "f1": f, "agree": float((result.pred_probs.argmax(axis=1) == truth).mean())}


def run(quick: bool = False) -> str:
    scans = [(6_000, 28, 1)] if quick else [(10_000, 28, 1), (10_000, 32, 3), (60_000, 28, 1)]
    rows = []
    for n, size, channels in scans:
        m = measure(full_scan, n, size, channels)
        if m["status"] != "ok":
            raise RuntimeError(f"full scan failed on {n} x {size} x {size} x {channels}: {m.get('error')}")
        res = m["result"]
        shape = f"{size} x {size}" + (f" x {channels}" if channels > 1 else "")
        rows.append([f"{n:,} x {shape} (uint8)", res["members"], m["seconds"], m["peak_mb"], res["accuracy"],
                     res["p"], res["r"], res["f1"]])
    table = md_table(["data", "probe", "full scan, s", "peak RSS MB", "probe out-of-sample accuracy",
                      "label issues P", "R", "F1"], rows)
    section = f"## {TITLE}\n\n{__doc__.strip()}\n\n{table}\n"
    if quick:
        return section
    option_rows = []
    base = None
    for option in OPTIONS:
        m = measure(probe_option, option, 10_000, timeout=OPTION_TIMEOUT)
        if m["status"] != "ok":
            option_rows.append([option, f"> {OPTION_TIMEOUT} s" if m["status"] == "timeout" else m["status"], None, None, None])
            continue
        res = m["result"]
        base = base or res["seconds"]
        option_rows.append([option, res["seconds"], res["seconds"] / base, res["agree"], res["f1"]])
    options = md_table(["probe option (10k x 28 x 28, one pass)", "seconds", "time / before",
                        "agrees with true labels", "label-issue F1"], option_rows)
    return section + "\n" + options + "\n"
