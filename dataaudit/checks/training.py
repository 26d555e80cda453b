"""The user's own Keras run: per-sample training dynamics, the run's symptoms and their causes.

The per-sample evidence (area under the margin, data-map confidence and variability, forgetting
events) comes from :mod:`dataaudit.dynamics`; the symptoms (collapse, a loss rising while accuracy
rises, training and validation parting, loss and accuracy falling together, a plateau) and their
causes from :mod:`dataaudit.doctor`, which reads the run with the verdicts of the data checks that
ran before this one (``inputs.earlier``: label issues, duplicates, outliers, the set-up lint).
"""

from __future__ import annotations

import numpy as np

from .. import doctor, dynamics
from .base import MAX_LISTED, NEED_DYNAMICS, CheckInputs, CheckResult, Finding, RowVerdict, severity

NAME = "training"
TITLE = "Your training run"
NEEDS: frozenset[str] = frozenset({NEED_DYNAMICS})
METRICS = ("never_learned", "forgotten", "final_train_accuracy", "training_symptoms")
#: The share of training rows the network never learned that makes the finding a warning (clean, hard
#: data keeps 1-2% of its rows wrong at the end of a short run: digits, 20 epochs of a 64-unit network,
#: 1.5%), and critical; the share often forgotten that makes that one a warning; each symptom's
#: cut-offs (dataaudit.doctor).
SEVERITY = {"never_learned": {"warning": 0.02, "critical": 0.05}, "forgotten": {"warning": 0.05}, **doctor.SEVERITY}
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


def row_flags(inputs: CheckInputs, rows: np.ndarray) -> doctor.RowFlags:
    """The earlier data checks' verdicts on the recorded rows, through their public columns
    (a check that did not run leaves its flag None)."""

    def column(check: str, name: str):
        result = inputs.earlier.get(check)
        if result is None or name not in result.columns:
            return None
        return np.asarray(result.columns[name])[rows]

    flag = {name: column(check, col) for name, (check, col) in {
        "label_issue": ("label_issues", "is_label_issue"), "outlier": ("outliers", "is_outlier"),
        "conflicting": ("duplicates", "is_conflicting_duplicate")}.items()}
    group = column("duplicates", "duplicate_group")
    return doctor.RowFlags(**{k: None if v is None else v.astype(bool) for k, v in flag.items()},
                           group=None if group is None else group.astype(np.int64))


def setup_problems(inputs: CheckInputs) -> list[tuple[str, str, str]]:
    """The set-up check's findings (severity, message, advice), when it ran."""
    result = inputs.earlier.get("setup")
    return [(f.severity, f.message, f.advice) for f in result.findings] if result is not None else []


def _row_findings(symptoms: list, n_never: int, n_often: int, n_train: int) -> list[Finding]:
    """The findings on rows never learned and rows often forgotten, their advice read in the light of
    the run's symptoms (a broken run, an underfitting one, one that gave rows up to a few flagged ones)."""
    underfit = any(sy.pattern == "plateau" and sy.cause == "capacity_or_optimisation" for sy in symptoms)
    gave_up = any(sy.pattern == "loss_and_accuracy_fall" and sy.cause in ("outliers", "conflicting_duplicates")
                  for sy in symptoms)
    collapsed = next((sy for sy in symptoms if sy.pattern == "collapse"), None)
    broken = (f"This run broke at epoch {collapsed.last_epoch + 1} (see its {collapsed.details.get('kind', 'collapse')} "
              "finding): these rows were lost with the weights, not a verdict on their labels; rescan a run that "
              "trains cleanly.") if collapsed is not None else None
    findings = []
    if n_never:
        share = n_never / n_train
        findings.append(Finding(
            check=NAME, severity="info" if broken else severity(share, **SEVERITY["never_learned"]), count=n_never,
            message=(f"your network never learned {n_never} training rows ({share:.1%}): over the run their "
                     "label lost to another class (negative area under the margin), and still did at its end"),
            advice=broken or (("This run underfits (see its plateau finding): most of these are rows the model cannot fit, not "
                     "necessarily mislabeled ones; give it the capacity first, then look again (samples.csv: aum).")
                    if underfit else
                    ("Most of these are ordinary rows the network gave up to quiet a few flagged ones (see the finding "
                     "on loss and accuracy falling together): fix those first, then look again (samples.csv: aum).")
                    if gave_up else
                    ("Rows a network cannot fit while it fits everything around them are usually mislabeled; late in "
                     "training it memorises them, and the loss that had been falling starts to rise on validation. "
                     "The label_issues finding says which (samples.csv: aum, is_label_issue); train your next run with "
                     "report.sample_weight(), or relabel them.")),
        ))
    if n_often:
        share = n_often / n_train
        findings.append(Finding(
            check=NAME, severity="info" if broken else severity(share, **SEVERITY["forgotten"]), count=n_often,
            message=(f"{n_often} training rows ({share:.1%}) were learned then forgotten "
                     f"{OFTEN_FORGOTTEN} times or more"),
            advice=broken or ("Rows that flip between right and wrong from epoch to epoch sit where the labels disagree "
                    "(near-identical inputs with different labels, wrong labels, the class boundary) or where the "
                    "learning rate is too high; they are what makes accuracy oscillate. Look at them in "
                    "samples.csv (forgetting_events)."),
        ))
    return findings


