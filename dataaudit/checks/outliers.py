"""Feature-space outliers, scored on the shared kNN graph."""

from __future__ import annotations

import numpy as np

from ..utils import tukey_fence
from .base import MAX_LISTED, NEED_NEIGHBORS, CheckInputs, CheckResult, Finding, RowVerdict, severity

NAME = "outliers"
TITLE = "Outliers"
NEEDS: frozenset[str] = frozenset({NEED_NEIGHBORS})
METRICS = ("outliers", "outliers_count")
#: The share of outliers that makes the finding a warning.
SEVERITY = {"warning": 0.01}


def knn_outlier_scores(indices: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """How much further a sample is from its neighbours than they are from theirs.

    ``score_i = mean_kNN_distance_i / median_j(mean_kNN_distance_j)`` over i's neighbours j
    (a local-density ratio, like LOF's): ~1 inside the data, large for a sample far from any
    cluster, whatever the cluster's own density.

    Examples
    --------
    >>> idx = np.array([[1, 2], [0, 2], [0, 1], [0, 1]])
    >>> dist = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [10.0, 10.0]])
    >>> knn_outlier_scores(idx, dist).round(1).tolist()
    [1.0, 1.0, 1.0, 10.0]
    """
    reach = distances.mean(axis=1).astype(np.float64)
    ref = np.median(reach[indices], axis=1)
    floor = max(float(np.median(reach)) * 1e-3, 1e-12)  # duplicates: distance 0
    return reach / np.maximum(ref, floor)


def run(
    inputs: CheckInputs, *, local_minimum: float = 3.0, global_minimum: float = 6.0, weight: float = 0.5
) -> CheckResult:
    """Flag samples far from their neighbourhood, or far from the data as a whole.

    Two views, because each misses what the other sees: the *local* ratio
    (:func:`knn_outlier_scores`) catches a sample far from a cluster whatever the cluster's
    density, but not a small clump of outliers that are each other's neighbours; the
    *global* ratio (mean kNN distance / its median over all samples) catches the clump.
    Each is cut at Tukey's far-out fence of its own distribution (Q3 + 3 IQR), at least
    ``local_minimum`` / ``global_minimum``. ``outlier_score`` is the larger of the two ratios,
    each divided by its threshold: above 1 means outlier. Row verdict: an outlier's weight
    factor is ``weight``, and the cleaned data leaves it out.
    """
    graph = inputs.neighbors
    local = knn_outlier_scores(graph.indices, graph.distances)
    reach = graph.distances.mean(axis=1).astype(np.float64)
    glob = reach / max(float(np.median(reach)), 1e-12)
    t_local = tukey_fence(local, 3.0, floor=local_minimum)
    t_global = tukey_fence(glob, 3.0, floor=global_minimum)
    scores = np.maximum(local / t_local, glob / t_global)
    flagged = scores > 1.0
    order = np.argsort(-scores, kind="stable")[:MAX_LISTED]
    figures = {
        "threshold": 1.0,
        "rule": (
            f"local ratio (mean kNN distance / neighbours' median) > max({local_minimum:g}, Q3 + 3 IQR), or "
            f"global ratio (mean kNN distance / overall median) > max({global_minimum:g}, Q3 + 3 IQR)"
        ),
        "local_threshold": round(t_local, 6),
        "global_threshold": round(t_global, 6),
        "n_outliers": int(flagged.sum()),
        "k": graph.k,
        "worst": [
            {"index": int(i), "label": inputs.label_name(inputs.labels[i]), "outlier_score": round(float(scores[i]), 6)}
            for i in order
            if flagged[i]
        ],
    }
    findings = []
    if flagged.any():
        findings.append(
            Finding(
                check=NAME,
                severity=severity(flagged.mean(), **SEVERITY),
                count=int(flagged.sum()),
                message=f"{int(flagged.sum())} samples ({flagged.mean():.2%}) lie far from the rest of the data",
                advice=(
                    "Samples far from everything else are often broken inputs (wrong units, sensor glitches, "
                    "corrupt images) or a distribution the model will not see again; a few of them can "
                    "destabilise training. Inspect them (samples.csv sorted by outlier_score), fix or drop the "
                    "broken ones; report.sample_weight() down-weights them."
                ),
            )
        )
    rows = RowVerdict(
        flag=flagged,
        score=1.0 / (1.0 + scores),
        weight=np.where(flagged, weight, 1.0),
        exclude=flagged,
        shown=("label", "outlier_score"),
    )
    metrics = {"outliers": float(flagged.mean()), "outliers_count": float(flagged.sum())}
    return CheckResult(name=NAME, rows=rows, columns={"outlier_score": scores, "is_outlier": flagged},
                       figures=figures, metrics=metrics, findings=findings)
