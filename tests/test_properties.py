"""Property-based tests of the public API: a valid report, or a documented error — never anything else."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dataaudit
from dataaudit.errors import DataAuditError, InputError, InputTypeError

FEATURE_DTYPES = st.sampled_from([np.float32, np.float64, np.int8, np.int64, np.uint8, np.bool_, np.float16])


@st.composite
def datasets(draw):
    n = draw(st.integers(0, 40))
    shape = draw(st.sampled_from([(n,), (n, 1), (n, 3), (n, 2, 2), (n, 3, 2, 2)]))
    dtype = draw(FEATURE_DTYPES)
    X = draw(hnp.arrays(dtype, shape, elements=hnp.from_dtype(np.dtype(dtype), allow_infinity=True, allow_nan=True)))
    n_labels = draw(st.sampled_from([n, n, n, max(n - 1, 0)]))
    kind = draw(st.sampled_from(["int", "str", "float", "bool", "onehot"]))
    k = draw(st.integers(1, 4))
    codes = draw(hnp.arrays(np.int64, (n_labels,), elements=st.integers(0, k - 1)))
    if kind == "int":
        y = codes
    elif kind == "str":
        y = np.array([f" c{c} " for c in codes], dtype=object)
    elif kind == "float":
        y = codes.astype(float) + draw(st.sampled_from([0.0, 0.0, 0.5]))
    elif kind == "bool":
        y = codes % 2 == 0
    else:
        y = np.eye(k)[codes] if n_labels else np.zeros((0, k))
    as_frame = draw(st.booleans()) and X.ndim == 2
    if as_frame:
        X = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    return X, y


def _check_report(report, X):
    n = len(X)
    assert len(report.samples) == n
    assert report.summary["dataset"]["n_samples"] == n
    assert list(report.samples.index) == list(range(n))
    w = report.sample_weight()
    assert w.shape == (n,) and np.isfinite(w).all() and (w >= 0).all()
    report.to_json()  # JSON-serialisable, no NaN
    train, val = report.clean_split()
    assert len(np.intersect1d(train, val)) == 0


@st.composite
def well_formed(draw):
    """Data that must be audited: at least 2 samples, finite values within float32's range (a
    whole row may be NaN: imputed), one whole-number or text label per sample, of any accepted
    dtype and shape."""
    n = draw(st.integers(2, 40))
    shape = draw(st.sampled_from([(n,), (n, 1), (n, 3), (n, 2, 2), (n, 3, 2, 2)]))
    dtype = np.dtype(draw(FEATURE_DTYPES))
    bounds = {"min_value": -1e38, "max_value": 1e38} if dtype == np.float64 else {}
    X = draw(hnp.arrays(dtype, shape, elements=hnp.from_dtype(dtype, allow_infinity=False, allow_nan=False, **bounds)))
    if X.dtype.kind == "f" and X.ndim >= 2 and n > 2 and draw(st.booleans()):
        X = X.astype(np.float64)
        X[0, ...] = np.nan                     # one row missing everywhere: imputed
    k = draw(st.integers(1, 4))
    codes = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    kind = draw(st.sampled_from(["int", "str", "float", "bool", "onehot"]))
    y = {"int": lambda: codes, "str": lambda: np.array([f" c{c} " for c in codes], dtype=object),
         "float": lambda: codes.astype(float), "bool": lambda: codes % 2 == 0, "onehot": lambda: np.eye(k)[codes]}[kind]()
    if draw(st.booleans()) and X.ndim == 2:
        X = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    return X, y


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(well_formed())
def test_well_formed_data_always_gets_a_report(data):
    X, y = data
    report = dataaudit.scan(X, y, checks="class_balance,duplicates,outliers")
    _check_report(report, X)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(datasets())
def test_scan_returns_report_or_documented_error(data):
    X, y = data
    try:
        report = dataaudit.scan(X, y, checks="class_balance,duplicates")
    except DataAuditError as exc:
        # Bad data is an input error (one line naming what to fix), never a usage or output error.
        assert type(exc) in (InputError, InputTypeError), type(exc)
        assert str(exc) and "\n" not in str(exc)
        return
    _check_report(report, X)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 30), st.integers(2, 5), st.integers(0, 2**31 - 1), st.booleans())
def test_given_pred_probs_with_every_check(n, k, seed, string_labels):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    codes = rng.integers(0, k, size=n)
    y = np.array([f"class {c}" for c in codes]) if string_labels else codes
    n_classes = len(np.unique(codes))
    pp = rng.dirichlet(np.ones(n_classes), size=n)
    report = dataaudit.scan(X, y, pred_probs=pp if n_classes > 1 else None)
    _check_report(report, X)
