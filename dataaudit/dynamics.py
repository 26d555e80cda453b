"""The record of a user's own Keras run ("training dynamics") and the per-sample evidence in it.

:class:`dataaudit.keras.AuditCallback` writes a :class:`TrainingRecord`: after each recorded
epoch, for every recorded training row, the probability the network gives the row's label
(``p_given``) and the largest probability it gives another class (``p_other``); the running
mean of its probability vectors; the fit's history; and the model's set-up. Everything here is
a pure function of those arrays (testable without TensorFlow):

- ``aum``: the area under the margin (Pleiss et al. 2020), the mean over epochs of
  ``log p_given - log p_other``. For a softmax head this is exactly the logit margin
  ``z_given - max_other z`` (the softmax's normaliser cancels); for a sigmoid head it is
  ``+-logit``. Mislabeled samples keep a negative margin until the network memorises them;
- ``confidence`` and ``variability``: the mean and standard deviation of ``p_given`` over epochs
  (data maps, Swayamdipta et al. 2020): easy (high confidence), ambiguous (high variability),
  hard-to-learn (low confidence, low variability: often mislabeled);
- ``forgetting_events``: how often a row goes from right (``p_given > p_other``) to wrong between
  consecutive recorded epochs (Toneva et al. 2019).

What the label checks read from a record (its probabilities, alone or pooled with a probe's) is
in :mod:`dataaudit.run_evidence`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .errors import InputError, param
from .labels import output_columns

#: What an ``.npz`` record says it is, and the version of its layout.
FORMAT = "dataaudit.dynamics"
VERSION = 1


@dataclass
class TrainingRecord:
    """The evidence of one Keras run, per recorded row.

    Attributes
    ----------
    n_rows : int
        Rows of the X the callback was given.
    fingerprint : int
        A fingerprint of that X's rows (:func:`fingerprint`), to tell a record of other data.
    rows : int64 (m,)
        The recorded rows (all of them, or a fixed random subset above the callback's size limit).
    labels : int64 (m,)
        Per recorded row, its label: the output column the network trained with (the dataset's
        label code once :meth:`in_codes` has matched the record to a dataset).
    in_training : bool (m,)
        False for rows Keras held out as ``validation_split`` (their predictions are out-of-sample).
    epochs : int (E,)
        The epochs recorded (0-based).
    logp_given : float16 (m, E)
        Per epoch, the log-probability of the row's label.
    margin : float16 (m, E)
        Per epoch, ``log p_label - max over other classes of log p``: the logit margin, exact even
        where probabilities saturate.
    other : int16 (m, E)
        Per epoch, the most likely class other than the label (-1: an output that is no class).
    n_outputs : int
        Classes the network chooses from (2 for a sigmoid head).
    embedding_mean, embedding_best : float16 (m, d) or None
        The network's own representation of each row (the input of its last Dense layer, projected
        to at most ``keras.callback.EMBEDDING_DIMS`` dimensions): averaged over the recorded epochs,
        and as it was at the epoch of the lowest validation loss (None without validation).
    history : dict of str to float (n_epochs,)
        ``model.fit``'s history (loss, metrics, validation metrics, learning rate), every epoch.
    setup : dict
        The model's set-up: output units and activation, loss, optimizer, learning rate, labels' form.
    """

    n_rows: int
    fingerprint: int
    rows: np.ndarray
    labels: np.ndarray
    in_training: np.ndarray
    epochs: np.ndarray
    logp_given: np.ndarray
    margin: np.ndarray
    other: np.ndarray
    n_outputs: int
    history: dict[str, np.ndarray] = field(default_factory=dict)
    setup: dict[str, Any] = field(default_factory=dict)
    embedding_mean: np.ndarray | None = None
    embedding_best: np.ndarray | None = None

    @property
    def embeddings(self) -> list[np.ndarray]:
        """The recorded representations (none, one or two)."""
        return [e for e in (self.embedding_best, self.embedding_mean) if e is not None and e.size]

    @property
    def n_recorded(self) -> int:
        return int(len(self.rows))

    @property
    def n_epochs(self) -> int:
        return int(len(self.epochs))

    @property
    def p_given(self) -> np.ndarray:
        """Per epoch, the probability of the row's label (m, E)."""
        return np.exp(np.asarray(self.logp_given, np.float32))

    @property
    def p_other(self) -> np.ndarray:
        """Per epoch, the largest probability of another class (m, E)."""
        return np.exp(np.asarray(self.logp_given, np.float32) - np.asarray(self.margin, np.float32))

    def in_codes(self, labels: np.ndarray, columns: np.ndarray) -> "TrainingRecord":
        """This record in a dataset's label codes: ``labels`` are the dataset's codes per row and
        ``columns`` each class's output column (see :func:`match`)."""
        code_of_column = np.full(max(self.n_outputs, int(columns.max()) + 1), -1, np.int16)
        code_of_column[columns] = np.arange(len(columns))
        other = np.where(self.other >= 0, code_of_column[np.maximum(self.other, 0)], -1).astype(np.int16)
        return replace(self, labels=np.asarray(labels)[self.rows], other=other, n_outputs=len(columns))

    def summary(self) -> dict[str, Any]:
        """What the report says about the record (``report.summary["dynamics"]``)."""
        return {
            "n_rows": self.n_rows,
            "n_recorded": self.n_recorded,
            "n_in_training": int(self.in_training.sum()),
            "n_epochs_recorded": self.n_epochs,
            "epochs": [int(e) for e in self.epochs],
            "setup": json.loads(json.dumps(self.setup, sort_keys=True)),
        }

    # ------------------------------------------------------------------ file layout
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays of the ``.npz`` file (no pickled objects: text is stored as unicode arrays)."""
        names = sorted(self.history)
        table = np.column_stack([self.history[k] for k in names]) if names else np.zeros((0, 0))
        return {
            "format": np.array(FORMAT),
            "version": np.array(VERSION),
            "n_rows": np.array(self.n_rows, np.int64),
            "fingerprint": np.array(self.fingerprint, np.uint64),
            "rows": self.rows.astype(np.int64),
            "labels": self.labels.astype(np.int64),
            "in_training": self.in_training.astype(bool),
            "epochs": self.epochs.astype(np.int64),
            "logp_given": self.logp_given.astype(np.float16),
            "margin": self.margin.astype(np.float16),
            "other": self.other.astype(np.int16),
            "n_outputs": np.array(self.n_outputs, np.int64),
            "history_names": np.array(names, dtype=str),
            "history": table.astype(np.float64),
            "setup": np.array(json.dumps(self.setup, sort_keys=True)),
            "embedding_mean": _stored(self.embedding_mean, self.n_recorded),
            "embedding_best": _stored(self.embedding_best, self.n_recorded),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], source: str = "the record") -> "TrainingRecord":
        """Validate the arrays of a record (as :func:`dataaudit.io.load_record` reads them)."""
        what = f"{param('dynamics')} {source}"
        missing = [k for k in ("format", "version", "rows", "labels", "logp_given", "margin", "other") if k not in arrays]
        if missing or str(arrays.get("format", "")) != FORMAT:
            raise InputError(f"{what} is not a dataaudit training record (no '{missing[0] if missing else 'format'}'): "
                             "save one with AuditCallback(X, y) ... cb.save(path)")
        if int(arrays["version"]) > VERSION:
            raise InputError(f"{what} was written by a newer dataaudit (layout {int(arrays['version'])}): upgrade dataaudit")
        try:
            record = cls(
                n_rows=int(arrays["n_rows"]),
                fingerprint=int(arrays["fingerprint"]),
                rows=np.asarray(arrays["rows"], np.int64),
                labels=np.asarray(arrays["labels"], np.int64),
                in_training=np.asarray(arrays["in_training"], bool),
                epochs=np.asarray(arrays["epochs"], np.int64),
                logp_given=np.asarray(arrays["logp_given"], np.float16),
                margin=np.asarray(arrays["margin"], np.float16),
                other=np.asarray(arrays["other"], np.int16),
                n_outputs=int(arrays["n_outputs"]),
                history={str(k): np.asarray(arrays["history"])[:, i].astype(float)
                         for i, k in enumerate(np.asarray(arrays["history_names"]).tolist())},
                setup=json.loads(str(arrays["setup"])),
                embedding_mean=_loaded(arrays.get("embedding_mean")),
                embedding_best=_loaded(arrays.get("embedding_best")),
            )
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise InputError(f"{what} is damaged ({type(exc).__name__}: {exc}): record the run again") from None
        record.check()
        return record

    def check(self) -> None:
        """The record's arrays agree with each other; values are probabilities."""
        m, e, k = self.n_recorded, len(self.epochs), self.n_outputs
        shapes = {"labels": (m,), "in_training": (m,), "logp_given": (m, e), "margin": (m, e), "other": (m, e)}
        for name, shape in shapes.items():
            if getattr(self, name).shape != shape:
                raise InputError(f"the {param('dynamics')} record is damaged: '{name}' has shape "
                                 f"{getattr(self, name).shape}, expected {shape}: record the run again")
        if m == 0 or e == 0:
            raise InputError(f"the {param('dynamics')} record holds no epochs: train for at least one epoch with the callback")
        if self.rows.min() < 0 or self.rows.max() >= self.n_rows or np.any(np.diff(self.rows) <= 0):
            raise InputError(f"the {param('dynamics')} record is damaged: its row indices are not increasing within 0..{self.n_rows - 1}")
        if k < 2 or self.labels.min() < 0 or self.labels.max() >= k or self.other.max() >= k or self.other.min() < -1:
            raise InputError(f"the {param('dynamics')} record is damaged: classes outside 0..{k - 1}")
        for name in ("embedding_mean", "embedding_best"):
            value = getattr(self, name)
            if value is not None and (value.ndim != 2 or value.shape[0] != m or not np.all(np.isfinite(value))):
                raise InputError(f"the {param('dynamics')} record is damaged: '{name}' has shape {value.shape}, "
                                 f"expected ({m}, d) finite values: record the run again")
        logp, margin = np.asarray(self.logp_given, np.float32), np.asarray(self.margin, np.float32)
        if not (np.all(np.isfinite(logp)) and np.all(np.isfinite(margin)) and logp.max() <= 1e-3):
            raise InputError(f"the {param('dynamics')} record is damaged: 'logp_given' or 'margin' are not log-probabilities")


