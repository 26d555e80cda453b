"""Label noise by confident learning (cleanlab) on out-of-sample probe probabilities."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..confident import DEFAULT_FILTER, find_issues
from .base import MAX_LISTED, NEED_PROBE, CheckInputs, CheckResult, Finding, RowCause, RowVerdict, severity

NAME = "label_issues"
TITLE = "Likely mislabeled"
NEEDS: frozenset[str] = frozenset({NEED_PROBE})
METRICS = ("label_issues", "label_issues_count")
#: The columns a report lists beside each flagged row.
SHOWN = ("label", "suggested_label", "label_quality")
#: The share of flagged samples that makes the finding a warning, and critical.
SEVERITY = {"warning": 0.01, "critical": 0.05}
#: From this share of flagged samples on, the probe's "a stronger probe is available" advice is added.
STRONGER_PROBE_FROM = 0.05
#: The given-vs-suggested matrix is kept for at most this many classes (K x K numbers).
MAX_CONFUSION_CLASSES = 30
#: Label pairs listed in the figures.
MAX_PAIRS_LISTED = 20


def confused_pairs(given: np.ndarray, suggested: np.ndarray, flagged: np.ndarray, n_classes: int) -> list[tuple[int, int, int]]:
    """Counts of (given, suggested) label pairs among flagged samples, most frequent first.

    Examples
    --------
    >>> confused_pairs(np.array([0, 0, 1, 1]), np.array([1, 1, 0, 1]), np.array([True, True, True, False]), 2)
    [(0, 1, 2), (1, 0, 1)]
    """
    key = given[flagged] * n_classes + suggested[flagged]
    uniq, cnt = np.unique(key, return_counts=True)
    order = np.lexsort((uniq, -cnt))
    return [(int(uniq[i] // n_classes), int(uniq[i] % n_classes), int(cnt[i])) for i in order]


def suggested_labels(labels: np.ndarray, pred_probs: np.ndarray, flagged: np.ndarray) -> np.ndarray:
    """The most likely label; for a flagged sample the most likely *other* label.

    Examples
    --------
    >>> p = np.array([[0.6, 0.3, 0.1], [0.6, 0.3, 0.1]])
    >>> suggested_labels(np.array([0, 0]), p, np.array([False, True])).tolist()
    [0, 1]
    """
    masked = pred_probs.copy()
    masked[np.arange(len(labels)), labels] = -1.0
    return np.where(flagged, masked.argmax(axis=1), pred_probs.argmax(axis=1))


def run(inputs: CheckInputs, *, filter_by: str = DEFAULT_FILTER) -> CheckResult:
    """Flag samples whose given label is likely wrong.

    ``is_label_issue`` is cleanlab's ``find_label_issues`` verdict (``filter_by`` as in cleanlab);
    ``label_quality`` is cleanlab's self-confidence score (the probe's out-of-sample
    probability of the given label, 0..1, low = likely wrong); ``suggested_label`` the most
    likely label under the probe. Rows without probabilities (``inputs.judged``) are not judged:
    ``label_quality`` NaN, never flagged. Row verdict: a flagged sample's weight factor is its
    ``label_quality`` (a soft drop), the cleaned data leaves it out, and
    ``clean_data(relabel=True)`` keeps it with its ``suggested_label``.
    """
    from cleanlab.rank import get_label_quality_scores

    labels = inputs.labels
    probs = inputs.pred_probs
    n, k = inputs.n_samples, inputs.n_classes
    # Rows without predicted probabilities (a training record of a subset) are not judged.
    judged = np.arange(n) if inputs.judged is None else np.flatnonzero(inputs.judged)
    flagged = np.zeros(n, dtype=bool)
    flagged[judged] = find_issues(labels[judged], probs[judged], filter_by=filter_by)
    quality = np.full(n, np.nan)
    quality[judged] = get_label_quality_scores(labels[judged], probs[judged], method="self_confidence")
    suggested = labels.copy()
    suggested[judged] = suggested_labels(labels[judged], probs[judged], flagged[judged])
    predicted = labels.copy()
    predicted[judged] = probs[judged].argmax(axis=1)

    worst = np.flatnonzero(flagged)
    worst = worst[np.argsort(quality[worst], kind="stable")][:MAX_LISTED]
    figures, metrics, findings = summarize(
        np.bincount(labels, minlength=k), np.bincount(labels[flagged], minlength=k),
        confused_pairs(labels, suggested, flagged, k),
        [(int(i), int(labels[i]), int(suggested[i]), float(quality[i])) for i in worst],
        inputs.label_name, inputs.probe_info)
    columns = {
        "predicted_label": inputs.classes[predicted],
        "label_quality": quality,
        "is_label_issue": flagged,
        "suggested_label": inputs.classes[suggested],
    }
    rows = RowVerdict(
        flag=flagged,
        score=np.nan_to_num(quality, nan=1.0),
        weight=np.where(flagged, quality, 1.0),
        exclude=flagged,
        relabel=np.where(flagged, suggested, -1),
        shown=SHOWN,
        cause=RowCause.LABEL_NOISE,
    )
    return CheckResult(name=NAME, rows=rows, columns=columns, figures=figures, metrics=metrics, findings=findings)


def summarize(counts: np.ndarray, per_class: np.ndarray, pairs: list[tuple[int, int, int]],
              worst: list[tuple[int, int, int, float]], label_name: Callable[[int], Any],
              probe_info: dict[str, Any]) -> tuple[dict, dict, list[Finding]]:
    """The check's figures, metrics and findings from sums over the rows: the class counts, the
    flagged rows per class, the (given, suggested) pairs among them (:func:`confused_pairs`)
    and the worst flagged rows, lowest ``label_quality`` first, as (index, given, suggested,
    quality); a cluster's scan merges these over its partitions."""
    n, k = int(counts.sum()), len(counts)
    n_flagged = int(per_class.sum())
    rate = n_flagged / n
    matrix = None
    if k <= MAX_CONFUSION_CLASSES:
        matrix = [[0] * k for _ in range(k)]
        for g, s, c in pairs:
            matrix[g][s] = c
    figures = {
        "n_label_issues": n_flagged,
        "estimated_noise_rate": round(rate, 6),
        "per_class": [
            {
                "label": label_name(c),
                "count": int(counts[c]),
                "n_issues": int(per_class[c]),
                "noise_rate": round(float(per_class[c] / counts[c]), 6) if counts[c] else 0.0,
            }
            for c in range(k)
        ],
        "confused_pairs": [
            {"given": label_name(g), "suggested": label_name(s), "count": c}
            for g, s, c in pairs[:MAX_PAIRS_LISTED]
        ],
        "confusion": {"labels": [label_name(c) for c in range(k)], "given_vs_suggested": matrix},
        "probe_accuracy": probe_info.get("out_of_sample_accuracy"),
        "worst": [
            {"index": i, "given": label_name(given), "suggested": label_name(suggest),
             "label_quality": round(quality, 6)}
            for i, given, suggest, quality in worst
        ],
    }
    findings = []
    if n_flagged:
        top = ", ".join(f"{label_name(g)!r}->{label_name(s)!r} ({c})" for g, s, c in pairs[:3])
        stronger = probe_info.get("stronger_probe_advice") if rate >= STRONGER_PROBE_FROM else None
        broken = probe_info.get("broken_run")
        findings.append(
            Finding(
                check=NAME,
                severity="info" if broken else severity(rate, **SEVERITY),
                count=n_flagged,
                message=f"{n_flagged} samples ({rate:.1%}) look mislabeled; most often {top}",
                advice=(
                    f"Not a verdict to act on: these come from a run that broke at epoch {broken['epoch']} (see the "
                    "training findings), and the rows it lost with its weights look mislabeled to it. Rescan a run "
                    "that trains cleanly, or let a probe judge the labels (model=\"auto\")."
                ) if broken else (
                    "Wrong labels put a floor under the training loss: it stops falling, validation accuracy "
                    "plateaus, and with enough epochs the network memorises the wrong labels, so validation "
                    "accuracy rises then falls (early stopping only hides it). Review and relabel the flagged "
                    "samples (samples.csv, sorted by label_quality; suggested_label is the probe's guess), or "
                    "train with report.sample_weight() (sample_weight.npy), or on report.clean_split() "
                    "(split.npz), which leaves them out." + (f" {stronger}" if stronger else "")
                ),
            )
        )
    metrics = {"label_issues": rate, "label_issues_count": float(n_flagged)}
    return figures, metrics, findings