def run(inputs: CheckInputs) -> CheckResult:
    """Per-sample evidence of the run, its symptoms and their causes.

    Columns (NaN, or -1 for ``forgetting_events``, on rows the record did not cover):
    ``aum`` (area under the margin), ``confidence`` and ``variability`` (mean and standard
    deviation of the given label's probability over epochs), ``forgetting_events``.

    Row verdict: the flag marks training rows the network never learned (a negative mean
    margin: the label lost to another class on average over the run, and still at its end); the score is
    ``sigmoid(aum)``. No weight and no exclusion: the label verdict (``label_issues``, fed by
    the same record) carries those.

    Findings: rows never learned, rows often forgotten, and one finding per symptom of the run
    (:func:`dataaudit.doctor.diagnose`), whose message names the pattern with its numbers and
    epochs, and whose advice names the cause: the data (which rows) or the set-up (which line).
    ``figures["symptoms"]`` lists them (pattern, split, 1-based epochs, cause, numbers) for the views.
    """
    record = inputs.record
    n = inputs.n_samples
    rows = record.rows
    # The record keeps each epoch's exact logit margin over the best other class.
    right = np.asarray(record.margin) > 0
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
    # Never learned: the label lost on average over the run and still loses at its end (a row
    # learned late, as a hard but right one is, was learned).
    never = train & (aum < 0) & ~right[:, -1]
    often = train & (forgot >= OFTEN_FORGOTTEN)
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
    symptoms = doctor.diagnose(
        record.logp_given, record.margin, record.labels, record.in_training, record.epochs, record.history,
        n_classes=inputs.n_classes, setup=record.setup, flags=row_flags(inputs, rows),
        setup_problems=setup_problems(inputs), norms=doctor.input_norms(inputs.features)[rows],
    )
    findings = _row_findings(symptoms, int(never.sum()), int(often.sum()), n_train)
    figures["symptoms"] = [s.to_dict() for s in symptoms]
    findings += [Finding(check=NAME, severity=s.severity, count=int(s.count), message=s.message, advice=s.advice)
                 for s in symptoms]
    flag = np.zeros(n, bool)
    flag[rows[never]] = True
    score = np.ones(n)
    score[rows] = 1.0 / (1.0 + np.exp(-np.clip(aum, -50, 50)))
    verdict = RowVerdict(flag=flag, score=score, shown=("label", "aum", "confidence", "variability", "forgetting_events"))
    metrics = {
        "never_learned": float(never.sum() / n_train),
        "forgotten": float(often.sum() / n_train),
        "final_train_accuracy": final_accuracy if np.isfinite(final_accuracy) else 0.0,
        "training_symptoms": float(sum(s.severity != "info" for s in symptoms)),
    }
    return CheckResult(name=NAME, rows=verdict, columns=columns, figures=figures, metrics=metrics, findings=findings)
