"""AuditCallback: record the user's own Keras run, for ``dataaudit.scan(X, y, dynamics=cb)``.

After each recorded epoch the callback runs the model forward (inference mode; one compiled
function over large chunks, which costs a few percent of a dense network's epoch, docs/benchmarks.md)
over the rows of X it was given and keeps, per row: the log-probability of the row's label, its
logit margin over the best other class (exact, from the logits, even where probabilities
saturate) and which class that is: 5 bytes per row and epoch, never one number per class.
At most ``MAX_SNAPSHOTS`` epochs are recorded (evenly spaced in a longer run); when a forward
pass costs more than ``BUDGET`` of an epoch's training (a convolutional network), it records
every second epoch or sparser; above ``memory_mb`` it records a fixed random subset of the rows
and says so. The fit's history and the model's set-up are kept with them.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from .. import io
from ..dynamics import TrainingRecord, fingerprint
from ..errors import InputError, param
from ..lint import Labels, lint
from ._quiet import import_keras
from .describe import describe, outputs_are_logits

keras = import_keras()

#: Epochs recorded at most: a longer run is recorded at evenly spaced epochs (last one included).
MAX_SNAPSHOTS = 100
#: The share of an epoch's training time the recording may add; beyond it, epochs are skipped.
BUDGET = 0.15
#: Input bytes per forward-pass chunk (256 to 8192 rows).
CHUNK_BYTES = 4 * 2**20
#: Inputs up to this size are kept as ready tensors between epochs (else converted per chunk).
CACHE_BYTES = 256 * 2**20
#: Bytes kept per row and recorded epoch: log p (float16), margin (float16), other class (int8-16).
BYTES_PER_SNAPSHOT = 6
#: The network's representation of a row (the input of its last Dense layer) is kept in at most
#: this many dimensions (a fixed random projection beyond): the label verdict's neighbour vote
#: loses nothing measurable at 128 (docs/benchmarks.md).
EMBEDDING_DIMS = 128
#: Bytes per row and representation dimension: a float32 running sum and a float16 best-epoch copy.
BYTES_PER_DIM = 6


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
        self._epochs_planned = int(self.params.get("epochs") or 1)
        self._slots = min(self._epochs_planned, MAX_SNAPSHOTS)
        self._every = int(np.ceil(self._epochs_planned / self._slots))
        self._step, dims = _compiled_step(self.model, tuple(np.shape(self.X)[1:]), n_outputs,
                                          outputs_are_logits(self.setup), self.random_state)
        limit = int(self.memory_mb * 2**20 // (BYTES_PER_SNAPSHOT * self._slots + BYTES_PER_DIM * dims))
        if n > limit:
            rng = np.random.default_rng(self.random_state)
            self._rows = np.sort(rng.choice(n, size=limit, replace=False))
            warnings.warn(f"dataaudit: recording a fixed random subset of {limit:,} of the {n:,} rows "
                          f"(memory_mb={self.memory_mb:g}); the scan judges those rows", stacklevel=2)
        else:
            self._rows = np.arange(n)
        m = len(self._rows)
        self._logp = np.zeros((m, self._slots), np.float16)
        self._margin = np.zeros((m, self._slots), np.float16)
        self._other = np.zeros((m, self._slots), np.int8 if self._n_columns <= 127 else np.int16)
        self._embedding_sum = np.zeros((m, dims), np.float32)
        self._embedding_best = None
        self._best_val_loss = np.inf
        self._epochs: list[int] = []
        self._logs: list[dict[str, float]] = []
        self._n_val = self.validation_split_rows(n)
        row_bytes = 4 * int(np.prod(np.shape(self.X)[1:]))
        self._chunk = int(np.clip(CHUNK_BYTES // max(row_bytes, 1), 256, 8192))
        self._cached = None if m * row_bytes > CACHE_BYTES else []
        self._train_seconds = 0.0
        self._record_seconds = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if self._disabled:
            return
        logs = {key: float(np.asarray(value)) for key, value in (logs or {}).items() if np.size(value) == 1}
        lr = _learning_rate(self.model)
        if lr is not None:
            logs.setdefault("learning_rate", lr)
        self._logs.append(logs)
        self._train_seconds += time.perf_counter() - getattr(self, "_epoch_started", time.perf_counter())
        if self._n_val is None:
            self._n_val = self._validation_rows_seen()
        last = epoch == self._epochs_planned - 1
        due = not self._epochs or epoch - self._epochs[-1] >= self._every
        if (due or last) and len(self._epochs) < self._slots:
            started = time.perf_counter()
            self._snapshot(epoch)
            seconds = time.perf_counter() - started
            self._record_seconds += seconds
            if len(self._epochs) > 1:  # the first pass also compiles the function: not its running cost
                # Keep the recording within BUDGET of the training time: record sparser when it costs more.
                per_epoch = self._train_seconds / len(self._logs)
                self._every = max(self._every, int(np.ceil(seconds / (BUDGET * max(per_epoch, 1e-9)))))

    def on_train_end(self, logs=None):
        if not self._disabled:
            self._record = self._make_record()

    # ------------------------------------------------------------------ recording
    def _chunks(self):
        """The recorded rows as (slice into the record, inputs, labels) chunks, kept as ready
        tensors between epochs when they fit in ``CACHE_BYTES``."""
        if self._cached:
            return self._cached
        if self._cached is None:
            return self._make_chunks()
        self._cached = list(self._make_chunks())
        return self._cached

    def _make_chunks(self):
        import tensorflow as tf

        for start in range(0, len(self._rows), self._chunk):
            idx = self._rows[start:start + self._chunk]
            x = tf.convert_to_tensor(np.asarray(self.X[idx], dtype=np.float32))
            y = tf.convert_to_tensor(self._labels_all[idx].astype(np.int32))
            yield slice(start, start + len(idx)), x, y

    def _snapshot(self, epoch: int) -> None:
        column = len(self._epochs)
        self._epochs.append(epoch)
        # The representation at the epoch of the lowest validation loss so far (before memorising).
        val_loss = self._logs[-1].get("val_loss", np.nan)
        keep_best = self._embedding_sum.shape[1] > 0 and val_loss < self._best_val_loss
        if keep_best:
            self._best_val_loss = val_loss
            if self._embedding_best is None:
                self._embedding_best = np.zeros(self._embedding_sum.shape, np.float16)
        for rows, x, y in self._chunks():
            logp, margin, other, embedding = self._step(x, y)
            self._logp[rows, column] = np.clip(logp.numpy(), -6e4, 0.0)
            self._margin[rows, column] = np.clip(margin.numpy(), -6e4, 6e4)
            self._other[rows, column] = other.numpy()
            if self._embedding_sum.shape[1]:
                embedding = embedding.numpy()
                self._embedding_sum[rows] += embedding
                if keep_best:
                    self._embedding_best[rows] = np.clip(embedding, -6e4, 6e4)

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
        setup["recording_cost"] = round(self._record_seconds / max(self._train_seconds, 1e-9), 4)
        return TrainingRecord(
            n_rows=n, fingerprint=fingerprint(self.X), rows=self._rows, labels=self._labels_all[self._rows],
            in_training=in_training, epochs=np.asarray(self._epochs), logp_given=self._logp[:, :k],
            margin=self._margin[:, :k], other=self._other[:, :k].astype(np.int16), n_outputs=self._n_columns,
            history=history, setup=setup,
            embedding_mean=(np.clip(self._embedding_sum / k, -6e4, 6e4).astype(np.float16)
                            if self._embedding_sum.shape[1] else None),
            embedding_best=self._embedding_best,
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


def _representation(model):
    """The input of the model's last Dense layer (its learned representation of a row), or None."""
    for layer in reversed(model.layers):
        if type(layer).__name__ == "Dense":
            try:
                return layer.input
            except (AttributeError, ValueError):  # a layer called several times, a subclassed model
                return None
    return None


