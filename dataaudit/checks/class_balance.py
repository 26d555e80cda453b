"""Class balance: counts, imbalance, the majority-class baseline and suggested class weights."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import UsageError
from ..utils import plural
from .base import CheckInputs, CheckResult, Finding, RowVerdict, severity

NAME = "class_balance"
TITLE = "Classes and suggested class weights"
NEEDS: frozenset[str] = frozenset()
METRICS = ("imbalance_ratio", "majority_baseline", "rare_classes")
#: Imbalance ratio (largest / smallest class) from which the imbalance is a warning, and critical;
#: rare classes are always a warning.
SEVERITY = {"imbalance": {"warning": 3.0, "critical": 20.0}, "rare_classes": {"warning": 0.0}}
#: Classes whose weights are spelt out in the advice.
MAX_CLASSES_IN_ADVICE = 6
#: Rare classes named in a finding's message.
MAX_CLASSES_NAMED = 8

#: A class is rare when it holds less than this fraction of the samples...
RARE_FRACTION = 0.05
#: ...or fewer samples than this (too few for a model to learn it, or to cross-validate).
RARE_COUNT = 10


def balanced_class_weights(counts: np.ndarray) -> np.ndarray:
    """scikit-learn's ``class_weight="balanced"``: ``n / (K * count)``.

    Examples
    --------
    >>> balanced_class_weights(np.array([90, 10])).round(3).tolist()
    [0.556, 5.0]
    """
    counts = np.asarray(counts, dtype=float)
    return counts.sum() / (len(counts) * counts)


def effective_number_weights(counts: np.ndarray, beta: float = 0.999) -> np.ndarray:
    """Class-balanced weights of Cui et al. (CVPR 2019): ``(1 - beta) / (1 - beta**count)``.

    The effective number of samples ``(1 - beta**n) / (1 - beta)`` grows ever more slowly
    with ``n``, so large classes are discounted less harshly than with inverse frequency.
    Weights are scaled like ``balanced``: the mean weight per sample is 1.

    Examples
    --------
    >>> effective_number_weights(np.array([900, 100]), beta=0.99).round(3).tolist()
    [0.945, 1.491]
    """
    check_options(beta=beta)
    counts = np.asarray(counts, dtype=float)
    effective = (1.0 - np.power(beta, counts)) / (1.0 - beta) if beta > 0 else np.ones_like(counts)
    weights = 1.0 / effective
    return weights * counts.sum() / (weights * counts).sum()


def check_options(*, beta: float = 0.999) -> None:
    """Validate the options before any work (the orchestrator calls this at the boundary)."""
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0.0 <= beta < 1.0:
        raise UsageError(f"the class_balance option 'beta' must be a number in [0, 1), not {beta!r}")


def run(inputs: CheckInputs, *, beta: float = 0.999) -> CheckResult:
    """Count the classes and suggest class weights.

    Row verdict: the flag marks members of rare classes; the score is the class's size
    relative to the largest class. It changes no weight (``sample_weight(balance_classes=True)``
    equalises the classes) and excludes no row.

    Parameters
    ----------
    inputs : CheckInputs
    beta : float, default 0.999
        The effective-number hyper-parameter of Cui et al.; 0 gives equal weights, values
        close to 1 approach ``balanced``.
    """
    counts = np.bincount(inputs.labels, minlength=inputs.n_classes)
    figures, metrics, findings, rare = summarize(counts, inputs.label_name, beta=beta)
    rare_row = np.isin(inputs.labels, rare)
    rows = RowVerdict(flag=rare_row, score=(counts / counts.max())[inputs.labels], shown=("label",))
    return CheckResult(name=NAME, rows=rows, figures=figures, metrics=metrics, findings=findings)


def summarize(counts: np.ndarray, label_name: Callable[[int], Any], *, beta: float = 0.999
              ) -> tuple[dict, dict, list[Finding], list[int]]:
    """The check's figures, metrics, findings and rare class codes from the class counts alone
    (a cluster's scan sums them over its partitions).

    Examples
    --------
    >>> figures, metrics, findings, rare = summarize(np.array([990, 10]), str)
    >>> metrics["imbalance_ratio"], rare, [f.severity for f in findings]
    (99.0, [1], ['critical', 'warning'])
    """
    n = int(counts.sum())
    n_classes = len(counts)
    fractions = counts / n
    present = counts > 0
    majority = int(np.argmax(counts))
    minority = int(np.argmin(np.where(present, counts, np.iinfo(np.int64).max)))
    imbalance = float(counts[majority] / counts[minority])
    baseline = float(counts[majority] / n)
    balanced = balanced_class_weights(counts)
    effective = effective_number_weights(counts, beta)
    rare = [int(c) for c in np.flatnonzero((fractions < RARE_FRACTION) | (counts < RARE_COUNT))]

    classes = [
        {
            "label": label_name(c),
            "count": int(counts[c]),
            "fraction": round(float(fractions[c]), 6),
            "weight_balanced": round(float(balanced[c]), 6),
            "weight_effective_number": round(float(effective[c]), 6),
            "is_rare": c in rare,
        }
        for c in range(n_classes)
    ]
    figures = {
        "n_classes": n_classes,
        "classes": classes,
        "majority_class": label_name(majority),
        "minority_class": label_name(minority),
        "imbalance_ratio": round(imbalance, 6),
        "majority_baseline_accuracy": round(baseline, 6),
        "rare_classes": [label_name(c) for c in rare],
        "effective_number_beta": beta,
        "class_weight_balanced": {str(label_name(c)): round(float(balanced[c]), 6) for c in range(n_classes)},
        "class_weight_effective_number": {
            str(label_name(c)): round(float(effective[c]), 6) for c in range(n_classes)
        },
    }
    metrics = {
        "imbalance_ratio": imbalance,
        "majority_baseline": baseline,
        "rare_classes": float(len(rare)),
    }

    findings = []
    if imbalance >= SEVERITY["imbalance"]["warning"]:
        weights_text = ", ".join(
            f"{label_name(c)!r}: {balanced[c]:.3g}" for c in range(min(n_classes, MAX_CLASSES_IN_ADVICE))
        )
        findings.append(
            Finding(
                check=NAME,
                severity=severity(imbalance, **SEVERITY["imbalance"]),
                count=int(counts[minority]),
                message=(
                    f"classes are imbalanced {imbalance:.1f}:1; always predicting "
                    f"{label_name(majority)!r} already scores {baseline:.1%} accuracy"
                ),
                advice=(
                    f"An accuracy near {baseline:.1%} means the model learnt nothing: judge it by balanced "
                    "accuracy, per-class recall or F1 instead. Weight the classes so the rare ones count: "
                    f"class_weight='balanced' in scikit-learn, or class_weight={{{weights_text}}} in "
                    "Keras model.fit (effective-number weights, gentler on large imbalance, are in the report); "
                    "or pass report.sample_weight(balance_classes=True) as sample_weight."
                ),
            )
        )
    if rare:
        names = ", ".join(repr(label_name(c)) for c in rare[:MAX_CLASSES_NAMED])
        findings.append(
            Finding(
                check=NAME,
                severity=severity(len(rare), **SEVERITY["rare_classes"]),
                count=int(counts[rare].sum()),
                message=f"{plural(len(rare), 'rare class', 'rare classes')} ({names}) hold {counts[rare].sum()} samples",
                advice=(
                    "A model sees too few examples of a rare class to learn it, and a random split may leave "
                    "none in validation: collect more samples, weight the class up, and split with "
                    "stratification (report.clean_split does)."
                ),
            )
        )
    return figures, metrics, findings, rare
