"""Feature-space outliers: rows that do not belong, found by five views (``outlier_views.py``).

``outlier_score`` is the largest view's ``score / its threshold``; above 1 is an outlier. The
finding names the kinds found in a user's words, from the first view above 1 of each row.
"""

from __future__ import annotations

import numpy as np

from ..utils import plural
from .base import MAX_LISTED, NEED_NEIGHBORS, CheckInputs, CheckResult, Finding, RowCause, RowVerdict, severity
from .outlier_views import (
    COPULA_FACTOR, DIM_REFERENCE, GLOBAL_MINIMUM, LOCAL_MINIMUM, REST_MINIMUM, TAIL_MINIMUM, VIEW_ORDER, combine_views,
    outlier_views,
)

NAME = "outliers"
TITLE = "Outliers"
NEEDS: frozenset[str] = frozenset({NEED_NEIGHBORS})
METRICS = ("outliers", "outliers_count")
#: The columns a report lists beside each flagged row.
SHOWN = ("label", "outlier_score")
#: The share of outliers that makes the finding a warning.
SEVERITY = {"warning": 0.01}

#: The views, in the order a flagged row's reason is chosen (the first above 1), with the
#: words of the finding: (one row, several rows).
VIEWS = {
    "constant_row": ("constant row (every feature one value)", "constant rows (every feature one value)"),
    "many_extreme_values": ("row far out in many features at once", "rows far out in many features at once"),
    "one_extreme_value": ("row with one absurd value", "rows with one absurd value"),
    "far_from_neighbours": ("row far from any other sample", "rows far from any other sample"),
    "unusual_combination": (
        "row of ordinary values in an implausible combination",
        "rows of ordinary values in an implausible combination",
    ),
}
ADVICE = {
    "constant_row": "All-zero or constant rows are usually failed reads, blank images or padding: drop them.",
    "many_extreme_values": (
        "Rows far out in many features at once are often in other units or unscaled (x100, 0-255 "
        "instead of 0-1): rescale or drop them."
    ),
    "one_extreme_value": (
        "One absurd value is usually a glitch or a typo: fix or impute it (report.json lists the "
        "feature) rather than losing the row."
    ),
    "far_from_neighbours": (
        "Rows far from every other sample are often broken inputs (corrupt images) or a distribution "
        "the model will not see again."
    ),
    "unusual_combination": (
        "Rows whose values are each plausible but not together often come from a bad join or shifted "
        "columns: check how they were assembled."
    ),
}


def _summary(kinds: dict[str, int], zero_rows: int) -> str:
    """``"3 rows with one absurd value, 2 all-zero rows"``: the flagged rows by reason."""
    parts = []
    for view, count in kinds.items():
        if not count:
            continue
        if view == "constant_row" and zero_rows == count:
            parts.append(plural(count, "all-zero row"))
        else:
            parts.append(f"{count:,} {VIEWS[view][count != 1]}")
    return ", ".join(parts)