def _compiled_step(model, sample_shape: tuple, n_outputs: int, from_logits: bool, seed: int):
    """One compiled forward pass: per row the log-probability of its label, the margin over the
    best other class, that class, and the row's representation (at most ``EMBEDDING_DIMS``
    dimensions; none when the model has no Dense layer). Logits are taken exactly: from the
    outputs when the model ends without a squashing activation, else from what Keras's
    TensorFlow backend keeps of the softmax/sigmoid input (``_keras_logits``); only failing both
    are probabilities clipped. Returns ``(step, dimensions of the representation)``."""
    import tensorflow as tf

    sigmoid = n_outputs == 1
    features = _representation(model)
    if features is not None:
        both = keras.Model(model.inputs, [features, model.outputs[0]])
        width = int(np.prod(features.shape[1:]))
    else:
        both, width = None, 0
    dims = min(width, EMBEDDING_DIMS)
    projection = None
    if width > EMBEDDING_DIMS:
        rng = np.random.default_rng(seed)
        projection = tf.constant(rng.normal(0, 1 / np.sqrt(dims), (width, dims)).astype(np.float32))

    def step(x, y):
        if both is not None:
            embedding, out = both(x, training=False)
            embedding = tf.reshape(tf.cast(embedding, tf.float32), (tf.shape(embedding)[0], width))
            if projection is not None:
                embedding = embedding @ projection
        else:
            out = model(x, training=False)
            embedding = tf.zeros((tf.shape(out)[0], 0), tf.float32)
        z = out if from_logits else getattr(out, "_keras_logits", None)
        if z is None:
            p = tf.clip_by_value(tf.cast(out, tf.float32), 1e-7, 1.0 - 1e-7)
            z = tf.math.log(p) - tf.math.log1p(-p) if sigmoid else tf.math.log(p)
        z = tf.cast(z, tf.float32)
        if sigmoid:
            logp = tf.stack([tf.math.log_sigmoid(-z[:, 0]), tf.math.log_sigmoid(z[:, 0])], axis=1)
        else:
            logp = tf.nn.log_softmax(z, axis=-1)
        label = tf.one_hot(y, tf.shape(logp)[1], on_value=True, off_value=False)
        logp_label = tf.reduce_sum(tf.where(label, logp, 0.0), axis=1)
        others = tf.where(label, -np.inf, logp)
        return logp_label, logp_label - tf.reduce_max(others, axis=1), tf.argmax(others, axis=1), embedding

    spec = [tf.TensorSpec((None, *sample_shape), tf.float32), tf.TensorSpec((None,), tf.int32)]
    return tf.function(step, input_signature=spec, reduce_retracing=True), dims


def _learning_rate(model) -> float | None:
    try:
        return float(np.asarray(model.optimizer.learning_rate))
    except Exception:  # noqa: BLE001 - schedules, no optimizer
        return None


__all__ = ["AuditCallback", "SetupWarning"]
