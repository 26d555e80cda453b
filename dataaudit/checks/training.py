"""The user's own training run: per-sample training dynamics.

The per-sample evidence (area under the margin, data-map confidence and variability, forgetting
events) comes from :mod:`dataaudit.dynamics`. The run's symptoms and their causes are told by the
training doctor (:mod:`dataaudit.doctor`), a stage the orchestrator runs after every check.
"""

from __future__ import annotations

import numpy as np

from .. import dynamics
from .base import MAX_LISTED, NEED_DYNAMICS, CheckInputs, CheckResult, RowVerdict

NAME = "training"
TITLE = "Your training run"
NEEDS: frozenset[str] = frozenset({NEED_DYNAMICS})
METRICS = ("never_learned", "forgotten", "final_train_accuracy")
#: This check's findings are the doctor's (dataaudit.doctor grades them).
SEVERITY: dict = {}
#: Data-map regions (Swayamdipta et al. 2020): confidence under this is "hard to learn"...
HARD_CONFIDENCE = 0.5
#: ...and variability above this is "ambiguous" (the label's probability swings from epoch to epoch).
AMBIGUOUS_VARIABILITY = 0.2
#: Points drawn in the report's data map (a fixed, evenly spaced subset beyond that).
DATA_MAP_POINTS = 20_000


def _history(record) -> dict[str, list]:
    return {k: [None if not np.isfinite(v) else round(float(v), 6) for v in values]
            for k, values in sorted(record.history.items())}


def run(inputs: CheckInputs) -> CheckResult:
    """Per-sample evidence of the run, its symptoms and their causes.

    Columns (NaN, or -1 for ``forgetting_events``, on rows the record did not cover):
    ``aum`` (area under the margin), ``confidence`` and ``variability`` (mean and standard
    deviation of the given label's probability over epochs), ``forgetting_events``.

    Row verdict: the flag marks training rows the network never learned (a negative mean
    margin: the label lost to another class on average over the run, and still at its end); the score is
    ``sigmoid(aum)``. No weight and no exclusion: the label verdict (``label_issues``, fed by
    the same record) carries those.

    No findings: what the rows mean depends on the run's story, which the doctor tells
    (:func:`dataaudit.doctor.examine`: the symptoms, rows never learned, rows often forgotten).
    """
    record = inputs.record
    n = inputs.n_samples
    rows = record.rows
    right = dynamics.is_right(record.margin)
    p_given = record.p_given
    aum = dynamics.aum(record.margin)
    conf = dynamics.confidence(p_given)
    var = dynamics.variability(p_given)
    forgot = dynamics.forgetting_events(record.margin)

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
    never = dynamics.never_learned(record.margin, train)
    often = train & (forgot >= dynamics.OFTEN_FORGOTTEN)
    hard = train & (conf < HARD_CONFIDENCE) & (var < AMBIGUOUS_VARIABILITY)
    ambiguous = train & (var >= AMBIGUOUS_VARIABILITY)
    easy = train & ~hard & ~ambiguous
    n_train = max(int(train.sum()), 1)
    final_right = right[:, -1]
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
    return CheckResult(name=NAME, rows=verdict, columns=columns, figures=figures, metrics=metrics)
