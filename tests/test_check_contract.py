"""The check contract, over every check in the registry (as scikit-learn's estimator checks do).

Every check: columns and row verdicts of length n in the documented shape, metric keys equal
to the declared METRICS (the gate's fail-fast relies on it), JSON-ready figures, findings
graded by the known severities, and its inputs left as they were.
"""

from __future__ import annotations

import numpy as np
import pytest

import dataaudit
from dataaudit import doctor, io
from dataaudit.checks import REGISTRY
from dataaudit.checks.base import SEVERITY_ORDER, CheckResult, RowVerdict
from dataaudit.scan import PROVIDERS, build_inputs, validate


def _data(n=150, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], n // 3)
    X = rng.normal(size=(n, 5)) + 2.5 * np.eye(3, 5)[y]
    X[7] = X[8]                      # a conflicting exact pair
    y[7] = (y[8] + 1) % 3
    X[20] += 40                       # a far row
    pp = np.full((n, 3), 0.1)
    pp[np.arange(n), y] = 0.8
    pp[[3, 60]] = pp[[60, 3]]         # two confidently mislabeled rows
    X_test = np.r_[X[:5], rng.normal(size=(10, 5))]
    y_test = np.r_[y[:5], rng.integers(0, 3, 10)]
    return X, y, pp, X_test, y_test


def _record(X, y, epochs=6, seed=0):
    """A training record as AuditCallback writes it (no TensorFlow needed): rows 3 and 60 never learned."""
    from dataaudit.dynamics import TrainingRecord, fingerprint

    rng = np.random.default_rng(seed)
    n = len(y)
    p_given = np.clip(np.linspace(0.4, 0.95, epochs)[None, :] + rng.normal(0, 0.05, (n, epochs)), 0.01, 0.97)
    p_given[[3, 60]] = 0.05
    p_other = np.clip(1 - p_given - 0.02, 0.01, 1.0)
    history = {"loss": np.linspace(1.0, 0.3, epochs), "accuracy": np.linspace(0.6, 0.95, epochs)}
    setup = {"output_units": 3, "output_activation": "softmax", "loss": "sparse_categorical_crossentropy",
             "from_logits": None, "optimizer": "Adam", "learning_rate": 0.001,
             "labels": {"form": "integer", "n_classes": 3, "low": 0, "high": 2}}
    return TrainingRecord(n_rows=n, fingerprint=fingerprint(X), rows=np.arange(n), labels=np.asarray(y),
                          in_training=np.ones(n, bool), epochs=np.arange(epochs),
                          logp_given=np.log(p_given).astype(np.float16),
                          margin=(np.log(p_given) - np.log(p_other)).astype(np.float16),
                          other=np.broadcast_to(((np.asarray(y) + 1) % 3)[:, None], (n, epochs)).astype(np.int16),
                          n_outputs=3, history=history, setup=setup)


@pytest.fixture(scope="module")
def built():
    X, y, pp, X_test, y_test = _data()
    request = validate(X, y, model="auto", pred_probs=pp, X_test=X_test, y_test=y_test, checks=None,
                       random_state=0, options=None, progress=None, dynamics_given=_record(X, y))
    inputs, _ = build_inputs(request)
    return request, inputs


def _snapshot(inputs):
    arrays = {k: v for k, v in vars(inputs).items() if isinstance(v, np.ndarray)}
    arrays["graph.indices"] = inputs.neighbors.indices
    arrays["graph.distances"] = inputs.neighbors.distances
    arrays.update({f"record.{k}": v for k, v in vars(inputs.record).items() if isinstance(v, np.ndarray)})
    return {k: v.copy() for k, v in arrays.items()}


@pytest.mark.parametrize("name", list(REGISTRY))
def test_check_follows_the_contract(built, name):
    request, inputs = built
    module = REGISTRY[name]
    assert module.NAME == name and isinstance(module.TITLE, str) and module.TITLE
    assert set(module.NEEDS) <= set(PROVIDERS)
    assert isinstance(module.SEVERITY, dict)
    before = _snapshot(inputs)
    result = module.run(inputs)
    # A check that writes findings declares the cut-offs that grade them.
    assert module.SEVERITY or not result.findings
    n, k = inputs.n_samples, inputs.n_classes

    assert isinstance(result, CheckResult) and result.name == name
    assert set(result.metrics) == set(module.METRICS)
    assert all(np.isfinite(float(v)) for v in result.metrics.values())
    io.dumps_json(result.figures)  # JSON-ready: raises on numpy arrays of objects, NaN, ...
    for column in result.columns.values():
        assert len(column) == n
    rows = result.rows
    assert isinstance(rows, RowVerdict)
    for array in rows.arrays().values():
        assert np.asarray(array).shape == (n,)
    assert rows.flag.dtype == bool
    assert np.all((rows.score >= 0) & (rows.score <= 1))
    if rows.weight is not None:
        assert np.all(np.isfinite(rows.weight) & (rows.weight >= 0))
    if rows.exclude is not None:
        assert rows.exclude.dtype == bool
    if rows.group is not None:
        assert rows.group.min() >= -1
    if rows.relabel is not None:
        assert np.all((rows.relabel >= -1) & (rows.relabel < k))
    for finding in result.findings:
        assert finding.check == name and finding.severity in SEVERITY_ORDER
        assert finding.message and finding.advice and "\n" not in finding.message
    after = _snapshot(inputs)
    for key, value in before.items():
        np.testing.assert_array_equal(after[key], value, err_msg=f"{name} modified {key}")


def test_every_check_runs_alone_and_its_shown_columns_exist():
    X, y, pp, X_test, y_test = _data()
    record = _record(X, y)
    for name in REGISTRY:
        report = dataaudit.scan(X, y, pred_probs=pp, X_test=X_test, y_test=y_test, checks=name, dynamics=record)
        assert report.summary["checks_run"] == [name]
        stage = set(doctor.METRICS) if name == doctor.NAME else set()
        assert set(report.metrics) == set(REGISTRY[name].METRICS) | stage
        verdict = report.verdicts[name]
        missing = [c for c in verdict.shown if c not in report.samples.columns]
        assert not missing, (name, missing)
        listed = report.listed(name)
        assert np.all(verdict.flag[listed])
        assert np.all(np.diff(verdict.score[listed]) >= 0)   # worst first


def test_the_planted_problems_reach_the_row_verdicts():
    X, y, pp, X_test, y_test = _data()
    report = dataaudit.scan(X, y, pred_probs=pp, X_test=X_test, y_test=y_test, dynamics=_record(X, y))
    v = report.verdicts
    assert v["label_issues"].flag[[3, 60]].all()
    assert v["duplicates"].flag[[7, 8]].all() and v["duplicates"].group[7] == v["duplicates"].group[8]
    assert v["outliers"].flag[20]
    assert v["leakage"].flag[:5].all()
    assert v["training"].flag[[3, 60]].all() and v["training"].flag.sum() == 2
    assert not v["setup"].flag.any() and report.metrics["setup_problems"] == 0
    excluded = set(report.excluded().tolist())
    assert {3, 60, 20} <= excluded
    w = report.sample_weight()
    assert w[[3, 60, 20]].max() < np.median(w)
