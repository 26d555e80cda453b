"""The one orchestrator: load -> probe -> neighbour graph -> checks -> report."""

from __future__ import annotations

import sys
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from . import __version__, data, gate, neighbors, probe, remedies
from .checks import REGISTRY
from .checks.base import NEED_NEIGHBORS, NEED_PROBE, NEED_TEST, SEVERITY_ORDER, CheckInputs, CheckResult, Finding
from .errors import InputError, UsageError
from .report import SCHEMA_VERSION, Report

#: Neighbours per sample in the shared graph.
DEFAULT_K = 10

Progress = Callable[[str], None]


def _stderr_progress(message: str) -> None:
    print(f"dataaudit: {message}", file=sys.stderr, flush=True)


def select_checks(checks: str | Iterable[str] | None, has_test: bool) -> list[str]:
    """Resolve ``checks`` to registry names, in registry order."""
    if checks is None:
        wanted = [name for name, mod in REGISTRY.items() if NEED_TEST not in mod.NEEDS or has_test]
        return wanted
    if isinstance(checks, str):
        checks = [c for c in checks.split(",")]
    names = [c.strip() for c in checks if c and c.strip()]
    unknown = [c for c in names if c not in REGISTRY]
    if unknown:
        raise UsageError(f"unknown check '{unknown[0]}'; choose from: {', '.join(REGISTRY)}")
    if not names:
        raise UsageError(f"no checks selected; choose from: {', '.join(REGISTRY)}")
    for c in names:
        if NEED_TEST in REGISTRY[c].NEEDS and not has_test:
            raise UsageError(f"the '{c}' check needs a held-out split: pass X_test and y_test (--test-x/--test-y)")
    return [c for c in REGISTRY if c in names]


def known_metrics() -> dict[str, str]:
    """Every gate metric, mapped to the check that computes it."""
    return {m: name for name, mod in REGISTRY.items() for m in mod.METRICS}


