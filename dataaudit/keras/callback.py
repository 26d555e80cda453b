"""AuditCallback: record the user's own Keras run, for ``dataaudit.scan(X, y, dynamics=cb)``.

After each recorded epoch the callback runs the model forward (inference mode, large batches,
one compiled function) over the rows of X it was given and keeps, per row, the probability of
the row's label and the largest probability of another class (two float16 per row and epoch),
plus the running mean of the probability vectors (one float32 per row and class). Memory is
O(rows x recorded epochs); at most ``MAX_SNAPSHOTS`` epochs are recorded (evenly spaced when the
run is longer), and above ``memory_mb`` the callback records a fixed random subset of the rows
and says so. The fit's history and the model's set-up are kept with them.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .. import io
from ..dynamics import TrainingRecord, fingerprint
from ..errors import InputError, param
from ..lint import Labels, lint
from ._quiet import import_keras
from .describe import describe, outputs_are_logits
from .estimator import to_probabilities

keras = import_keras()

#: Epochs recorded at most: a longer run is recorded at evenly spaced epochs (last one included).
MAX_SNAPSHOTS = 100
#: Rows per forward-pass chunk.
CHUNK = 4096


class SetupWarning(UserWarning):
    """The model's output layer, loss and labels disagree (see :func:`dataaudit.lint.lint`)."""


