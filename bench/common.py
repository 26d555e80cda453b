"""Shared benchmark helpers: planted problems, scoring, measuring in a fresh process, tables."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import traceback
from typing import Any, Callable

import numpy as np

from dataaudit.timings import peak_rss_mb

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")
SECTIONS = os.path.join(DOCS, "bench")


# ----------------------------------------------------------------------------- data


def make_tabular(n: int, n_features: int = 64, n_classes: int = 2, seed: int = 0, class_sep: float = 1.0):
    """A make_classification set: clusters on hypercube vertices (not linearly separable)."""
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n,
        n_features=n_features,
        n_informative=min(n_features, 16),
        n_redundant=min(max(n_features - 16, 0), 8),
        n_classes=n_classes,
        n_clusters_per_class=2,
        class_sep=class_sep,
        flip_y=0.0,
        random_state=seed,
    )
    return X.astype(np.float32), y.astype(np.int64)


#: KMNIST's test set (real 28 x 28 pictures; CC BY-SA 4.0, attribution in its README).
KMNIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "kmnist")


def kmnist(n: int | None = None):
    """KMNIST's test set: ``(X uint8 (n, 28, 28), y int64)``, the first ``n`` rows."""
    X = np.load(os.path.join(KMNIST, "kmnist-test-imgs.npz"), allow_pickle=False)["arr_0"]
    y = np.load(os.path.join(KMNIST, "kmnist-test-labels.npz"), allow_pickle=False)["arr_0"].astype(np.int64)
    return (X, y) if n is None else (X[:n], y[:n])


def sklearn_dataset(name: str):
    """One of scikit-learn's bundled sets: digits, breast_cancer, wine, iris."""
    from sklearn import datasets

    loader = {"digits": datasets.load_digits, "breast_cancer": datasets.load_breast_cancer,
              "wine": datasets.load_wine, "iris": datasets.load_iris}[name]
    X, y = loader(return_X_y=True)
    return X.astype(np.float64), y.astype(np.int64)


def flip_labels(y: np.ndarray, rate: float, kind: str = "symmetric", seed: int = 0):
    """Plant label noise. Returns ``(noisy_labels, is_flipped)``.

    ``symmetric``: a ``rate`` fraction of samples, chosen at random, get a different label
    drawn uniformly. ``class_conditional``: each class c loses ``rate`` of its samples to
    class ``(c + 1) % K`` (systematic confusion between neighbouring classes).
    """
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    k = int(y.max()) + 1
    noisy = y.copy()
    flipped = rng.random(len(y)) < rate
    if kind == "symmetric":
        offset = rng.integers(1, k, size=len(y))
        noisy[flipped] = (y[flipped] + offset[flipped]) % k
    elif kind == "class_conditional":
        noisy[flipped] = (y[flipped] + 1) % k
    else:
        raise ValueError(kind)
    return noisy, flipped


def prf(flagged: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall and F1 of boolean flags against the planted truth."""
    flagged = np.asarray(flagged, bool)
    truth = np.asarray(truth, bool)
    tp = int((flagged & truth).sum())
    p = tp / max(int(flagged.sum()), 1)
    r = tp / max(int(truth.sum()), 1)
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def cv_logistic_pred_probs(X: np.ndarray, y: np.ndarray, seed: int = 0, folds: int = 5) -> np.ndarray:
    """The reference probe: cross-validated (standardised) LogisticRegression probabilities."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return cross_val_predict(model, X, y, cv=cv, method="predict_proba")


# ----------------------------------------------------------------------------- measuring


def _child(conn, fn, args, kwargs):
    try:
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        seconds = time.perf_counter() - t0
        peak_mb = peak_rss_mb()
        conn.send(("ok", result, seconds, peak_mb))
    except BaseException:  # noqa: BLE001 - reported to the parent
        conn.send(("error", traceback.format_exc(), None, None))
    finally:
        conn.close()


def measure(fn: Callable, *args: Any, timeout: float | None = None, **kwargs: Any) -> dict[str, Any]:
    """Run ``fn(*args, **kwargs)`` in a fresh process: its result, wall seconds and peak RSS (MB).

    ``fn`` must be importable (module level). On timeout the child is killed and
    ``status`` is ``"timeout"``. Peak RSS includes the interpreter and imports.
    """
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args, kwargs))
    t0 = time.perf_counter()
    proc.start()
    child.close()
    if parent.poll(timeout):
        status, result, seconds, peak = parent.recv()
    else:
        status, result, seconds, peak = "timeout", None, None, None
        proc.kill()
    proc.join()
    if status == "error":
        return {"status": "error", "error": result, "result": None, "seconds": None, "peak_mb": None}
    if status == "timeout":
        seconds = time.perf_counter() - t0
    return {"status": status, "result": result, "seconds": seconds, "peak_mb": peak}


# ----------------------------------------------------------------------------- output


def fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def md_table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(fmt(c) for c in row) + " |")
    return "\n".join(lines)
