"""The Report object: per-sample table, JSON summary, remedies and files."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from . import _io, remedies
from .errors import OutputError

SCHEMA_VERSION = "1.0"

#: Files a report writes; an existing output directory only ever has these replaced.
OUTPUT_FILES = ("report.json", "samples.csv", "sample_weight.npy", "split.npz", "report.html")


class Report:
    """The result of :func:`dataaudit.scan`.

    Attributes
    ----------
    samples : pandas.DataFrame
        One row per input sample, in input order (see the contract for the columns).
    summary : dict
        JSON-ready dataset figures, one entry per check, metrics and findings: the content
        of ``report.json``.

    Examples
    --------
    >>> import numpy as np, dataaudit
    >>> X = np.r_[np.eye(4), np.eye(4)]
    >>> y = np.array([0, 1, 0, 1, 0, 1, 1, 1])
    >>> report = dataaudit.scan(X, y, checks=["duplicates"])
    >>> report.samples["is_conflicting_duplicate"].tolist()
    [False, False, True, False, False, False, True, False]
    """

    def __init__(
        self,
        samples: pd.DataFrame,
        summary: dict[str, Any],
        *,
        labels: np.ndarray,
        classes: np.ndarray,
        raw: np.ndarray | None = None,
        sample_shape: tuple = (),
        random_state: int = 0,
        pred_probs: np.ndarray | None = None,
    ) -> None:
        self.samples = samples
        self.summary = summary
        self._labels = labels
        self._classes = classes
        self._raw = raw
        self._sample_shape = sample_shape
        self._random_state = random_state
        self._pred_probs = pred_probs

    # ------------------------------------------------------------------ views
    @property
    def findings(self) -> list[dict[str, Any]]:
        """Findings, most severe first: ``{check, severity, count, message, advice}``."""
        return self.summary["findings"]

    @property
    def metrics(self) -> dict[str, float]:
        """Numbers the ``--fail-on`` gate tests."""
        return self.summary["metrics"]

    @property
    def classes(self) -> np.ndarray:
        return self._classes

    def __repr__(self) -> str:
        d = self.summary["dataset"]
        return (
            f"<dataaudit.Report: {d['n_samples']} samples, {d['n_classes']} classes, "
            f"{len(self.findings)} findings>"
        )

    def to_json(self) -> str:
        """``report.json`` as a string (deterministic for a given seed)."""
        return _io.dumps_json(self.summary)

    # ------------------------------------------------------------------ remedies
    def sample_weight(self, *, balance_classes: bool = False, drop_flagged: bool = False) -> np.ndarray:
        """One weight per sample for ``fit(X, y, sample_weight=w)``; mean 1 over non-zero weights.

        Parameters
        ----------
        balance_classes : bool, default False
            Also give every class the same total weight.
        drop_flagged : bool, default False
            Zero the flagged rows (label issues, minority labels of conflicting duplicates,
            outliers) instead of down-weighting them.

        See :mod:`dataaudit.remedies` for the formula.
        """
        return remedies.sample_weight(
            self.samples, self._labels, len(self._classes),
            balance_classes=balance_classes, drop_flagged=drop_flagged,
        )

    def clean_split(self, test_size: float = 0.2, *, random_state: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Stratified ``(train_idx, val_idx)`` without flagged rows; duplicate groups never straddle it."""
        train, val, _ = remedies.clean_split(
            self.samples,
            self._labels,
            test_size=test_size,
            random_state=self._random_state if random_state is None else random_state,
        )
        return train, val

    def excluded(self) -> np.ndarray:
        """Indices of the rows a cleaned dataset leaves out (``split.npz["excluded"]``)."""
        return np.flatnonzero(remedies.flagged_rows(self.samples, self._labels))

    def clean_data(self, X, y=None, *, relabel: bool = False):
        """``(X_clean, y_clean)``: the rows to train on, in input order.

        Flagged rows are dropped; with ``relabel=True`` label issues are kept with their
        ``suggested_label`` instead (conflicting-duplicate minorities and outliers are still
        dropped). ``y`` defaults to the labels the report was made from.
        """
        y = self.samples["label"].to_numpy() if y is None else np.asarray(y)
        if len(y) != len(self.samples) or len(X) != len(self.samples):
            raise ValueError(f"X and y must have the report's {len(self.samples)} rows")
        y = y.copy()
        drop = remedies.flagged_rows(self.samples, self._labels)
        if relabel and "is_label_issue" in self.samples:
            issue = self.samples["is_label_issue"].to_numpy(bool)
            y = y.astype(object) if y.dtype.kind in "US" else y
            y[issue] = self.samples["suggested_label"].to_numpy()[issue]
            drop = drop & ~issue
        keep = np.flatnonzero(~drop)
        X_clean = X.iloc[keep] if hasattr(X, "iloc") else np.asarray(X)[keep]
        return X_clean, y[keep]

    # ------------------------------------------------------------------ files
    def save(self, directory: str | os.PathLike) -> list[str]:
        """Write ``report.json``, ``samples.csv``, ``sample_weight.npy``, ``split.npz`` and
        ``report.html`` into ``directory``, each atomically.

        Only these files are replaced in an existing directory. Returns the paths written.
        """
        directory = os.fspath(directory)
        if os.path.exists(directory) and not os.path.isdir(directory):
            raise OutputError(f"output path '{directory}' is a file, not a directory: choose a directory for --out")
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create output directory '{directory}' ({exc.strerror}): choose another --out") from None
        if not os.access(directory, os.W_OK):
            raise OutputError(f"output directory '{directory}' is not writable: choose another --out")
        written = []

        def path(name: str) -> str:
            p = os.path.join(directory, name)
            written.append(p)
            return p

        try:
            _io.write_json(path("report.json"), self.summary)
            _io.write_text(path("samples.csv"), self.samples.to_csv(index_label="index", lineterminator="\n"))
            _io.write_npy(path("sample_weight.npy"), self.sample_weight())
            train, val, excluded = remedies.clean_split(self.samples, self._labels, random_state=self._random_state)
            _io.write_npz(path("split.npz"), train=train, val=val, excluded=excluded)
            from .render.html import render as render_html

            _io.write_text(path("report.html"), render_html(self))
        except OSError as exc:
            raise OutputError(f"cannot write into '{directory}' ({exc.strerror or exc}): choose another --out") from None
        return written
