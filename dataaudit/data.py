"""Input validation: the only place where inputs are checked (files are read by :mod:`dataaudit.io`).

Everything downstream receives a :class:`Dataset` whose invariants hold: two-dimensional
features with at least two samples, finite float32 values for models, integer label codes
with the original label values kept aside, and notes on every conversion made on the way.
Messages name the Python parameters (``X``, ``y``, ``pred_probs``); the CLI shows its flags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError, InputTypeError, param
from .labels import is_one_hot
from .utils import chunk_rows



@dataclass
class Dataset:
    """Validated features and labels, ready for the probe and the checks.

    Attributes
    ----------
    raw : ndarray of shape (n_samples, n_features)
        The features as given, flattened per sample (a view where possible, e.g. of a
        memory-mapped file). Exact-duplicate detection compares these values.
    features : ndarray of shape (n_samples, n_features), float32
        Finite values for models and neighbour search (missing values imputed).
    labels : ndarray of shape (n_samples,), int64
        Codes into ``classes``.
    classes : ndarray
        The distinct original label values, sorted.
    sample_shape : tuple
        The shape of one sample as given (``(8, 8)`` for 8x8 images).
    feature_names : list of str or None
    notes : list of str
        Conversions made while loading (one per line, user-facing).
    n_missing : int
        Missing feature values that were imputed.
    label_form : str
        How the labels were given: ``"integer"``, ``"text"`` or ``"one-hot"``.
    """

    raw: np.ndarray
    features: np.ndarray
    labels: np.ndarray
    classes: np.ndarray
    sample_shape: tuple
    feature_names: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    n_missing: int = 0
    n_missing_rows: int = 0
    label_form: str = "integer"

    @property
    def n_samples(self) -> int:
        return int(self.features.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.features.shape[1])

    @property
    def n_classes(self) -> int:
        return int(len(self.classes))

    @property
    def is_image(self) -> bool:
        """True when samples were given as 2-D or 3-D arrays (greyscale or colour images)."""
        return len(self.sample_shape) in (2, 3)


# ----------------------------------------------------------------------------- arrays


def _table_to_array(X: pd.DataFrame, notes: list[str]) -> tuple[np.ndarray, list[str]]:
    names = [str(c) for c in X.columns]
    cols = []
    encoded = []
    for name in X.columns:
        col = X[name]
        if pd.api.types.is_bool_dtype(col):
            cols.append(col.astype(float).to_numpy())
        elif pd.api.types.is_numeric_dtype(col):
            cols.append(col.to_numpy(dtype=float, na_value=np.nan))
        else:
            numeric = pd.to_numeric(col, errors="coerce")
            if numeric.notna().sum() == col.notna().sum():
                cols.append(numeric.to_numpy(dtype=float))
            else:
                # Text categories become integer codes: enough for trees, duplicates and
                # a rough distance; one-hot encode beforehand for a linear probe.
                codes, _ = pd.factorize(col.astype("string").str.strip(), sort=True)
                cols.append(np.where(codes < 0, np.nan, codes).astype(float))
                encoded.append(str(name))
    if encoded:
        notes.append(f"text columns encoded as category codes: {', '.join(encoded[:10])}")
    if not cols:
        raise InputError("X has no feature columns (after removing the label column)")
    return np.column_stack(cols), names


def as_feature_matrix(X: Any, notes: list[str]) -> tuple[np.ndarray, tuple, list[str] | None]:
    """Turn any accepted X into an (n, d) array view, the per-sample shape and column names."""
    if isinstance(X, pd.Series):
        X = X.to_frame()
    if isinstance(X, pd.DataFrame):
        if X.shape[0] == 0:
            raise InputError("X has no samples (0 rows)")
        arr, names = _table_to_array(X, notes)
        return arr, (arr.shape[1],), names
    if isinstance(X, (list, tuple)):
        X = np.asarray(X)
    if not isinstance(X, np.ndarray):
        raise InputTypeError(
            f"X must be a numpy array, a memory-mapped array or a pandas DataFrame, not {type(X).__name__}"
        )
    if X.dtype.hasobject or X.dtype.names is not None or X.dtype.kind in "USVMm":
        if X.dtype.kind in "US" or X.dtype.hasobject:
            try:
                X = X.astype(float)
            except (TypeError, ValueError):
                raise InputTypeError(
                    f"X has non-numeric values (dtype {X.dtype}); pass numbers, or a DataFrame "
                    "for tables with text columns"
                ) from None
        else:
            raise InputTypeError(f"X has an unsupported dtype {X.dtype}: pass a numeric array")
    if X.dtype.kind == "c":
        raise InputTypeError("X has complex numbers; pass real-valued features")
    if X.ndim == 0:
        raise InputError("X is a single number; pass an array of shape (n_samples, n_features)")
    if X.shape[0] == 0:
        raise InputError("X has no samples (its first dimension is 0)")
    if X.ndim == 1:
        # One feature per sample.
        X = X.reshape(-1, 1)
        notes.append("X is 1-D: treated as one feature per sample")
    sample_shape = tuple(X.shape[1:])
    n_features = int(np.prod(sample_shape))
    if n_features == 0:
        raise InputError(f"X has no features (shape {X.shape})")
    if X.ndim > 2:
        X = X.reshape(X.shape[0], n_features)
    if X.dtype == np.bool_:
        X = X.astype(np.uint8)
    return X, sample_shape, None


def to_float_features(raw: np.ndarray, notes: list[str]) -> tuple[np.ndarray, int, int]:
    """Copy ``raw`` to finite float32 in chunks (memory-mapped input is never loaded twice).

    Missing values (NaN) are imputed with the column median: models and neighbour search
    need finite numbers, and the median keeps a sample's other features usable. Infinite
    values are refused because they are almost always a bug upstream.
    """
    n, d = raw.shape
    out = np.empty((n, d), dtype=np.float32)
    n_nan = 0
    nan_rows = 0
    first_bad = None
    n_inf = 0
    step = chunk_rows(d)
    for start in range(0, n, step):
        block = np.asarray(raw[start : start + step])
        with np.errstate(over="ignore", invalid="ignore"):
            out[start : start + len(block)] = block
        part = out[start : start + len(block)]
        if part.dtype.kind == "f":
            bad_nan = np.isnan(part)
            bad_inf = np.isinf(part)
            if bad_inf.any():
                n_inf += int(bad_inf.sum())
                if first_bad is None:
                    r, c = np.argwhere(bad_inf)[0]
                    first_bad = (start + int(r), int(c))
            if bad_nan.any():
                n_nan += int(bad_nan.sum())
                nan_rows += int(bad_nan.any(axis=1).sum())
    if n_inf:
        r, c = first_bad
        raise InputError(
            f"X has {n_inf} infinite (or too large for float32) values, the first at row {r}, column {c}: "
            "replace them with finite numbers, or with NaN to have them imputed"
        )
    if n_nan:
        if n_nan == out.size:
            raise InputError("X holds only missing values (NaN)")
        with np.errstate(all="ignore"):
            medians = np.nanmedian(out, axis=0)
        medians = np.where(np.isnan(medians), 0.0, medians).astype(np.float32)
        rows, cols = np.nonzero(np.isnan(out))
        out[rows, cols] = medians[cols]
        notes.append(
            f"X has {n_nan} missing values (NaN) in {nan_rows} rows: imputed with column medians "
            "for the probe and neighbours"
        )
    return out, n_nan, nan_rows


def encode_labels(y: Any, n_samples: int, notes: list[str], what: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Validate labels and return ``(codes, classes)``; ``classes[codes]`` gives the labels back."""
    if y is None:
        raise InputError(f"no labels given: pass {param(what)}, or a table with {param('label_column')}")
    if isinstance(y, pd.DataFrame):
        y = y.to_numpy() if y.shape[1] > 1 else y.iloc[:, 0].to_numpy()
    elif isinstance(y, pd.Series):
        y = y.to_numpy()
    elif isinstance(y, (list, tuple)):
        y = np.asarray(y, dtype=object)
    if not isinstance(y, np.ndarray):
        raise InputTypeError(f"{param(what)} must be an array-like of labels, not {type(y).__name__}")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2:
        try:
            m = y.astype(float)
        except (TypeError, ValueError):
            raise InputError(f"{param(what)} has shape {y.shape}: give one label per sample") from None
        if m.shape[0] == n_samples and is_one_hot(m):
            notes.append(f"{param(what)} was one-hot encoded ({m.shape[1]} columns): converted to class indices")
            y = m.argmax(axis=1).astype(np.int64)
        elif np.isfinite(m).all() and (m >= 0).all() and np.allclose(m.sum(axis=1), 1.0, atol=1e-3):
            raise InputError(
                f"{param(what)} has shape {y.shape} and rows that sum to 1: it looks like predicted probabilities, "
                f"not labels; pass the labels, and probabilities as {param('pred_probs')}"
            )
        else:
            raise InputError(f"{param(what)} has shape {y.shape}: give one label per sample (or one-hot rows)")
    if y.ndim != 1:
        raise InputError(f"{param(what)} has shape {y.shape}: give one label per sample")
    if len(y) != n_samples:
        raise InputError(
            f"X has {n_samples} samples but {param(what)} has {len(y)} labels: they must match row for row"
        )
    kind = y.dtype.kind
    if kind in "OUS":
        ser = pd.Series(y, dtype=object)
        missing = ser.isna().to_numpy().copy()
        text = ser.where(~missing, "").astype(str)
        stripped = text.str.strip()
        if (stripped != text).any():
            notes.append(f"{param(what)}: surrounding whitespace removed from {(stripped != text).sum()} labels")
        missing |= (stripped == "").to_numpy()
        if missing.any():
            rows = np.flatnonzero(missing)
            raise InputError(
                f"{param(what)} has {len(rows)} missing labels (first at row {rows[0]}): label or drop those samples"
            )
        numeric = pd.to_numeric(stripped, errors="coerce")
        if numeric.notna().all():
            vals = numeric.to_numpy(dtype=float)
            if np.all(vals == np.round(vals)):
                y = vals.astype(np.int64)
                kind = "i"
            else:
                y = stripped.to_numpy(dtype=object)
        else:
            y = stripped.to_numpy(dtype=object)
    if kind == "f":
        if np.isnan(y).any():
            rows = np.flatnonzero(np.isnan(y))
            raise InputError(
                f"{param(what)} has {len(rows)} missing labels (NaN, first at row {rows[0]}): label or drop those samples"
            )
        if not np.isfinite(y).all() or not np.all(y == np.round(y)):
            bad = np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))[0]
            raise InputError(
                f"{param(what)} has values that are not whole numbers (e.g. {y[bad]!r} at row {bad}): dataaudit audits "
                "classification labels; round them if they are classes, or use class indices"
            )
        y = y.astype(np.int64)
    elif kind == "c":
        raise InputTypeError(f"{param(what)} has complex numbers; give class labels")
    if y.dtype == object:
        y = y.astype(str)
    classes, codes = np.unique(y, return_inverse=True)
    return codes.astype(np.int64).ravel(), classes


