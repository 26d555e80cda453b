"""The one parser of how labels were given to training: integer class indices, one-hot rows,
or text; and which output column of a network each label trains.

Shared by the dataset loader (:mod:`dataaudit.data`), the training recorders
(:class:`dataaudit.TrainingRecorder`, the Keras callback) and the record matcher
(:mod:`dataaudit.dynamics`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InputError


def is_one_hot(y: np.ndarray) -> bool:
    """Whether a 2-D array holds one-hot rows (0/1, one 1 per row).

    Examples
    --------
    >>> is_one_hot(np.eye(3)), is_one_hot(np.array([[0.5, 0.5]]))
    (True, False)
    """
    m = np.asarray(y)
    if m.ndim != 2 or m.dtype.kind not in "iufb":
        return False
    m = m.astype(float)
    return bool(np.isin(m, (0.0, 1.0)).all() and (m.sum(axis=1) == 1).all())


def label_facts(y: Any) -> dict[str, Any]:
    """How labels were given: ``form`` (``integer``, ``one-hot``, ``text``), ``n_classes``, and the
    smallest and largest integer label (None for text).

    Examples
    --------
    >>> label_facts(np.array([2, 0, 1]))
    {'form': 'integer', 'n_classes': 3, 'low': 0, 'high': 2}
    >>> label_facts(np.eye(4)[[0, 3]])["form"], label_facts(np.array(["cat", "dog"]))["low"]
    ('one-hot', None)
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return {"form": "one-hot", "n_classes": int(y.shape[1]), "low": 0, "high": int(y.shape[1]) - 1}
    y = y.reshape(len(y))
    if y.dtype.kind not in "iufb":
        return {"form": "text", "n_classes": int(len(np.unique(y.astype(str)))), "low": None, "high": None}
    codes = y.astype(np.int64)
    return {"form": "integer", "n_classes": int(len(np.unique(codes))), "low": int(codes.min()), "high": int(codes.max())}


def output_codes(y: Any, n: int, n_outputs: int) -> np.ndarray:
    """Per row, the output column its label trains: integer labels, one-hot rows, or 0/1 for a
    single sigmoid output. Text labels are an InputError (a network trains on numbers).

    Examples
    --------
    >>> output_codes(np.eye(3)[[2, 0]], 2, 3).tolist(), output_codes(np.array([[1], [0]]), 2, 1).tolist()
    ([2, 0], [1, 0])
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2:
        if y.shape[1] != max(n_outputs, 2) and not (n_outputs == 1 and y.shape[1] == 1):
            raise InputError(f"y has {y.shape[1]} one-hot columns but the model has {n_outputs} outputs")
        y = y.argmax(axis=1)
    if y.ndim != 1 or len(y) != n:
        raise InputError(f"y must hold one label per row of X ({n} rows), not shape {y.shape}")
    if y.dtype.kind not in "iufb":
        raise InputError("the labels given to training must be integers (or one-hot rows), not text")
    codes = y.astype(np.int64)
    if np.any(codes != y) or codes.min() < 0 or codes.max() >= max(n_outputs, 2):
        raise InputError(f"y holds labels outside 0..{max(n_outputs, 2) - 1}, the model's output columns")
    return codes


def output_columns(classes: np.ndarray, n_outputs: int) -> np.ndarray:
    """The network's output column of each class: the class's own value when the labels are
    the integers the network was trained with, else its position in sorted order (as
    scikit-learn's LabelEncoder gives it).

    Examples
    --------
    >>> output_columns(np.array([1, 2]), 3).tolist(), output_columns(np.array(["cat", "dog"]), 2).tolist()
    ([1, 2], [0, 1])
    """
    classes = np.asarray(classes)
    if classes.dtype.kind in "iu" and classes.min() >= 0 and classes.max() < max(n_outputs, 2):
        return classes.astype(np.int64)
    return np.arange(len(classes), dtype=np.int64)


__all__ = ["is_one_hot", "label_facts", "output_codes", "output_columns"]
