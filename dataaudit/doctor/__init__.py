"""The training doctor: a stage after the checks that names the symptoms of the user's own
training run and their causes.

A run's history (``loss``, ``accuracy``, ``val_loss``, ... per epoch) shows *what* went wrong; the
per-sample record (:mod:`dataaudit.dynamics`) shows *which rows* it went wrong on; the checks'
typed row verdicts say *what those rows are* (label noise, outliers, conflicting duplicates).

- :mod:`~dataaudit.doctor.curves`: pure detectors, curves -> patterns;
- :mod:`~dataaudit.doctor.evidence`: per-row evidence (carriers, pull, the data's floor);
- :mod:`~dataaudit.doctor.rules`: symptom + evidence -> cause (:mod:`~dataaudit.doctor.kinds`);
- :mod:`~dataaudit.doctor.advice`: the words, by pattern, cause and framework.

Epochs in messages and in ``Symptom.to_dict`` are 1-based, as training logs print them;
function arguments and return values are 0-based.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..checks.base import Finding, RowVerdict, severity
from ..dynamics import OFTEN_FORGOTTEN, TrainingRecord, forgetting_events, never_learned
from ..lint import labels_of, lint
from . import advice
from .curves import accuracy_key, curves, find_collapse, find_fall_together, find_plateau, find_rise, smooth
from .evidence import RowFlags, carriers, data_floor, forgetting_by_step, input_norms, pull, row_losses
from .kinds import Cause, Pattern
from .rules import Run, Symptom, collapse, find_symptoms
from .thresholds import SEVERITY

#: The findings' check name (the doctor tells the story of the ``training`` check's record).
NAME = "training"
#: Gate metrics the stage adds.
METRICS = ("training_symptoms",)
#: The share of training rows never learned that makes that finding a warning (clean, hard data
#: keeps 1-2% of its rows wrong at the end of a short run), and critical; the share often
#: forgotten that makes that one a warning.
ROW_SEVERITY = {"never_learned": {"warning": 0.02, "critical": 0.05}, "forgotten": {"warning": 0.05}}
#: The framework a record that does not say was made with (the Keras callback came first).
DEFAULT_FRAMEWORK = "keras"


def framework_of(setup: Mapping[str, Any]) -> str:
    return str(setup.get("framework") or DEFAULT_FRAMEWORK)


def diagnose(logp_given: np.ndarray, margin: np.ndarray, labels: np.ndarray, in_training: np.ndarray,
             epochs: np.ndarray, history: Mapping[str, Sequence[float]], *, n_classes: int,
             setup: Mapping[str, Any] | None = None, flags: RowFlags | None = None,
             setup_problems: Sequence[tuple[str, str, str, str]] = (), norms: np.ndarray | None = None,
             other: np.ndarray | None = None) -> list[Symptom]:
    """Every symptom of a run, with its cause and its words, most serious first.

    Parameters
    ----------
    logp_given, margin : ndarray (m, E)
        Per recorded row and recorded epoch: the log-probability of the row's label, and its margin
        over the most likely other class (:class:`dataaudit.dynamics.TrainingRecord`).
    labels : int ndarray (m,)
    in_training : bool ndarray (m,)
        False for rows held out for validation.
    epochs : int ndarray (E,)
        The recorded epochs (0-based).
    history : dict of str to sequence
        Per-epoch metrics, named as Keras' history names them (missing keys are fine).
    n_classes : int
    setup : dict, optional
        The model's set-up (optimizer, learning rate, framework).
    flags : RowFlags, optional
        The data checks' verdicts on the recorded rows.
    setup_problems : sequence of (code, severity, message, advice)
        The set-up lint's problems.
    norms : ndarray (m,), optional
        Per recorded row, the length of its standardised input (:func:`input_norms`).
    other : int ndarray (m, E), optional
        Per recorded row and epoch, the most likely class other than the label.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pg = np.clip(np.linspace(0.55, 0.99, 8)[None, :] + rng.normal(0, 0.01, (50, 8)), 0.01, 0.99)
    >>> logp, margin = np.log(pg), np.log(pg) - np.log(1 - pg)
    >>> history = {"loss": np.linspace(0.7, 0.02, 8), "accuracy": np.linspace(0.6, 1.0, 8)}
    >>> diagnose(logp, margin, np.zeros(50, int), np.ones(50, bool), np.arange(8), history, n_classes=2)
    []
    """
    run = Run(np.asarray(logp_given, np.float64), np.asarray(margin, np.float64),
              None if other is None else np.asarray(other, np.int64), np.asarray(labels),
              np.asarray(in_training, bool), np.asarray(epochs),
              {k: np.asarray(v, float) for k, v in (history or {}).items()}, dict(setup or {}), flags or RowFlags(),
              int(n_classes), list(setup_problems), None if norms is None else np.asarray(norms, float))
    framework = framework_of(run.setup)
    return [advice.write(s, framework) for s in find_symptoms(run)]


def _record_run(record: TrainingRecord, n_classes: int, **evidence: Any) -> Run:
    """The rules' view of a record (``evidence``: flags, setup_problems, norms)."""
    return Run(np.asarray(record.logp_given, np.float64), np.asarray(record.margin, np.float64),
               np.asarray(record.other, np.int64), np.asarray(record.labels), np.asarray(record.in_training, bool),
               np.asarray(record.epochs), {k: np.asarray(v, float) for k, v in record.history.items()},
               dict(record.setup), evidence.get("flags") or RowFlags(), int(n_classes),
               list(evidence.get("setup_problems", ())), evidence.get("norms"))