def check_pred_probs(pred_probs: Any, n_samples: int, n_classes: int) -> np.ndarray:
    """Validate precomputed out-of-sample predicted probabilities of shape (n, K)."""
    try:
        p = np.asarray(pred_probs, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputTypeError(f"{param('pred_probs')} must be a numeric array of shape (n_samples, n_classes)") from None
    if p.ndim == 1 and n_classes == 2:
        if len(p) == n_samples and ((p >= 0) & (p <= 1)).all():
            p = np.column_stack([1.0 - p, p])
    if p.ndim != 2 or p.shape != (n_samples, n_classes):
        raise InputError(
            f"{param('pred_probs')} has shape {p.shape} but the data has {n_samples} samples and {n_classes} classes: "
            f"give shape ({n_samples}, {n_classes}), columns in sorted label order"
        )
    if not np.isfinite(p).all():
        raise InputError(f"{param('pred_probs')} has NaN or infinite values: give probabilities")
    if (p < 0).any():
        rows = np.flatnonzero((p < 0).any(axis=1))
        raise InputError(
            f"{param('pred_probs')} has negative values in {len(rows)} rows (first at row {rows[0]}): give probabilities, "
            "not logits (apply a softmax)"
        )
    sums = p.sum(axis=1)
    bad = np.abs(sums - 1.0) > 1e-3
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InputError(
            f"{param('pred_probs')} rows must sum to 1, but {len(rows)} do not (row {rows[0]} sums to {sums[rows[0]]:.4g}): "
            "normalise them (apply a softmax to logits)"
        )
    return p / sums[:, None]


def prepare(X: Any, y: Any = None) -> Dataset:
    """Validate ``X`` and ``y`` and return a :class:`Dataset`.

    Examples
    --------
    >>> import numpy as np
    >>> from dataaudit.data import prepare
    >>> ds = prepare(np.zeros((4, 2, 2)), np.array(["a", "b", "a", "b"]))
    >>> ds.n_samples, ds.n_features, ds.classes.tolist()
    (4, 4, ['a', 'b'])
    """
    notes: list[str] = []
    raw, sample_shape, names = as_feature_matrix(X, notes)
    n = raw.shape[0]
    if n < 2:
        raise InputError("X has only 1 sample: an audit compares samples, so it needs at least 2")
    labels, classes = encode_labels(y, n, notes)
    features, n_missing, n_missing_rows = to_float_features(raw, notes)
    one_hot = np.ndim(y) == 2 and np.shape(y)[1] > 1
    label_form = "one-hot" if one_hot else "text" if classes.dtype.kind in "OUS" else "integer"
    return Dataset(
        raw=raw,
        features=features,
        labels=labels,
        classes=classes,
        sample_shape=sample_shape,
        feature_names=names,
        notes=notes,
        n_missing=n_missing,
        n_missing_rows=n_missing_rows,
        label_form=label_form,
    )


def prepare_test(X_test: Any, y_test: Any, train: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a held-out split against the training data.

    Returns ``(raw_test, features_test, test_codes)``; test labels are coded with the training
    classes, and labels unseen in training get codes ``>= n_classes``.
    """
    notes: list[str] = []
    raw, shape, _ = as_feature_matrix(X_test, notes)
    if raw.shape[1] != train.n_features:
        raise InputError(
            f"{param('X_test')} has {raw.shape[1]} features per sample but X has {train.n_features}: "
            "the splits must have the same columns"
        )
    codes, classes = encode_labels(y_test, raw.shape[0], notes, what="y_test")
    test_values = classes[codes]
    index = {v: i for i, v in enumerate(train.classes.tolist())}
    unseen = {}
    mapped = np.empty(len(codes), dtype=np.int64)
    for i, v in enumerate(test_values.tolist()):
        if v in index:
            mapped[i] = index[v]
        else:
            mapped[i] = unseen.setdefault(v, train.n_classes + len(unseen))
    features, _, _ = to_float_features(raw, notes)
    return raw, features, mapped