def _stored(embedding: np.ndarray | None, m: int) -> np.ndarray:
    return np.zeros((m, 0), np.float16) if embedding is None else np.asarray(embedding, np.float16)


def _loaded(array: np.ndarray | None) -> np.ndarray | None:
    return None if array is None or array.size == 0 else np.asarray(array, np.float16)


# ----------------------------------------------------------------------------- matching X and y


#: The fingerprint of a record made without X.
NO_FINGERPRINT = 0
#: Rows and values the fingerprint of X reads: enough to tell data apart, cheap at any size.
FINGERPRINT_ROWS = 64
FINGERPRINT_VALUES = 256


def fingerprint(X: np.ndarray) -> int:
    """A fingerprint of X's rows that survives the usual rescaling.

    Per value position (up to ``FINGERPRINT_VALUES`` of them), the rank order of
    ``FINGERPRINT_ROWS`` evenly spaced rows: unchanged by any increasing per-feature transform
    (``X / 255``, standardisation, another dtype), changed by other rows, another row order or
    other features.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(500, 8))
    >>> fingerprint(X) == fingerprint(X.astype(np.float32) * 255 + 3)
    True
    >>> fingerprint(X) == fingerprint(X[::-1])
    False
    """
    from scipy.stats import rankdata

    from .rowhash import row_hashes

    n = X.shape[0]
    rows = np.unique(np.linspace(0, n - 1, min(n, FINGERPRINT_ROWS)).round().astype(np.int64))
    flat = np.asarray(X[rows], dtype=np.float64).reshape(len(rows), -1)
    cols = np.unique(np.linspace(0, flat.shape[1] - 1, min(flat.shape[1], FINGERPRINT_VALUES)).round().astype(np.int64))
    # Equal values share a rank ("min"), so ties stay ties whatever the transform.
    ranks = rankdata(flat[:, cols], method="min", axis=0)
    with np.errstate(over="ignore"):
        words = row_hashes(np.ascontiguousarray(ranks.T.astype(np.int64)))
        mixed = (words * np.uint64(0x9E3779B97F4A7C15)).sum(dtype=np.uint64)
    return int(mixed ^ np.uint64(n) ^ (np.uint64(flat.shape[1]) << np.uint64(40)))


