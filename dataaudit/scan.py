"""The one orchestrator: validate -> build shared inputs -> run checks -> assemble the report.

Shared inputs (probe probabilities, the neighbour graph, the held-out split) are built once
each, by the provider in :data:`PROVIDERS` for what the selected checks declare in ``NEEDS``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from . import data, doctor, dynamics, io, neighbors, probe, remedies, run_evidence
from ._version import __version__
from .checks import REGISTRY
from .checks.base import (
    NEED_DYNAMICS, NEED_NEIGHBORS, NEED_PROBE, NEED_SETUP, NEED_TEST, SEVERITY_ORDER, CheckInputs, CheckResult, Finding,
)
from .confident import find_issues
from .errors import InputTypeError, UsageError, param
from .render.html import render as render_html
from .report import SCHEMA_VERSION, Report
from .selection import available_needs, select_checks, validate_options
from .timings import Stopwatch
from .utils import json_value, resolve_seed

#: Neighbours per sample in the shared graph.
DEFAULT_K = 10
Progress = Callable[[str], None]


def _stderr_progress(message: str) -> None:
    print(f"dataaudit: {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- 1. validate


@dataclass
class ScanRequest:
    """Everything ``scan`` was asked for, validated; what the providers and checks are built from."""

    dataset: data.Dataset
    selected: list[str]
    seed: int
    options: dict[str, dict[str, Any]]
    say: Progress | None = None
    test: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    record: dynamics.TrainingRecord | None = None
    setup: dict[str, Any] | None = None
    pred_probs: np.ndarray | None = None
    probe_plan: probe.ProbePlan | None = None
    probe_options: dict[str, Any] = field(default_factory=dict)
    skipped: list[Finding] = field(default_factory=list)

    @property
    def needs(self) -> set[str]:
        return set().union(*(REGISTRY[c].NEEDS for c in self.selected)) if self.selected else set()


def _record_of(given: Any) -> dynamics.TrainingRecord:
    """A training record from ``dynamics=``: a path, an AuditCallback or a TrainingRecord."""
    if isinstance(given, dynamics.TrainingRecord):
        return given
    if isinstance(given, (str, os.PathLike)):
        return dynamics.TrainingRecord.from_arrays(io.load_record(given), source=f"file '{os.fspath(given)}'")
    if callable(getattr(given, "record", None)):
        return given.record()
    raise InputTypeError(
        f"{param('dynamics')} must be a TrainingRecorder, an AuditCallback, the path of a saved record or a TrainingRecord, "
        f"not {type(given).__name__}"
    )


def validate(
    X, y, *, model, pred_probs, X_test, y_test, checks, random_state, options, progress, dynamics_given=None
) -> ScanRequest:
    """Check every input before any long computation; see :func:`scan` for the parameters."""
    seed = resolve_seed(random_state)
    say: Progress | None = _stderr_progress if progress is True else (progress or None)
    check_opts, probe_options = validate_options(options)
    dataset = data.prepare(X, y)
    has_test = X_test is not None or y_test is not None
    if has_test and (X_test is None or y_test is None):
        raise UsageError(f"give both {param('X_test')} and {param('y_test')}, or neither")
    available = available_needs(has_test=has_test, has_record=dynamics_given is not None, model=model)
    request = ScanRequest(dataset, select_checks(checks, available), seed, check_opts, say, probe_options=probe_options)
    if has_test:
        request.test = data.prepare_test(X_test, y_test, dataset)
    if dynamics_given is not None:
        record = _record_of(dynamics_given)
        columns = dynamics.match(record, dataset.raw, dataset.labels, dataset.classes)
        request.record = record.in_codes(dataset.labels, columns)
    if pred_probs is not None:
        request.pred_probs = data.check_pred_probs(pred_probs, dataset.n_samples, dataset.n_classes)
    if NEED_PROBE in request.needs and dataset.n_classes < 2:
        dropped = [c for c in request.selected if NEED_PROBE in REGISTRY[c].NEEDS]
        request.selected = [c for c in request.selected if c not in dropped]
        request.skipped.append(Finding(
            "input", "warning", dataset.n_samples,
            f"all samples carry one label ({json_value(dataset.classes[0])!r}): skipped {', '.join(dropped)}",
            "A classifier needs at least two classes; check that the labels loaded are the right column/file.",
        ))
    # With a training record and no probe asked for, the run is the evidence: no probe is trained.
    record_only = request.record is not None and not probe.model_given(model)
    if NEED_PROBE in request.needs and request.pred_probs is None and not record_only:
        request.probe_plan = probe.make_plan(
            model, np.bincount(dataset.labels, minlength=dataset.n_classes), dataset.sample_shape,
            random_state=seed, sample=dataset.features, **probe_options,
        )
    if NEED_SETUP in request.needs:
        request.setup = _setup_of(request, model)
    return request


def _setup_of(request: ScanRequest, model: Any) -> dict[str, Any]:
    """The Keras set-up the ``setup`` check reads: the recorded run's, else the given model's."""
    if request.record is not None and request.record.setup:
        return {**request.record.setup, "source": "training record"}
    from .keras.describe import describe
    from .keras.estimator import load_model

    keras_model = model
    if request.probe_plan is not None and hasattr(request.probe_plan.estimators[0], "n_classes"):
        keras_model = request.probe_plan.estimators[0].model  # already loaded by the probe
    elif probe.is_keras_file(model):
        keras_model = load_model(os.fspath(model))
    return {**describe(keras_model), "label_form": request.dataset.label_form, "source": "model"}


# ----------------------------------------------------------------------------- 2. shared inputs


@dataclass
class Provided:
    """What a provider adds: fields of :class:`CheckInputs`, and its entry in ``report.summary``."""

    fields: dict[str, Any]
    summary: dict[str, Any] | None = None


def _provide_probe(request: ScanRequest) -> Provided:
    """Predicted probabilities: given ones, a probe's out-of-sample ones, the training record's,
    or the record's combined with a probe's."""
    ds = request.dataset
    if request.pred_probs is not None:
        result = probe.from_pred_probs(request.pred_probs, ds.labels)
    else:
        result = None
        if request.probe_plan is not None:
            result = probe.fit_out_of_sample(
                ds.features, ds.labels, ds.n_classes, request.probe_plan, flag=find_issues,
                random_state=request.seed, progress=request.say, sample_shape=ds.sample_shape,
            )
        if request.record is not None:
            result = run_evidence.evidence(request.record, ds.labels, ds.n_classes, probe=result, random_state=request.seed)
            broken = doctor.broken_run(request.record, ds.classes)
            if broken is not None:
                # Evidence from a run that broke averages in the broken epochs: the label check says so.
                result.info["broken_run"] = broken
    fields = {"pred_probs": result.pred_probs, "loss": result.loss, "probe_info": result.info,
              "judged": result.judged}
    return Provided(fields, result.info)


def _provide_record(request: ScanRequest) -> Provided:
    return Provided({"record": request.record}, request.record.summary())


def _provide_neighbors(request: ScanRequest) -> Provided:
    graph = neighbors.build_neighbor_graph(request.dataset.features, DEFAULT_K, random_state=request.seed,
                                           progress=request.say)
    return Provided({"neighbors": graph}, graph.info())


def _provide_setup(request: ScanRequest) -> Provided:
    return Provided({"setup": request.setup})


def _provide_test(request: ScanRequest) -> Provided:
    raw_test, features_test, labels_test = request.test
    return Provided({"raw_test": raw_test, "features_test": features_test, "labels_test": labels_test})


#: Who builds each shared input, in the order they are built.
PROVIDERS: dict[str, Callable[[ScanRequest], Provided]] = {
    NEED_SETUP: _provide_setup,
    NEED_TEST: _provide_test,
    NEED_DYNAMICS: _provide_record,
    NEED_PROBE: _provide_probe,
    NEED_NEIGHBORS: _provide_neighbors,
}


def build_inputs(request: ScanRequest, watch: Stopwatch | None = None) -> tuple[CheckInputs, dict[str, Provided]]:
    """The inputs every selected check reads, each shared input built once (each a stage of
    ``watch``)."""
    ds = request.dataset
    watch = watch or Stopwatch()
    inputs = CheckInputs(raw=ds.raw, features=ds.features, labels=ds.labels, classes=ds.classes,
                         sample_shape=ds.sample_shape, random_state=request.seed)
    provided = {}
    for need, provide in PROVIDERS.items():
        if need in request.needs:
            with watch.stage(need):
                provided[need] = provide(request)
            for key, value in provided[need].fields.items():
                setattr(inputs, key, value)
    return inputs, provided


# ----------------------------------------------------------------------------- the scan


def scan(
    X: Any,
    y: Any = None,
    *,
    model: Any = probe.AUTO,
    pred_probs: Any = None,
    X_test: Any = None,
    y_test: Any = None,
    checks: str | Iterable[str] | None = None,
    random_state: Any = 0,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    progress: bool | Progress | None = None,
    dynamics: Any = None,
    client: Any = None,
) -> Report:
    """Audit a classification dataset.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...) or DataFrame
        Features; more than 2-D is flattened per sample for the scikit-learn probes and the
        neighbour graph (a Keras model gets the shape it declares). Memory-mapped arrays are
        read in chunks.
    y : array-like of shape (n_samples,)
        Labels, integers or strings (one-hot rows are converted).
    model : "auto", str, scikit-learn classifier or Keras model
        The probe that produces out-of-sample probabilities (see :mod:`dataaudit.probe`).
    pred_probs : array-like of shape (n_samples, n_classes), optional
        Precomputed out-of-sample probabilities (columns in sorted label order); no probe is trained.
    X_test, y_test : optional
        A held-out split to check for leakage.
    checks : str or list of str, optional
        Subset of checks to run (default: all that apply).
    random_state : int, None or numpy.random.Generator, default 0
        All randomness; the same int gives the same report.
    options : dict, optional
        Per-check options, e.g. ``{"class_balance": {"beta": 0.99}}`` (the keyword arguments of
        each check's ``run``); ``"probe"`` holds probe options: ``passes`` (refit the probe
        without the samples the passes before flagged; default 2; for ``model="auto"`` from
        5,001 to 200,000 rows 3, the two refits with its networks only and only when the first
        pass flags 5% of the rows or more (1 on inputs wider than 256 features); 1 for Keras;
        4 for ``model="ensemble"`` above 5,000 rows),
        ``epochs``, ``batch_size`` and ``augment`` (random shifts of images, a share of each side) for
        Keras models. An unknown key is a usage error.
    progress : bool or callable, optional
        Report progress of long steps (``True``: to standard error).
    dynamics : AuditCallback, str or TrainingRecord, optional
        The record of your own Keras run (:class:`dataaudit.keras.AuditCallback`, or the path
        of its saved ``.npz``): the run becomes the evidence for the label and loss verdicts
        (no probe is trained unless ``model`` is given too: then both are combined) and
        the ``training`` check reads its per-epoch evidence.
    client : dask.distributed.Client, optional
        Run on this Dask cluster (``pip install "dataaudit[dask]"``): ``X`` and ``y`` may be Dask
        arrays, numpy arrays or memory-mapped files; the rows stay on the workers, and
        ``report.samples`` is a Dask DataFrame and ``report.sample_weight()`` a Dask array (see
        :mod:`dataaudit.distributed`). None (the default): this process.

    Returns
    -------
    Report
        ``report.gate("label_issues>0.05")`` then applies a pipeline gate.

    Examples
    --------
    >>> import numpy as np, dataaudit
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5)); y = (X[:, 0] > 0).astype(int)
    >>> X[10] = X[11]; y[10] = 1 - y[11]
    >>> report = dataaudit.scan(X, y, checks="class_balance,duplicates")
    >>> int(report.samples["is_conflicting_duplicate"].sum())
    2
    """
    if client is not None:
        if dynamics is not None:
            raise UsageError(f"{param('dynamics')} does not work with {param('client')} yet: scan on one machine for it")
        from .distributed import cluster_failures
        from .distributed.scan import scan_on_cluster

        with cluster_failures():
            return scan_on_cluster(X, y, client=client, model=model, pred_probs=pred_probs, X_test=X_test, y_test=y_test,
                                   checks=checks,
                                   random_state=random_state, options=options,
                                   progress=_stderr_progress if progress is True else (progress or None))
    watch = Stopwatch()
    with watch.stage("validate"):
        request = validate(X, y, model=model, pred_probs=pred_probs, X_test=X_test, y_test=y_test, checks=checks,
                           random_state=random_state, options=options, progress=progress, dynamics_given=dynamics)
    inputs, provided = build_inputs(request, watch)
    results = []
    for name in request.selected:
        if request.say:
            request.say(f"check: {name}")
        with watch.stage(f"check: {name}"):
            results.append(REGISTRY[name].run(inputs, **request.options.get(name, {})))
    with watch.stage("doctor"):
        diagnosis = examine_run(request, results)
    with watch.stage("report"):
        report = assemble(request, results, provided, diagnosis)
    report.timings = watch.to_dict()
    return report


# ----------------------------------------------------------------------------- 3. the doctor stage


def examine_run(request: ScanRequest, results: list[CheckResult]) -> doctor.Diagnosis | None:
    """The training doctor, after every check: the run's symptoms and causes from its record and
    the checks' row verdicts (when the training check ran)."""
    if request.record is None or doctor.NAME not in request.selected:
        return None
    if request.say:
        request.say("doctor: reading the run")
    ds = request.dataset
    return doctor.examine(request.record, {r.name: r.rows for r in results}, classes=ds.classes,
                          features=ds.features)