def scan(
    X: Any,
    y: Any = None,
    *,
    model: Any = "auto",
    pred_probs: Any = None,
    X_test: Any = None,
    y_test: Any = None,
    checks: str | Iterable[str] | None = None,
    random_state: int = 0,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    fail_on: str | None = None,
    progress: bool | Progress | None = None,
) -> Report:
    """Audit a classification dataset.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...) or DataFrame
        Features; more than 2-D is flattened per sample (images). Memory-mapped arrays are
        read in chunks.
    y : array-like of shape (n_samples,)
        Labels, integers or strings (one-hot rows are converted).
    model : "auto", str, scikit-learn classifier or Keras model
        The probe that produces out-of-sample probabilities.
    pred_probs : array-like of shape (n_samples, n_classes), optional
        Precomputed out-of-sample probabilities (columns in sorted label order); no probe is trained.
    X_test, y_test : optional
        A held-out split to check for leakage.
    checks : str or list of str, optional
        Subset of checks to run (default: all that apply).
    random_state : int, default 0
        All randomness; the same seed gives the same report.
    options : dict, optional
        Per-check options, e.g. ``{"class_balance": {"beta": 0.99}}``; ``"probe"`` holds probe
        options: ``passes`` (refit the probe without the samples the passes before flagged;
        default 2; 1 for ``model="auto"`` from 5,001 to 200,000 rows and for Keras; 4 for
        ``model="ensemble"`` above 5,000 rows), ``epochs`` and
        ``batch_size`` for Keras models.
    fail_on : str, optional
        A gate such as ``"label_issues>0.05,conflicting_duplicates>0"``; the result is in
        ``report.summary["gate"]``.
    progress : bool or callable, optional
        Report progress of long steps (``True``: to standard error).

    Returns
    -------
    Report

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
    say: Progress | None = _stderr_progress if progress is True else (progress or None)
    options = dict(options or {})
    conditions = gate.parse(fail_on) if fail_on else None

    # 1. Validate every input before any long computation.
    dataset = data.prepare(X, y)
    has_test = X_test is not None or y_test is not None
    if has_test and (X_test is None or y_test is None):
        raise UsageError("give both X_test and y_test (--test-x and --test-y), or neither")
    selected = select_checks(checks, has_test)
    probe_options = dict(options.pop("probe", {}))
    unknown_opts = [k for k in options if k not in REGISTRY]
    if unknown_opts:
        raise UsageError(f"options given for unknown check '{unknown_opts[0]}'; checks: {', '.join(REGISTRY)}")
    if conditions is not None:
        # Fail fast on a misspelt metric or one whose check is not selected.
        available = {m: 0.0 for c in selected for m in REGISTRY[c].METRICS}
        gate.evaluate(conditions, available, known_metrics())
    test = data.prepare_test(X_test, y_test, dataset) if has_test else None
    given_probs = None
    if pred_probs is not None:
        given_probs = data.check_pred_probs(pred_probs, dataset.n_samples, dataset.n_classes)

    needs = set().union(*(REGISTRY[c].NEEDS for c in selected))
    skipped: list[Finding] = []
    if NEED_PROBE in needs and dataset.n_classes < 2:
        dropped = [c for c in selected if NEED_PROBE in REGISTRY[c].NEEDS]
        selected = [c for c in selected if c not in dropped]
        needs = set().union(*(REGISTRY[c].NEEDS for c in selected)) if selected else set()
        skipped.append(
            Finding(
                "input",
                "warning",
                dataset.n_samples,
                f"all samples carry one label ({dataset.classes[0]!r}): skipped {', '.join(dropped)}",
                "A classifier needs at least two classes; check that the labels loaded are the right column/file.",
            )
        )

    # 2. Shared inputs: probe probabilities and the neighbour graph, each built once.
    inputs = CheckInputs(
        raw=dataset.raw,
        features=dataset.features,
        labels=dataset.labels,
        classes=dataset.classes,
        random_state=random_state,
    )
    if test is not None:
        inputs.raw_test, inputs.features_test, inputs.labels_test = test
    probe_result = None
    if NEED_PROBE in needs:
        if given_probs is not None:
            probe_result = probe.from_pred_probs(given_probs, dataset.labels)
        else:
            probe_result = _probe_with_refit(dataset, model, random_state, say, probe_options)
        inputs.pred_probs = probe_result.pred_probs
        inputs.loss = probe_result.loss
        inputs.probe_info = probe_result.info
    if NEED_NEIGHBORS in needs:
        inputs.neighbors = neighbors.build_neighbor_graph(
            dataset.features, DEFAULT_K, random_state=random_state, progress=say
        )

    # 3. The checks, each on its own.
    results: list[CheckResult] = []
    for name in selected:
        if say:
            say(f"check: {name}")
        results.append(REGISTRY[name].run(inputs, **dict(options.get(name, {}))))

    return _assemble(dataset, test, results, skipped, inputs, probe_result, conditions, random_state)


#: A refit pass is only worth its time when the first pass flags at least this fraction.
REFIT_MIN_FLAGGED = 0.01


def _probe_with_refit(dataset, model, random_state, say, probe_options) -> probe.ProbeResult:
    """Run the probe; then refit it ``passes - 1`` times with the samples confident
    learning flagged left out of training (see :mod:`dataaudit.probe`). From the third pass
    on, the result is the mean of the last two passes' probabilities: two refits on slightly
    different clean sets, averaged, vary less than either (measured in docs/benchmarks.md)."""
    options = dict(probe_options)
    features, labels, k = dataset.features, dataset.labels, dataset.n_classes
    passes = options.pop("passes", None)
    if passes is None:
        passes = probe.default_passes(model, len(labels))
    if not isinstance(passes, int) or isinstance(passes, bool) or passes < 1:
        raise UsageError(f"probe option 'passes' must be a whole number >= 1, not {passes!r}")
    from .checks.label_issues import find_issues

    result = probe.run_probe(features, labels, k, model, random_state=random_state, progress=say, **options)
    previous = None
    done = 1
    while done < passes:
        flagged = find_issues(labels, result.pred_probs)
        if flagged.mean() < REFIT_MIN_FLAGGED:
            break
        if say:
            say(f"probe pass {done + 1}/{passes}: refitting without the {int(flagged.sum())} samples flagged so far")
        previous = result
        result = probe.run_probe(
            features, labels, k, model, random_state=random_state, progress=say, exclude=flagged, **options
        )
        done += 1
    if done >= 3:
        result = probe.average(previous, result, labels)
    result.info["passes"] = done
    return result


def _assemble(dataset, test, results, extra_findings, inputs, probe_result, conditions, random_state) -> Report:
    n = dataset.n_samples
    columns: dict[str, Any] = {"label": data.label_values(dataset.classes, dataset.labels)}
    for r in results:
        for key, col in r.columns.items():
            if len(col) != n:
                raise AssertionError(f"check {r.name} returned column {key} of length {len(col)}, expected {n}")
            columns[key] = col
    samples = pd.DataFrame(columns)
    samples.index.name = "index"
    samples["sample_weight"] = remedies.sample_weight(samples, dataset.labels, dataset.n_classes)

    findings = list(extra_findings)
    if dataset.notes:
        for note in dataset.notes:
            findings.append(Finding("input", "info", 0, note, "Nothing to do if this is what you meant."))
    for r in results:
        findings.extend(r.findings)
    order = {name: i for i, name in enumerate(["input", *REGISTRY])}
    findings.sort(key=lambda f: (-SEVERITY_ORDER[f.severity], order.get(f.check, 99)))

    counts = np.bincount(dataset.labels, minlength=dataset.n_classes)
    summary: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "dataaudit", "version": __version__},
        "random_state": random_state,
        "dataset": {
            "n_samples": n,
            "n_features": dataset.n_features,
            "sample_shape": list(dataset.sample_shape),
            "n_classes": dataset.n_classes,
            "classes": [
                {"label": data.to_python(dataset.classes[c]), "count": int(counts[c])} for c in range(dataset.n_classes)
            ],
            "n_missing_values": dataset.n_missing,
            "notes": list(dataset.notes),
        },
        "checks_run": [r.name for r in results],
    }
    if test is not None:
        summary["dataset"]["n_test_samples"] = int(test[0].shape[0])
    if probe_result is not None:
        summary["probe"] = probe_result.info
    if inputs.neighbors is not None:
        summary["neighbors"] = inputs.neighbors.info()
    metrics: dict[str, float] = {}
    for r in results:
        summary[r.name] = r.figures
        metrics.update({k: round(float(v), 6) for k, v in r.metrics.items()})
    summary["metrics"] = metrics
    summary["findings"] = [f.to_dict() for f in findings]
    if conditions is not None:
        tripped = gate.evaluate(conditions, metrics, known_metrics())
        summary["gate"] = {"conditions": [c.text for c in conditions], "tripped": tripped, "passed": not tripped}
    return Report(
        samples,
        summary,
        labels=dataset.labels,
        classes=dataset.classes,
        raw=dataset.raw,
        sample_shape=dataset.sample_shape,
        random_state=random_state,
        pred_probs=inputs.pred_probs,
    )


__all__ = ["scan", "select_checks", "known_metrics", "InputError"]
