"""High-loss samples: per-sample out-of-sample cross-entropy and its distribution."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..utils import tukey_fence
from .base import MAX_LISTED, NEED_PROBE, CheckInputs, CheckResult, Finding, RowVerdict, severity

NAME = "high_loss"
TITLE = "Highest losses"
NEEDS: frozenset[str] = frozenset({NEED_PROBE})
METRICS = ("high_loss", "loss_skew")
#: The columns a report lists beside each flagged row.
SHOWN = ("label", "loss")
#: The share of the total loss carried by the high-loss samples that makes the finding a warning.
SEVERITY = {"warning": 0.25}

#: Never call a loss "high" below -ln(0.1): the probe gave the label less than 10%.
LOSS_FLOOR = float(-np.log(0.1))
#: Quantiles reported of the loss distribution.
QUANTILES = (0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)


def high_loss_threshold(loss: np.ndarray, whisker: float = 3.0) -> float:
    """Tukey's far-out fence ``Q3 + whisker * IQR`` of the loss, floored at ``-ln(0.1)``.

    The fence adapts to how well the probe fits the data at hand; the floor keeps a
    near-perfect fit (IQR ~ 0) from flagging samples the probe still got right.

    Examples
    --------
    >>> round(high_loss_threshold(np.r_[np.full(90, 0.1), np.full(10, 5.0)]), 4)
    2.3026
    """
    return tukey_fence(loss, whisker, floor=LOSS_FLOOR)


def skewness(x: np.ndarray) -> float:
    """Sample skewness (0 for symmetric; large and positive when a few losses dwarf the rest).

    Examples
    --------
    >>> skewness(np.array([1.0, 2.0, 3.0])), skewness(np.r_[np.zeros(9), 1.0]) > 2
    (0.0, True)
    """
    sd = x.std()
    return float(((x - x.mean()) ** 3).mean() / sd**3) if sd > 0 else 0.0


def run(inputs: CheckInputs, *, whisker: float = 3.0, bins: int = 40) -> CheckResult:
    """Flag samples whose out-of-sample loss is an outlier of the loss distribution.

    Rows without probabilities (``inputs.judged``) have a NaN loss and are not judged. Row
    verdict: the flag only; a high loss alone changes no weight and excludes no row (the label
    and outlier checks judge why a loss is high).
    """
    loss = np.asarray(inputs.loss, dtype=float).copy()
    if inputs.judged is not None:
        loss[~inputs.judged] = np.nan  # rows without probabilities have no loss
    seen = loss[np.isfinite(loss)]
    threshold = high_loss_threshold(seen, whisker)
    flagged = np.nan_to_num(loss, nan=-np.inf) > threshold
    values = np.quantile(seen, QUANTILES)
    counts, edges = np.histogram(seen, bins=bins)
    top = np.argsort(-np.nan_to_num(loss, nan=-np.inf), kind="stable")[:MAX_LISTED]
    stats = LossStats(len(loss), len(seen), float(seen.sum()), float(seen.mean()), skewness(seen),
                      int(flagged.sum()), float(loss[flagged].sum()))
    figures, metrics, findings = summarize(
        threshold, whisker, stats, values, counts, edges,
        [(int(i), int(inputs.labels[i]), float(loss[i])) for i in top if np.isfinite(loss[i])], inputs.label_name)
    rows = RowVerdict(flag=flagged, score=np.exp(-np.nan_to_num(loss, nan=0.0)), shown=SHOWN)
    return CheckResult(name=NAME, rows=rows, columns={"loss": loss, "is_high_loss": flagged},
                       figures=figures, metrics=metrics, findings=findings)


@dataclass(frozen=True)
class LossStats:
    """Sums over the rows' losses (a cluster's scan merges them over its partitions): rows, rows
    with a loss, their total, mean and skewness, rows above the threshold and their total loss."""

    n: int
    n_seen: int
    total: float
    mean: float
    skew: float
    n_flagged: int
    flagged_loss: float


def summarize(threshold: float, whisker: float, stats: LossStats, values: np.ndarray, counts: np.ndarray,
              edges: np.ndarray, worst: list[tuple[int, int, float]], label_name: Callable[[int], Any]
              ) -> tuple[dict, dict, list[Finding]]:
    """The check's figures, metrics and findings: ``values`` the loss's ``QUANTILES``, ``counts``
    and ``edges`` its histogram, ``worst`` the highest losses as (index, label code, loss)."""
    skew = stats.skew
    share = float(stats.flagged_loss / max(stats.total, 1e-12))
    n_flagged = stats.n_flagged
    figures = {
        "threshold": round(threshold, 6),
        "rule": f"loss > max(Q3 + {whisker:g} * IQR, -ln 0.1)",
        "n_high_loss": n_flagged,
        "mean_loss": round(stats.mean, 6),
        "quantiles": {f"q{int(q * 100)}": round(float(v), 6) for q, v in zip(QUANTILES, values)},
        "skew": round(skew, 6),
        "share_of_total_loss": round(share, 6),
        "histogram": {"edges": [round(float(e), 6) for e in edges], "counts": [int(c) for c in counts]},
        "worst": [{"index": i, "label": label_name(label), "loss": round(value, 6)} for i, label, value in worst],
    }
    findings = []
    if n_flagged:
        findings.append(
            Finding(
                check=NAME,
                severity=severity(share, **SEVERITY),
                count=n_flagged,
                message=(
                    f"{n_flagged} samples ({n_flagged / stats.n:.1%}) have an out-of-sample loss above "
                    f"{threshold:.2f} and carry {share:.0%} of the total loss (skew {skew:.1f})"
                ),
                advice=(
                    "A few samples whose loss dwarfs the rest dominate the gradient: the loss can rise while "
                    "accuracy rises, and training becomes unstable. Look at them first (samples.csv sorted by "
                    "loss): they are usually mislabeled, corrupt or from another distribution. Fix or drop them, "
                    "down-weight them (report.sample_weight()), or clip gradients (clipnorm=1.0 in the Keras optimizer)."
                ),
            )
        )
    metrics = {"high_loss": n_flagged / stats.n, "loss_skew": skew}
    return figures, metrics, findings