# ----------------------------------------------------------------------------- 4. assemble


def _dataset_summary(request: ScanRequest) -> dict[str, Any]:
    ds = request.dataset
    counts = np.bincount(ds.labels, minlength=ds.n_classes)
    out = {
        "n_samples": ds.n_samples,
        "n_features": ds.n_features,
        "sample_shape": list(ds.sample_shape),
        "n_classes": ds.n_classes,
        "classes": [{"label": json_value(ds.classes[c]), "count": int(counts[c])} for c in range(ds.n_classes)],
        "n_missing_values": ds.n_missing,
        "notes": list(ds.notes),
    }
    if request.test is not None:
        out["n_test_samples"] = int(request.test[0].shape[0])
    return out


def assemble(request: ScanRequest, results: list[CheckResult], provided: dict[str, Provided],
             diagnosis: doctor.Diagnosis | None = None) -> Report:
    """The report: the samples table, the summary and the per-check row verdicts."""
    ds = request.dataset
    n = ds.n_samples
    columns: dict[str, Any] = {"label": ds.classes[ds.labels]}
    for r in results:
        for key, col in {**r.columns, **{f"{r.name}.{k}": v for k, v in r.rows.arrays().items()}}.items():
            if len(col) != n:
                raise AssertionError(f"check {r.name} returned {key} of length {len(col)}, expected {n}")
        columns.update(r.columns)
    samples = pd.DataFrame(columns)
    samples.index.name = "index"
    verdicts = {r.name: r.rows for r in results}
    samples["sample_weight"] = remedies.sample_weight(verdicts.values(), ds.labels, ds.n_classes)

    findings = list(request.skipped)
    findings += [Finding("input", "info", 0, note, "Nothing to do if this is what you meant.") for note in ds.notes]
    for r in results:
        findings.extend(r.findings)
    order = {name: i for i, name in enumerate(["input", *REGISTRY])}
    first: set[int] = set()
    if diagnosis is not None:
        findings.extend(diagnosis.findings)
        # The run's symptoms tell the story the other findings are read in: first at each severity.
        first = {id(f) for f in diagnosis.symptom_findings}
    findings.sort(key=lambda f: (-SEVERITY_ORDER[f.severity], -1 if id(f) in first else order.get(f.check, len(order))))

    summary: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "dataaudit", "version": __version__},
        "random_state": request.seed,
        "dataset": _dataset_summary(request),
        "checks_run": [r.name for r in results],
    }
    for need, p in provided.items():
        if p.summary is not None:
            summary[need] = p.summary
    for r in results:
        summary[r.name] = r.figures
    metrics = {k: v for r in results for k, v in r.metrics.items()}
    if diagnosis is not None:
        summary[doctor.NAME]["symptoms"] = [s.to_dict() for s in diagnosis.symptoms]
        metrics.update(diagnosis.metrics)
    summary["metrics"] = {k: round(float(v), 6) for k, v in metrics.items()}
    summary["findings"] = [f.to_dict() for f in findings]
    return Report(
        samples,
        summary,
        labels=ds.labels,
        classes=ds.classes,
        verdicts=verdicts,
        titles={r.name: REGISTRY[r.name].TITLE for r in results},
        raw=ds.raw,
        sample_shape=ds.sample_shape,
        random_state=request.seed,
        views={"report.html": render_html},
    )


__all__ = ["scan", "select_checks", "available_needs", "validate", "build_inputs", "assemble", "PROVIDERS"]
