"""TrainingRecorder: the record of any training loop, for ``dataaudit.scan(X, y, dynamics=...)``.

A loop of the user's own (PyTorch, JAX, scikit-learn's ``partial_fit``) hands the recorder the
model's outputs for the training rows after each epoch, or batch by batch with the batch's row
ids (as the area-under-the-margin authors' calculator takes them, so no second forward pass over
the data is needed). Per row and epoch the recorder keeps the log-probability of the row's label,
its margin over the best other class and that class (5 bytes, never one number per class); the
mean of the penultimate features, and those of the epoch of the lowest validation loss; the
epoch's metrics; and the model's set-up as plain fields. The Keras callback is an adapter over it.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from . import io
from .dynamics import NO_FINGERPRINT, TrainingRecord, fingerprint
from .errors import InputError, UsageError, param
from .labels import label_facts, output_codes

#: Epochs recorded at most: past it, every second recorded epoch is dropped (the last one kept).
MAX_EPOCHS = 100
#: The representation is kept in at most this many dimensions (a fixed random projection beyond).
EMBEDDING_DIMS = 128
#: float16's largest finite value: stored log-probabilities, margins and features are clipped to it.
FLOAT16_MAX = 6e4
#: What ``setup`` may hold (the set-up check and the doctor read these).
SETUP_FIELDS = ("output_units", "output_activation", "loss", "from_logits", "learning_rate", "optimizer", "framework")
#: Rows summing to 1 within this are probabilities, not logits.
PROBABILITY_TOLERANCE = 1e-3


def log_probabilities(outputs: np.ndarray, *, from_logits: bool | None = None) -> np.ndarray:
    """Per row, the log-probability of each class from a network's outputs: logits (softmax) or
    probabilities; a single column (or a 1-D array) is a sigmoid's, for two classes.

    Examples
    --------
    >>> log_probabilities(np.array([[2.0, 0.0]])).round(3).tolist()
    [[-0.127, -2.127]]
    >>> np.exp(log_probabilities(np.array([0.8]))).round(3).tolist()
    [[0.2, 0.8]]
    """
    z = np.asarray(outputs, np.float64)
    if z.ndim == 1:
        z = z[:, None]
    if z.shape[1] == 1:
        z = z[:, 0]
        probabilities = from_logits is False or (from_logits is None and np.all((z >= 0) & (z <= 1)))
        if probabilities:
            p = np.clip(z, 1e-7, 1 - 1e-7)
            z = np.log(p) - np.log1p(-p)
        return np.stack([-np.logaddexp(0.0, z), -np.logaddexp(0.0, -z)], axis=1)
    probabilities = from_logits is False or (
        from_logits is None and np.all(z >= 0) and np.allclose(z.sum(axis=1), 1.0, atol=PROBABILITY_TOLERANCE))
    if probabilities:
        return np.log(np.clip(z, 1e-12, 1.0))
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def label_evidence(logp: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the log-probability of its label, the margin over the best other class, that class.

    Examples
    --------
    >>> lp, m, o = label_evidence(np.log(np.array([[0.7, 0.2, 0.1]])), np.array([1]))
    >>> round(float(m[0]), 3), int(o[0])
    (-1.253, 0)
    """
    rows = np.arange(len(codes))
    given = logp[rows, codes]
    others = logp.copy()
    others[rows, codes] = -np.inf
    other = others.argmax(axis=1)
    return given, given - others[rows, other], other