def run(
    inputs: CheckInputs, *, local_minimum: float = LOCAL_MINIMUM, global_minimum: float = GLOBAL_MINIMUM, weight: float = 0.5
) -> CheckResult:
    """Flag rows that do not belong: far from the data, with an absurd value, in other units,
    constant, or an implausible combination of ordinary values (the views: ``outlier_views.py``).

    ``outlier_score`` is the largest view's ``score / threshold``: above 1 means outlier.
    ``local_minimum`` / ``global_minimum`` are the kNN ratios' floors (raised on data of low
    intrinsic dimension). Row verdict: an outlier's weight factor is ``weight``, and the cleaned
    data leaves it out.
    """
    X = inputs.features
    views, info = outlier_views(X, inputs.neighbors, random_state=inputs.random_state,
                                local_minimum=local_minimum, global_minimum=global_minimum)
    scores, flagged, reason = combine_views(np.vstack([views[name] for name in VIEW_ORDER]))
    kinds = {view: int((reason == v).sum()) for v, view in enumerate(VIEW_ORDER)}
    zero_rows = int(((reason == VIEW_ORDER.index("constant_row")) & (np.asarray(X[:, 0]) == 0)).sum())
    order = np.argsort(-scores, kind="stable")[:MAX_LISTED]
    worst = [(int(i), inputs.labels[i], float(scores[i]), int(reason[i]), int(info["feature"][i]))
             for i in order[flagged[order]]]
    by_view = {view: int((v > 1.0).sum()) for view, v in views.items()}
    figures, metrics, findings = summarize(len(scores), kinds, zero_rows, by_view, worst, info, inputs.label_name,
                                           k=inputs.neighbors.k, local_minimum=local_minimum,
                                           global_minimum=global_minimum)
    rows = RowVerdict(
        flag=flagged,
        score=1.0 / (1.0 + scores),
        weight=np.where(flagged, weight, 1.0),
        exclude=flagged,
        shown=SHOWN,
        cause=RowCause.OUTLIERS,
    )
    return CheckResult(name=NAME, rows=rows, columns={"outlier_score": scores, "is_outlier": flagged},
                       figures=figures, metrics=metrics, findings=findings)


def summarize(n: int, kinds: dict[str, int], zero_rows: int, by_view: dict[str, int], worst: list, info: dict,
              label_name, *, k: int, local_minimum: float = LOCAL_MINIMUM, global_minimum: float = GLOBAL_MINIMUM):
    """The check's figures, metrics and findings from its counts (the same on one machine and on
    a cluster): ``kinds`` the flagged rows by reason, ``worst`` the highest-scored flagged rows as
    ``(index, label code, outlier_score, reason position in VIEW_ORDER, most extreme feature)``."""
    count = sum(kinds.values())
    share = count / max(n, 1)
    listed = []
    for i, label, score, reason, feature in worst:
        row = {"index": int(i), "label": label_name(label), "outlier_score": round(float(score), 6),
               "reason": VIEW_ORDER[reason]}
        if row["reason"] == "one_extreme_value":
            row["feature"] = int(feature)
        listed.append(row)
    rounded = {key: (round(float(v), 6) if isinstance(v, float) else v) for key, v in info.items() if key != "feature"}
    figures = {
        "threshold": 1.0,
        "rule": (
            "outlier_score = the largest view / its threshold: kNN local ratio > max("
            f"{local_minimum:g}, Q3 + 3 IQR) or global ratio > max({global_minimum:g}, Q3 + 3 IQR) (floors "
            f"raised to the power {DIM_REFERENCE:g} / intrinsic dimension below {DIM_REFERENCE:g}); one feature's "
            f"tail ratio > max({TAIL_MINIMUM:g}, Q3 + 3 IQR); the other features' RMS tail ratio > max("
            f"{REST_MINIMUM:g}, Q3 + 3 IQR); Gaussian-copula Mahalanobis robust z > {COPULA_FACTOR:g} sqrt(2 ln n); "
            "a constant row chance cannot explain"
        ),
        **rounded,
        "n_outliers": count,
        "by_view": dict(by_view),
        "by_reason": dict(kinds),
        "k": k,
        "worst": listed,
    }
    findings = []
    if count:
        advice = " ".join(ADVICE[view] for view, n_view in kinds.items() if n_view)
        findings.append(
            Finding(
                check=NAME,
                severity=severity(share, **SEVERITY),
                count=count,
                message=(
                    f"{plural(count, 'sample')} ({share:.2%}) {'does' if count == 1 else 'do'} not fit "
                    f"the rest of the data: {_summary(kinds, zero_rows)}"
                ),
                advice=(
                    f"{advice} A few such rows can destabilise training: inspect them (samples.csv sorted by "
                    "outlier_score) and fix or drop the broken ones; report.sample_weight() down-weights them "
                    "and the cleaned split leaves them out."
                ),
            )
        )
    metrics = {"outliers": float(share), "outliers_count": float(count)}
    return figures, metrics, findings
