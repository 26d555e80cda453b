"""The user's own Keras run: per-sample training dynamics and what the run says about the data."""

from __future__ import annotations

import numpy as np

from .. import dynamics
from .base import MAX_LISTED, NEED_DYNAMICS, CheckInputs, CheckResult, Finding, RowVerdict, severity

NAME = "training"
TITLE = "Your training run"
NEEDS: frozenset[str] = frozenset({NEED_DYNAMICS})
METRICS = ("never_learned", "forgotten", "final_train_accuracy")
#: The share of training rows the network never learned that makes the finding a warning, and critical.
SEVERITY = {"never_learned": {"warning": 0.01, "critical": 0.05}, "forgotten": {"warning": 0.05}}
#: Data-map regions (Swayamdipta et al. 2020): confidence under this is "hard to learn"...
HARD_CONFIDENCE = 0.5
#: ...and variability above this is "ambiguous" (the label's probability swings from epoch to epoch).
AMBIGUOUS_VARIABILITY = 0.2
#: A row forgotten this many times or more is "often forgotten".
OFTEN_FORGOTTEN = 2
#: Points drawn in the report's data map (a fixed, evenly spaced subset beyond that).
DATA_MAP_POINTS = 20_000


def _history(record) -> dict[str, list]:
    return {k: [None if not np.isfinite(v) else round(float(v), 6) for v in values]
            for k, values in sorted(record.history.items())}


def run(inputs: CheckInputs) -> CheckResult:
    """Per-sample evidence of the run and what it says.

    Columns (NaN, or -1 for ``forgetting_events``, on rows the record did not cover):
    ``aum`` (area under the margin), ``confidence`` and ``variability`` (mean and standard
    deviation of the given label's probability over epochs), ``forgetting_events``.

    Row verdict: the flag marks training rows the network never learned (a negative mean
    margin: the label lost to another class on average over the run); the score is
    ``sigmoid(aum)``. No weight and no exclusion: the label verdict (``label_issues``, fed by
    the same record) carries those.
    """
    record = inputs.record
    n = inputs.n_samples
    rows = record.rows
    aum = dynamics.aum(record.p_given, record.p_other)
    conf = dynamics.confidence(record.p_given)
    var = dynamics.variability(record.p_given)
    forgot = dynamics.forgetting_events(record.p_given, record.p_other)

    def spread(values, fill):
        out = np.full(n, fill, dtype=np.asarray(values).dtype if fill != fill else np.int64)
        out[rows] = values
        return out

    columns = {
        "aum": spread(aum, np.nan),
        "confidence": spread(conf, np.nan),
        "variability": spread(var, np.nan),
        "forgetting_events": spread(forgot, -1),
    }
    train = record.in_training
    never = train & (aum < 0)
    often = train & (forgot >= OFTEN_FORGOTTEN)
    hard = train & (conf < HARD_CONFIDENCE) & (var < AMBIGUOUS_VARIABILITY)
    ambiguous = train & (var >= AMBIGUOUS_VARIABILITY)
    easy = train & ~hard & ~ambiguous
    n_train = max(int(train.sum()), 1)
    final_right = record.p_given[:, -1].astype(np.float32) > record.p_other[:, -1].astype(np.float32)
    final_accuracy = float(final_right[train].mean()) if train.any() else float("nan")
    order = np.argsort(aum[never], kind="stable")[:MAX_LISTED]
    step = max(1, int(np.ceil(len(rows) / DATA_MAP_POINTS)))
    figures = {
        "n_recorded": record.n_recorded,
        "n_training_rows": int(train.sum()),
        "n_epochs_recorded": record.n_epochs,
        "history": _history(record),
        "final_train_accuracy_recorded": round(final_accuracy, 6),
        "data_map": {
            "easy": int(easy.sum()), "ambiguous": int(ambiguous.sum()), "hard_to_learn": int(hard.sum()),
            "rule": f"hard to learn: confidence < {HARD_CONFIDENCE:g} and variability < {AMBIGUOUS_VARIABILITY:g}; "
                    f"ambiguous: variability >= {AMBIGUOUS_VARIABILITY:g}",
            "sample_rows": [int(i) for i in rows[::step]],
        },
        "n_never_learned": int(never.sum()),
        "n_often_forgotten": int(often.sum()),
        "never_learned": [{"index": int(rows[np.flatnonzero(never)[i]]), "aum": round(float(aum[never][i]), 6)} for i in order],
    }
    findings = []
    if never.any():
        share = never.sum() / n_train
        findings.append(Finding(
            check=NAME, severity=severity(share, **SEVERITY["never_learned"]), count=int(never.sum()),
            message=(f"your network never learned {int(never.sum())} training rows ({share:.1%}): over the run their "
                     "label lost to another class (negative area under the margin)"),
            advice=("Rows a network cannot fit while it fits everything around them are usually mislabeled; late in "
                    "training it memorises them, and the loss that had been falling starts to rise on validation. "
                    "The label_issues finding says which (samples.csv: aum, is_label_issue); train your next run with "
                    "report.sample_weight(), or relabel them."),
        ))
    if often.any():
        share = often.sum() / n_train
        findings.append(Finding(
            check=NAME, severity=severity(share, **SEVERITY["forgotten"]), count=int(often.sum()),
            message=(f"{int(often.sum())} training rows ({share:.1%}) were learned then forgotten "
                     f"{OFTEN_FORGOTTEN} times or more"),
            advice=("Rows that flip between right and wrong from epoch to epoch sit where the labels disagree "
                    "(near-identical inputs with different labels, wrong labels, the class boundary) or where the "
                    "learning rate is too high; they are what makes accuracy oscillate. Look at them in "
                    "samples.csv (forgetting_events)."),
        ))
    flag = np.zeros(n, bool)
    flag[rows[never]] = True
    score = np.ones(n)
    score[rows] = 1.0 / (1.0 + np.exp(-np.clip(aum, -50, 50)))
    verdict = RowVerdict(flag=flag, score=score, shown=("label", "aum", "confidence", "variability", "forgetting_events"))
    metrics = {
        "never_learned": float(never.sum() / n_train),
        "forgotten": float(often.sum() / n_train),
        "final_train_accuracy": final_accuracy if np.isfinite(final_accuracy) else 0.0,
    }
    return CheckResult(name=NAME, rows=verdict, columns=columns, figures=figures, metrics=metrics, findings=findings)