class TrainingRecorder:
    """Record a training run of any framework for :func:`dataaudit.scan` (``dynamics=``).

    Parameters
    ----------
    y : array (n,) or (n, K)
        The training labels, in the order of X: class indices (the network's output columns),
        one-hot rows, or 0/1 for a single sigmoid output.
    setup : dict, optional
        The model's set-up as plain fields: ``output_units``, ``output_activation``, ``loss``,
        ``from_logits``, ``learning_rate`` (and ``optimizer``): the set-up check and the doctor's
        advice read them.
    X : array (n, ...), optional
        The training inputs: lets the scan check that the record was made on the X it is given.
    validation : bool array (n,), optional
        Rows held out of training (their outputs are out-of-sample; the doctor reads them as the
        validation split).
    rows : int array, optional
        The only rows that will be logged (a fixed subset, to bound the record's memory); None:
        every row.
    random_state : int, default 0
        Seeds the projection of wide features.

    Examples
    --------
    >>> import numpy as np, dataaudit
    >>> rng = np.random.default_rng(0)
    >>> y = np.r_[np.zeros(50, int), np.ones(50, int)]
    >>> rec = dataaudit.TrainingRecorder(y)
    >>> for epoch in range(5):
    ...     logits = np.c_[-y * (epoch + 1.0), y * (epoch + 1.0)] + rng.normal(0, 0.5, (100, 2))
    ...     rec.log_epoch(logits, metrics={"loss": 1.0 / (epoch + 1)})
    >>> rec.record().n_epochs, rec.record().n_recorded
    (5, 100)
    """

    def __init__(self, y: Any, setup: Mapping[str, Any] | None = None, *, X: Any = None,
                 validation: Any = None, rows: Any = None, random_state: int = 0) -> None:
        self.y = y
        self.setup = dict(setup or {})
        self.X = X
        self.validation = validation
        self.random_state = random_state
        unknown = sorted(set(self.setup) - set(SETUP_FIELDS) - {"labels", "epochs", "validation_rows"})
        if unknown:
            raise UsageError(f"{param('setup')} has unknown field '{unknown[0]}'; it takes: {', '.join(SETUP_FIELDS)}")
        n = len(y)
        if X is not None and len(X) != n:
            raise InputError(f"X has {len(X)} rows but y has {n}: give the arrays you train on")
        self._n = n
        # Every per-row array holds the recorded rows only, in this order.
        self._rows = np.arange(n) if rows is None else np.unique(np.asarray(rows, np.int64))
        self._labels: np.ndarray | None = None
        self._n_outputs: int | None = None
        self._columns: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._epochs: list[int] = []
        self._metrics: list[dict[str, float]] = []
        self._feature_sum: np.ndarray | None = None
        self._feature_best: np.ndarray | None = None
        self._best_val_loss = np.inf
        self._projection: np.ndarray | None = None
        self._pending: dict[str, Any] | None = None
        self._ever_seen = np.zeros(len(self._rows), bool)
        self._feature_epochs = 0
        self._epoch = 0

    # ------------------------------------------------------------------ feeding
    def log_epoch(self, outputs: Any, features: Any = None, index: Any = None,
                  metrics: Mapping[str, float] | None = None) -> None:
        """The model's outputs for the training rows: all of them (``index=None``: the epoch ends
        here), or the rows of ``index`` (batch by batch: the epoch ends at :meth:`end_epoch`, when
        ``metrics`` are given, or when a row comes again).

        ``outputs`` are (rows, K) logits or probabilities (numpy; a sigmoid's may be (rows,) or
        (rows, 1)); ``features`` an optional (rows, d) penultimate-layer representation;
        ``metrics`` the epoch's figures, named as Keras' history names them (``loss``,
        ``accuracy``, ``val_loss``, ``val_accuracy``).
        """
        logp = log_probabilities(np.asarray(outputs), from_logits=self.setup.get("from_logits"))
        rows = np.arange(self._n) if index is None else np.asarray(index, np.int64).reshape(-1)
        if len(rows) != len(logp):
            raise InputError(f"{param('outputs')} has {len(logp)} rows but {param('index')} names {len(rows)}")
        if len(rows) and (rows.min() < 0 or rows.max() >= self._n):
            raise InputError(f"{param('index')} holds rows outside 0..{self._n - 1}")
        self.start(logp.shape[1])
        codes = self._labels[rows]
        given, margin, other = label_evidence(logp, codes)
        self.add(rows, given, margin, other, features)
        if index is None or metrics is not None:
            self.end_epoch(metrics)

    def add(self, rows: np.ndarray, logp_given: np.ndarray, margin: np.ndarray, other: np.ndarray,
            features: Any = None) -> None:
        """Add already-reduced evidence of some rows (ids into X) to the current epoch: what an
        adapter that computes it on its own device hands over (after :meth:`start`)."""
        at = self._positions(np.asarray(rows, np.int64))
        pending = self._pending
        if pending is not None and np.any(pending["seen"][at]):
            self.end_epoch()  # a row came again: a new epoch began
            pending = None
        if pending is None:
            m = len(self._rows)
            pending = self._pending = {"seen": np.zeros(m, bool), "logp": np.zeros(m, np.float16),
                                       "margin": np.zeros(m, np.float16), "other": np.full(m, -1, np.int16),
                                       "features": None}
        pending["seen"][at] = True
        self._ever_seen[at] = True
        pending["logp"][at] = np.clip(logp_given, -FLOAT16_MAX, 0.0)
        pending["margin"][at] = np.clip(margin, -FLOAT16_MAX, FLOAT16_MAX)
        pending["other"][at] = other
        if features is not None:
            f = self._projected(np.asarray(features, np.float32).reshape(len(at), -1))
            if self._feature_sum is None:
                self._feature_sum = np.zeros((len(self._rows), f.shape[1]), np.float32)
            self._feature_sum[at] += f
            # The epoch's own copy is kept (as stored, float16) only until it is known whether its
            # validation loss is the best so far.
            if pending["features"] is None:
                pending["features"] = np.zeros((len(self._rows), f.shape[1]), np.float16)
            pending["features"][at] = np.clip(f, -FLOAT16_MAX, FLOAT16_MAX)

    def end_epoch(self, metrics: Mapping[str, float] | None = None) -> None:
        """Close the epoch fed batch by batch, with its metrics."""
        metrics = {k: float(v) for k, v in (metrics or {}).items()}
        pending, self._pending = self._pending, None
        if pending is not None:
            self._close(pending, metrics)
        self._metrics.append(metrics)
        self._epoch += 1

    # ------------------------------------------------------------------ internals
    def start(self, n_columns: int) -> None:
        """Fix the number of output columns (a sigmoid's one output counts as two): the labels are
        checked against it here; adapters call it before the first epoch."""
        n_outputs = 1 if n_columns == 2 and self.setup.get("output_units") == 1 else n_columns
        if self._labels is None:
            self._n_outputs = n_outputs
            self._labels = output_codes(self.y, self._n, n_outputs)
            self.setup.setdefault("output_units", n_outputs)
            self.setup.setdefault("labels", label_facts(self.y))
            self.setup.setdefault("framework", "any")
        elif n_outputs != self._n_outputs:
            raise InputError(f"{param('outputs')} has {n_columns} columns, earlier epochs had {self._n_outputs}")

    @property
    def labels(self) -> np.ndarray:
        """Per row of X, the output column its label trains (after :meth:`start`)."""
        return self._labels

    def _positions(self, rows: np.ndarray) -> np.ndarray:
        """Where rows of X sit in the recorded rows."""
        if len(self._rows) == self._n:
            return rows
        at = np.minimum(np.searchsorted(self._rows, rows), len(self._rows) - 1)
        if np.any(self._rows[at] != rows):
            raise InputError(f"{param('index')} names rows outside the recorded {param('rows')}")
        return at

    def _projected(self, f: np.ndarray) -> np.ndarray:
        if f.shape[1] <= EMBEDDING_DIMS:
            return f
        if self._projection is None or self._projection.shape[0] != f.shape[1]:
            rng = np.random.default_rng(self.random_state)
            self._projection = rng.normal(0, 1 / np.sqrt(EMBEDDING_DIMS), (f.shape[1], EMBEDDING_DIMS)).astype(np.float32)
        return f @ self._projection

    def _close(self, pending: dict[str, Any], metrics: dict[str, float]) -> None:
        seen = pending["seen"]
        if self._columns:
            # A row this epoch did not see keeps what the epoch before said of it.
            last = self._columns[-1]
            for key, previous in zip(("logp", "margin", "other"), last):
                pending[key][~seen] = previous[~seen]
        self._columns.append((pending["logp"], pending["margin"], pending["other"]))
        self._epochs.append(self._epoch)
        features = pending["features"]
        if features is not None:
            self._feature_epochs += 1
            val_loss = metrics.get("val_loss", np.nan)
            if val_loss < self._best_val_loss:
                # The representation before the network memorised: the epoch of the best validation loss.
                self._best_val_loss = val_loss
                self._feature_best = features
        if len(self._columns) > MAX_EPOCHS:
            keep = list(range(0, len(self._columns) - 1, 2)) + [len(self._columns) - 1]
            self._columns = [self._columns[i] for i in keep]
            self._epochs = [self._epochs[i] for i in keep]

    # ------------------------------------------------------------------ the record
    def record(self) -> TrainingRecord:
        """The record of the run so far (a pending batch-by-batch epoch is closed first)."""
        if self._pending is not None:
            self.end_epoch()
        if not self._columns:
            raise InputError("the recorder holds no epoch: call log_epoch(outputs) after each epoch of training")
        seen = np.flatnonzero(self._ever_seen)
        rows = self._rows[seen]
        history_keys = sorted({k for m in self._metrics for k in m})
        history = {k: np.array([m.get(k, np.nan) for m in self._metrics], float) for k in history_keys}
        in_training = np.ones(self._n, bool)
        if self.validation is not None:
            in_training = ~np.asarray(self.validation, bool).reshape(self._n)
        setup = dict(self.setup)
        setup.setdefault("epochs", int(self._epoch))
        setup["validation_rows"] = int((~in_training).sum())
        mean = None if self._feature_sum is None else np.clip(self._feature_sum[seen] / self._feature_epochs,
                                                               -FLOAT16_MAX, FLOAT16_MAX).astype(np.float16)
        return TrainingRecord(
            n_rows=self._n, fingerprint=fingerprint(self.X) if self.X is not None else NO_FINGERPRINT, rows=rows,
            labels=self._labels[rows], in_training=in_training[rows], epochs=np.asarray(self._epochs, np.int64),
            logp_given=np.stack([c[0][seen] for c in self._columns], axis=1),
            margin=np.stack([c[1][seen] for c in self._columns], axis=1),
            other=np.stack([c[2][seen] for c in self._columns], axis=1), n_outputs=max(self._n_outputs, 2),
            history=history, setup=setup, embedding_mean=mean,
            embedding_best=None if self._feature_best is None else self._feature_best[seen],
        )

    def save(self, path) -> str:
        """Write the record to ``path`` (``.npz``), atomically; no pickled objects."""
        return save_record(self.record(), path)


def save_record(record: TrainingRecord, path) -> str:
    """Write ``record`` to ``path`` (``.npz``), atomically; no pickled objects."""
    path = str(path)
    if not path.endswith(".npz"):
        raise InputError(f"{param('path')} '{path}' must end in .npz")
    io.write_npz(path, **record.to_arrays())
    return path


__all__ = ["TrainingRecorder", "label_evidence", "log_probabilities", "save_record"]
