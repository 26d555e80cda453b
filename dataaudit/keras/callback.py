"""AuditCallback: record the user's own Keras run, for ``dataaudit.scan(X, y, dynamics=cb)``.

An adapter over :class:`dataaudit.TrainingRecorder`: after each recorded epoch the callback runs
the model forward (inference mode; one compiled
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

import numpy as np

from ..dynamics import TrainingRecord
from ..errors import InputError
from ..labels import label_facts, output_codes
from ..lint import Labels, lint
from ..recorder import EMBEDDING_DIMS, TrainingRecorder, save_record
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
#: Bytes per row and representation dimension: a float32 running sum, a float16 best-epoch copy
#: and the float16 copy of the epoch being recorded.
BYTES_PER_DIM = 8


class SetupWarning(UserWarning):
    """The model's output layer, loss and labels disagree (see :func:`dataaudit.lint.lint`)."""


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
        self.setup["framework"] = "keras"
        for problem in lint(self.setup, Labels(**self.setup["labels"])):
            warnings.warn(SetupWarning(f"dataaudit: {problem.message}. Change: {problem.fix}."), stacklevel=2)
        n_outputs = self.setup["output_units"]
        self._disabled = False
        try:
            output_codes(self.y, n, n_outputs)  # before any work: labels the outputs cannot train
        except InputError as exc:
            warnings.warn(f"dataaudit: this run is not recorded: {exc}", stacklevel=2)
            self._disabled = True
            return
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
        self._recorder = TrainingRecorder(self.y, X=self.X, rows=self._rows, random_state=self.random_state)
        self._recorder.setup.update(self.setup)
        self._recorder.start(n_outputs)
        m = len(self._rows)
        self._dims = dims
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
            self._recorder.end_epoch(logs)
            seconds = time.perf_counter() - started
            self._record_seconds += seconds
            if len(self._epochs) > 1:  # the first pass also compiles the function: not its running cost
                # Keep the recording within BUDGET of the training time: record sparser when it costs more.
                per_epoch = self._train_seconds / len(self._logs)
                self._every = max(self._every, int(np.ceil(seconds / (BUDGET * max(per_epoch, 1e-9)))))
        else:
            self._recorder.end_epoch(logs)

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
            y = tf.convert_to_tensor(self._recorder.labels[idx].astype(np.int32))
            yield slice(start, start + len(idx)), x, y

    def _snapshot(self, epoch: int) -> None:
        self._epochs.append(epoch)
        for rows, x, y in self._chunks():
            logp, margin, other, embedding = self._step(x, y)
            self._recorder.add(self._rows[rows], logp.numpy(), margin.numpy(), other.numpy(),
                               embedding.numpy() if self._dims else None)

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
        if not self._epochs:
            raise InputError("the run recorded no epoch: fit for at least one epoch with the callback")
        n = len(self.X)
        if self._n_val:
            self._recorder.validation = np.arange(n) >= n - self._n_val
        self._recorder.setup.update(epochs=int(self.params.get("epochs") or len(self._logs)),
                                    steps=self.params.get("steps"), recorded_subset=len(self._rows) < n,
                                    recording_cost=round(self._record_seconds / max(self._train_seconds, 1e-9), 4))
        return self._recorder.record()

    def record(self) -> TrainingRecord:
        """The record of the run (after ``fit``; during it, what has been recorded so far)."""
        return self._record if self._record is not None else self._make_record()

    def save(self, path) -> str:
        """Write the record to ``path`` (``.npz``), atomically; no pickled objects."""
        return save_record(self.record(), path)


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
