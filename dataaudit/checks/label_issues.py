"""Label noise by confident learning (cleanlab) on out-of-sample probe probabilities."""

from __future__ import annotations

import numpy as np

from ..probe import BUILTIN, SMALL_N, STRONG_PASSES
from .base import NEED_PROBE, CheckInputs, CheckResult, Finding

NAME = "label_issues"
NEEDS: frozenset[str] = frozenset({NEED_PROBE})
METRICS = ("label_issues", "label_issues_count")

MAX_LISTED = 50


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


def find_issues(labels: np.ndarray, pred_probs: np.ndarray, *, filter_by: str = "prune_by_noise_rate") -> np.ndarray:
    """Confident learning's verdict per sample: cleanlab's ``find_label_issues`` on the
    classes present in ``labels`` (cleanlab needs every column's class to occur).

    Examples
    --------
    >>> probs = np.array([[0.9, 0.1]] * 5 + [[0.1, 0.9]] * 5)
    >>> find_issues(np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1]), probs).nonzero()[0].tolist()
    [4]
    """
    from cleanlab.filter import find_label_issues

    k = pred_probs.shape[1]
    present = np.flatnonzero(np.bincount(labels, minlength=k) > 0)
    if len(present) < 2:
        return np.zeros(len(labels), dtype=bool)
    remap = np.full(k, -1)
    remap[present] = np.arange(len(present))
    sub = pred_probs[:, present]
    sub = sub / np.maximum(sub.sum(axis=1, keepdims=True), 1e-12)
    return np.asarray(find_label_issues(remap[labels], sub, filter_by=filter_by, n_jobs=1), dtype=bool)


#: Built-in single probes that ``model="ensemble"`` beats on large data (docs/benchmarks.md).
_SINGLE_BUILTIN_PROBES = frozenset(BUILTIN) - {"auto", "ensemble"}


def _stronger_probe_hint(probe_info: dict, n: int, rate: float) -> str:
    """Advice to rescan with the stronger probe before training on the remedies, when it pays:
    the probe was a single built-in model, or ``auto``'s ensemble fitted once.

    Examples
    --------
    >>> _stronger_probe_hint({"model": "hgb"}, 50_000, 0.2).startswith(" Before")
    True
    >>> _stronger_probe_hint({"model": "ensemble", "passes": 1}, 50_000, 0.2).startswith(" Before")
    True
    >>> _stronger_probe_hint({"model": "ensemble", "passes": 4}, 50_000, 0.2)
    ''
    """
    model = probe_info.get("model")
    weaker = model in _SINGLE_BUILTIN_PROBES or (model == "ensemble" and probe_info.get("passes", 1) < STRONG_PASSES)
    if not weaker or n <= SMALL_N or rate < 0.05:
        return ""
    return (
        " Before training on those, rescan with --model ensemble (model=\"ensemble\", its default four "
        "passes): a few times slower, but its probe is right more often near the class boundary, and a "
        "model trained on the cleaned data learns the probe's mistakes there."
    )


def run(inputs: CheckInputs, *, filter_by: str = "prune_by_noise_rate") -> CheckResult:
    """Flag samples whose given label is likely wrong.

    ``is_label_issue`` is cleanlab's ``find_label_issues`` verdict (``filter_by`` as in cleanlab);
    ``label_quality`` is cleanlab's self-confidence score (the probe's out-of-sample
    probability of the given label, 0..1, low = likely wrong); ``suggested_label`` the most
    likely label under the probe.
    """
    from cleanlab.rank import get_label_quality_scores

    labels = inputs.labels
    probs = inputs.pred_probs
    n, k = inputs.n_samples, inputs.n_classes
    predicted = probs.argmax(axis=1)
    flagged = find_issues(labels, probs, filter_by=filter_by)
    quality = np.asarray(get_label_quality_scores(labels, probs, method="self_confidence"), dtype=float)
    # A flagged sample's suggestion is never its own label.
    masked = probs.copy()
    masked[np.arange(n), labels] = -1.0
    suggested = np.where(flagged, masked.argmax(axis=1), predicted)

    n_flagged = int(flagged.sum())
    per_class = np.bincount(labels[flagged], minlength=k)
    counts = np.bincount(labels, minlength=k)
    pairs = confused_pairs(labels, suggested, flagged, k)
    worst = np.flatnonzero(flagged)
    worst = worst[np.argsort(quality[worst], kind="stable")][:MAX_LISTED]
    figures = {
        "n_label_issues": n_flagged,
        "estimated_noise_rate": round(n_flagged / n, 6),
        "per_class": [
            {
                "label": inputs.label_name(c),
                "count": int(counts[c]),
                "n_issues": int(per_class[c]),
                "noise_rate": round(float(per_class[c] / counts[c]), 6) if counts[c] else 0.0,
            }
            for c in range(k)
        ],
        "confused_pairs": [
            {"given": inputs.label_name(g), "suggested": inputs.label_name(s), "count": c} for g, s, c in pairs[:20]
        ],
        "confusion": {
            "labels": [inputs.label_name(c) for c in range(k)],
            "given_vs_suggested": [[0] * k for _ in range(k)] if k <= 30 else None,
        },
        "probe_accuracy": inputs.probe_info.get("out_of_sample_accuracy"),
        "worst": [
            {
                "index": int(i),
                "given": inputs.label_name(labels[i]),
                "suggested": inputs.label_name(suggested[i]),
                "label_quality": round(float(quality[i]), 6),
            }
            for i in worst
        ],
    }
    if k <= 30:
        for g, s, c in pairs:
            figures["confusion"]["given_vs_suggested"][g][s] = c
    findings = []
    if n_flagged:
        rate = n_flagged / n
        top = ", ".join(f"{inputs.label_name(g)!r}->{inputs.label_name(s)!r} ({c})" for g, s, c in pairs[:3])
        findings.append(
            Finding(
                check=NAME,
                severity="critical" if rate >= 0.05 else "warning" if rate >= 0.01 else "info",
                count=n_flagged,
                message=f"{n_flagged} samples ({rate:.1%}) look mislabeled; most often {top}",
                advice=(
                    "Wrong labels put a floor under the training loss: it stops falling, validation accuracy "
                    "plateaus, and with enough epochs the network memorises the wrong labels, so validation "
                    "accuracy rises then falls (early stopping only hides it). Review and relabel the flagged "
                    "samples (samples.csv, sorted by label_quality; suggested_label is the probe's guess), or "
                    "train with report.sample_weight() (sample_weight.npy), or on report.clean_split() "
                    "(split.npz), which leaves them out." + _stronger_probe_hint(inputs.probe_info, n, rate)
                ),
            )
        )
    columns = {
        "predicted_label": inputs.classes[predicted],
        "label_quality": quality,
        "is_label_issue": flagged,
        "suggested_label": inputs.classes[suggested],
    }
    metrics = {"label_issues": n_flagged / n, "label_issues_count": float(n_flagged)}
    return CheckResult(name=NAME, columns=columns, figures=figures, metrics=metrics, findings=findings)