def label_facts(y) -> dict:
    """How ``fit`` was given the labels: form (integer, one-hot, text), classes, smallest and largest."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        codes = y.argmax(axis=1)
        return {"form": "one-hot", "n_classes": int(y.shape[1]), "low": 0, "high": int(y.shape[1]) - 1}
    y = y.reshape(len(y))
    if y.dtype.kind not in "iufb":
        return {"form": "text", "n_classes": int(len(np.unique(y.astype(str)))), "low": None, "high": None}
    codes = y.astype(np.int64)
    return {"form": "integer", "n_classes": int(len(np.unique(codes))), "low": int(codes.min()), "high": int(codes.max())}


def _label_columns(y, n: int, n_outputs: int) -> np.ndarray:
    """Per row, the output column of its label: integer labels, one-hot rows, or 0/1 for a sigmoid."""
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
        raise InputError("AuditCallback needs the labels as given to fit: integers (or one-hot rows), not text")
    codes = y.astype(np.int64)
    if np.any(codes != y) or codes.min() < 0 or codes.max() >= max(n_outputs, 2):
        raise InputError(f"y holds labels outside 0..{max(n_outputs, 2) - 1}, the model's output columns")
    return codes


class AuditCallback(keras.callbacks.Callback):
    """Record a Keras run for :func:`dataaudit.scan` (``dynamics=``).

    Parameters
    ----------
    X : array (n, ...)
        The inputs given to ``fit`` (a memory-mapped array works), in the same order.
    y : array (n,) or (n, K)
        The labels given to ``fit``: class indices, or one-hot rows.
    validation_split : float, optional
        The ``validation_split`` given to ``fit``, if any (found by itself when Keras exposes it).
    memory_mb : float, default 1024
        Memory for the per-epoch evidence; above it a fixed random subset of rows is recorded.
    random_state : int, default 0
        Chooses that subset.

    Examples
    --------
    >>> cb = AuditCallback(X, y)                      # doctest: +SKIP
    >>> model.fit(X, y, epochs=30, callbacks=[cb])    # doctest: +SKIP
    >>> cb.save("dynamics.npz")                       # doctest: +SKIP
    >>> report = dataaudit.scan(X, y, dynamics=cb)    # doctest: +SKIP
    """

    def __init__(self, X, y, *, validation_split: float | None = None, memory_mb: float = 1024.0,
                 random_state: int = 0):
        super().__init__()
        if len(X) != len(y):
            raise InputError(f"X has {len(X)} rows but y has {len(y)}: give the arrays given to fit")
        self.X = X
        self.y = y
        self.validation_split = validation_split
        self.memory_mb = memory_mb
        self.random_state = random_state
        self._record: TrainingRecord | None = None

    # ------------------------------------------------------------------ keras hooks
    def on_train_begin(self, logs=None):
        n = len(self.X)
        self.setup = describe(self.model)
        self.setup["labels"] = label_facts(self.y)
        for problem in lint(self.setup, Labels(**self.setup["labels"])):
            warnings.warn(SetupWarning(f"dataaudit: {problem.message}. Change: {problem.fix}."), stacklevel=2)
        n_outputs = self.setup["output_units"]
        self._disabled = False
        try:
            self._labels_all = _label_columns(self.y, n, n_outputs)
        except InputError as exc:
            warnings.warn(f"dataaudit: this run is not recorded: {exc}", stacklevel=2)
            self._disabled = True
            return
        self._n_columns = max(n_outputs, 2)
        self._logits = outputs_are_logits(self.setup)
        epochs = int(self.params.get("epochs") or 1)
        self._snapshot_epochs = set(np.unique(np.linspace(epochs - 1, 0, min(epochs, MAX_SNAPSHOTS)).round().astype(int)).tolist())
        per_row = 4 * len(self._snapshot_epochs) + 4 * self._n_columns
        limit = int(self.memory_mb * 2**20 // per_row)
        if n > limit:
            rng = np.random.default_rng(self.random_state)
            self._rows = np.sort(rng.choice(n, size=limit, replace=False))
            warnings.warn(f"dataaudit: recording a fixed random subset of {limit:,} of the {n:,} rows "
                          f"(memory_mb={self.memory_mb:g}); the scan judges those rows", stacklevel=2)
        else:
            self._rows = np.arange(n)
        m = len(self._rows)
        self._p_given = np.zeros((m, len(self._snapshot_epochs)), np.float16)
        self._p_other = np.zeros_like(self._p_given)
        self._sum = np.zeros((m, self._n_columns), np.float32)
        self._epochs: list[int] = []
        self._logs: list[dict[str, float]] = []
        self._n_val = self.validation_split_rows(n)
        self._forward = None

    def on_epoch_end(self, epoch, logs=None):
        if self._disabled:
            return
        logs = {key: float(np.asarray(value)) for key, value in (logs or {}).items() if np.size(value) == 1}
        lr = _learning_rate(self.model)
        if lr is not None:
            logs.setdefault("learning_rate", lr)
        self._logs.append(logs)
        if self._n_val is None:
            self._n_val = self._validation_rows_seen()
        if epoch in self._snapshot_epochs:
            self._snapshot()

    def on_train_end(self, logs=None):
        if not self._disabled:
            self._record = self._make_record()

    # ------------------------------------------------------------------ recording
    def _probabilities(self, block: np.ndarray) -> np.ndarray:
        if self._forward is None:
            import tensorflow as tf

            model = self.model
            self._forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        return to_probabilities(np.asarray(self._forward(block)), self._logits)

    def _snapshot(self) -> None:
        column = len(self._epochs)
        self._epochs.append(len(self._logs) - 1)
        rows, labels = self._rows, self._labels_all
        for start in range(0, len(rows), CHUNK):
            idx = rows[start:start + CHUNK]
            probs = self._probabilities(np.asarray(self.X[idx], dtype=np.float32))
            given = labels[idx]
            p_given = probs[np.arange(len(idx)), given]
            probs_other = probs.copy()
            probs_other[np.arange(len(idx)), given] = -1.0
            self._p_given[start:start + len(idx), column] = p_given
            self._p_other[start:start + len(idx), column] = probs_other.max(axis=1)
            self._sum[start:start + len(idx)] += probs

    # ------------------------------------------------------------------ validation split
    def validation_split_rows(self, n: int) -> int | None:
        """Rows at the end of X that Keras holds out (``validation_split``), when known."""
        if self.validation_split:
            return n - int(np.floor(n * (1.0 - float(self.validation_split))))
        return None

    def _validation_rows_seen(self) -> int | None:
        """Keras 3 keeps the validation arrays on the model: when they are the last rows of X,
        they came from ``validation_split``. Private attributes: any surprise means "unknown"."""
        try:
            adapter = self.model._eval_epoch_iterator.data_adapter
            inputs = adapter._inputs
            x_val = inputs[0] if isinstance(inputs, tuple) else inputs
            n_val = int(adapter._num_samples)
            tail = np.asarray(self.X[len(self.X) - n_val:])
            return n_val if np.shares_memory(np.asarray(x_val), tail) or np.array_equal(np.asarray(x_val), tail) else 0
        except Exception:  # noqa: BLE001
            return None

    # ------------------------------------------------------------------ the record
    def _make_record(self) -> TrainingRecord:
        if getattr(self, "_disabled", True):
            raise InputError("AuditCallback recorded nothing: pass it to model.fit(..., callbacks=[cb]) and see its warnings")
        k = len(self._epochs)
        if k == 0:
            raise InputError("the run recorded no epoch: fit for at least one epoch with the callback")
        n = len(self.X)
        in_training = np.ones(len(self._rows), bool)
        if self._n_val:
            in_training = self._rows < n - self._n_val
        keys = sorted({key for logs in self._logs for key in logs})
        history = {key: np.array([logs.get(key, np.nan) for logs in self._logs], float) for key in keys}
        setup = dict(self.setup, epochs=int(self.params.get("epochs") or k), steps=self.params.get("steps"),
                     validation_rows=int(self._n_val or 0), recorded_subset=len(self._rows) < n)
        return TrainingRecord(
            n_rows=n, fingerprint=fingerprint(self.X), rows=self._rows, labels=self._labels_all[self._rows],
            in_training=in_training, epochs=np.asarray(self._epochs), p_given=self._p_given[:, :k],
            p_other=self._p_other[:, :k], mean_probs=self._sum / k, history=history, setup=setup,
        )

    def record(self) -> TrainingRecord:
        """The record of the run (after ``fit``; during it, what has been recorded so far)."""
        return self._record if self._record is not None else self._make_record()

    def save(self, path) -> str:
        """Write the record to ``path`` (``.npz``), atomically; no pickled objects."""
        path = str(path)
        if not path.endswith(".npz"):
            raise InputError(f"{param('path')} '{path}' must end in .npz")
        io.write_npz(path, **self.record().to_arrays())
        return path


def _learning_rate(model) -> float | None:
    try:
        return float(np.asarray(model.optimizer.learning_rate))
    except Exception:  # noqa: BLE001 - schedules, no optimizer
        return None


__all__ = ["AuditCallback", "SetupWarning"]