def setup_problems_of(setup: Mapping[str, Any], classes: np.ndarray) -> list[tuple[str, str, str, str]]:
    """The set-up lint's problems with the recorded set-up: (code, severity, message, advice)."""
    if not setup or not setup.get("output_units"):
        return []
    return [(p.code, p.severity, p.message, p.advice) for p in lint(dict(setup), labels_of(setup, classes))]


def _row_findings(symptoms: list[Symptom], n_never: int, n_often: int, n_train: int) -> list[Finding]:
    """The findings on rows never learned and rows often forgotten, read in the light of the run's
    symptoms (a broken run, an underfitting one, one that gave rows up to a few flagged ones)."""
    underfit = any(s.pattern is Pattern.PLATEAU and s.cause is Cause.CAPACITY_OR_OPTIMISATION for s in symptoms)
    gave_up = any(s.pattern is Pattern.LOSS_AND_ACCURACY_FALL and s.cause in (Cause.OUTLIERS, Cause.CONFLICTING_DUPLICATES)
                  for s in symptoms)
    collapsed = next((s for s in symptoms if s.pattern is Pattern.COLLAPSE), None)
    broken = (f"This run broke at epoch {collapsed.last_epoch + 1} (see its {collapsed.details.get('kind', 'collapse')} "
              "finding): these rows were lost with the weights, not a verdict on their labels; rescan a run that "
              "trains cleanly.") if collapsed is not None else None
    findings = []
    if n_never:
        share = n_never / n_train
        findings.append(Finding(
            check=NAME, severity="info" if broken else severity(share, **ROW_SEVERITY["never_learned"]), count=n_never,
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
            check=NAME, severity="info" if broken else severity(share, **ROW_SEVERITY["forgotten"]), count=n_often,
            message=(f"{n_often} training rows ({share:.1%}) were learned then forgotten "
                     f"{OFTEN_FORGOTTEN} times or more"),
            advice=broken or ("Rows that flip between right and wrong from epoch to epoch sit where the labels disagree "
                    "(near-identical inputs with different labels, wrong labels, the class boundary) or where the "
                    "learning rate is too high; they are what makes accuracy oscillate. Look at them in "
                    "samples.csv (forgetting_events)."),
        ))
    return findings


@dataclass
class Diagnosis:
    """What the stage adds to the report: symptoms (for ``summary["training"]["symptoms"]``),
    findings and gate metrics."""

    symptoms: list[Symptom] = field(default_factory=list)
    symptom_findings: list[Finding] = field(default_factory=list)
    row_findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def findings(self) -> list[Finding]:
        return self.symptom_findings + self.row_findings


def examine(record: TrainingRecord, verdicts: Mapping[str, RowVerdict], *, classes: np.ndarray,
            features: np.ndarray | None = None) -> Diagnosis:
    """The stage: the run's symptoms and causes, from its record and the checks' row verdicts
    (read by the cause they carry, never by a check's name or column)."""
    rows = record.rows
    run = _record_run(record, len(classes), flags=RowFlags.from_verdicts(verdicts, rows),
                      setup_problems=setup_problems_of(record.setup, classes),
                      norms=input_norms(features)[rows] if features is not None else None)
    framework = framework_of(run.setup)
    symptoms = [advice.write(s, framework) for s in find_symptoms(run)]
    train = record.in_training
    n_train = max(int(train.sum()), 1)
    never = int(never_learned(record.margin, train).sum())
    often = int((train & (forgetting_events(record.margin) >= OFTEN_FORGOTTEN)).sum())
    told = [Finding(check=NAME, severity=s.severity, count=int(s.count), message=s.message, advice=s.advice)
            for s in symptoms]
    metrics = {"training_symptoms": float(sum(s.severity != "info" for s in symptoms))}
    return Diagnosis(symptoms, told, _row_findings(symptoms, never, often, n_train), metrics)


def broken_run(record: TrainingRecord, classes: np.ndarray) -> dict[str, Any] | None:
    """Whether the run broke (collapse, divergence, answers all one class), from its record alone:
    ``{"epoch": 1-based, "kind"}`` or None. Evidence built from such a run averages in the broken
    epochs."""
    run = _record_run(record, len(classes))
    train = curves(run.history, run.logp_given, run.margin, run.in_training, run.epochs).get("training")
    symptom = collapse(run, train) if train is not None else None
    if symptom is None or symptom.severity != "critical":
        return None
    return {"epoch": symptom.last_epoch + 1, "kind": symptom.details["kind"]}


__all__ = ["Cause", "Diagnosis", "METRICS", "Pattern", "RowFlags", "SEVERITY", "Symptom", "accuracy_key",
           "broken_run", "carriers", "curves", "data_floor", "diagnose", "examine", "find_collapse",
           "find_fall_together", "find_plateau", "find_rise", "forgetting_by_step", "input_norms", "pull",
           "row_losses", "smooth"]