def match(record: TrainingRecord, X: np.ndarray, labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Check that ``record`` was made on these rows and labels; return each class's output column.

    Raises an InputError naming the mismatch (rows, data, labels) otherwise.
    """
    n = len(labels)
    if record.n_rows != n:
        raise InputError(f"the {param('dynamics')} record was made on {record.n_rows:,} rows but X has {n:,}: "
                         "give the callback and the scan the same X (the whole array given to fit)")
    # A record made without X (TrainingRecorder(y) alone) has no fingerprint to compare.
    if record.fingerprint != NO_FINGERPRINT and fingerprint(X) != record.fingerprint:
        raise InputError(f"the {param('dynamics')} record was made on other data than X (other rows, or in another "
                         "order): give the scan the X you trained on")
    columns = output_columns(classes, record.n_outputs)
    if len(classes) > max(record.n_outputs, 2) or columns.max() >= max(record.n_outputs, 2):
        raise InputError(f"y has {len(classes)} classes but the recorded network has {record.n_outputs} outputs")
    expected = columns[labels[record.rows]]
    wrong = np.flatnonzero(expected != record.labels)
    if len(wrong):
        i = int(wrong[0])
        raise InputError(
            f"the {param('dynamics')} record's labels differ from y at {len(wrong):,} rows (first at row "
            f"{int(record.rows[i])}: the network trained with class {int(record.labels[i])}, y says "
            f"{classes[labels[record.rows[i]]]!r}): give the scan the labels you trained on"
        )
    return columns


# ----------------------------------------------------------------------------- per-sample evidence


def aum(margin: np.ndarray) -> np.ndarray:
    """The area under the margin (Pleiss et al. 2020): per row, the mean over recorded epochs of
    the given label's logit margin over the best other class (the record's ``margin``).

    Examples
    --------
    >>> aum(np.array([[1.5, -0.5], [-2.0, -1.0]])).tolist()
    [0.5, -1.5]
    """
    return np.asarray(margin, np.float32).mean(axis=1, dtype=np.float64)


def confidence(p_given: np.ndarray) -> np.ndarray:
    """Mean over epochs of the probability of the given label (a data map's y axis)."""
    return np.asarray(p_given, np.float64).mean(axis=1)


def variability(p_given: np.ndarray) -> np.ndarray:
    """Standard deviation over epochs of the probability of the given label (a data map's x axis)."""
    return np.asarray(p_given, np.float64).std(axis=1)


def is_right(margin: np.ndarray) -> np.ndarray:
    """Per row and recorded epoch, whether the network's answer is the row's label: a positive
    margin of the label over the best other class.

    Examples
    --------
    >>> is_right(np.array([[0.5, -0.1, 0.0]])).tolist()
    [[True, False, False]]
    """
    return np.asarray(margin, np.float32) > 0


def forgotten(margin: np.ndarray) -> np.ndarray:
    """Per row and step between consecutive recorded epochs, whether the row went from right to
    wrong (a forgetting event, Toneva et al. 2019): shape (m, E - 1)."""
    right = is_right(margin)
    return right[:, :-1] & ~right[:, 1:]


def forgetting_events(margin: np.ndarray) -> np.ndarray:
    """How many times a row goes from right to wrong between consecutive recorded epochs.

    Examples
    --------
    >>> forgetting_events(np.array([[2.0, -1.0, 1.0, -3.0]])).tolist()
    [2]
    """
    return forgotten(margin).sum(axis=1).astype(np.int64)


#: A row forgotten this many times or more is "often forgotten".
OFTEN_FORGOTTEN = 2


def never_learned(margin: np.ndarray, in_training: np.ndarray) -> np.ndarray:
    """Training rows whose label lost to another class on average over the run (a negative area
    under the margin) and still does at its end: a row learned late, as a hard but right one
    is, was learned.

    Examples
    --------
    >>> never_learned(np.array([[-1.0, -0.5], [-2.0, 1.0], [-1.0, -1.0]]), np.array([True, True, False])).tolist()
    [True, False, False]
    """
    return np.asarray(in_training, bool) & (aum(margin) < 0) & ~is_right(np.asarray(margin)[:, -1:])[:, 0]


# ----------------------------------------------------------------------------- label evidence
