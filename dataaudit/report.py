"""The Report object: per-sample table, JSON summary, the checks' row verdicts, remedies, gate and files."""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from . import gate as gates
from . import io, remedies
from .checks.base import MAX_LISTED, RowVerdict
from .errors import OutputError, UsageError, param
from .utils import plural

SCHEMA_VERSION = "1.0"


class Report:
    """The result of :func:`dataaudit.scan`.

    Attributes
    ----------
    samples : pandas.DataFrame
        One row per input sample, in input order (see the contract for the columns).
    summary : dict
        JSON-ready dataset figures, one entry per check, metrics and findings: the content
        of ``report.json``.
    verdicts : dict of str to RowVerdict
        Each check's per-row verdict (flag, score, weight factor, exclusion, groups), which
        the remedies combine.

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
        verdicts: dict[str, RowVerdict] | None = None,
        titles: dict[str, str] | None = None,
        raw: np.ndarray | None = None,
        sample_shape: tuple = (),
        random_state: int = 0,
        views: Mapping[str, Callable[["Report"], str]] | None = None,
    ) -> None:
        self.samples = samples
        self.summary = summary
        self.verdicts = dict(verdicts or {})
        self.titles = dict(titles or {})
        self.raw = raw
        self.sample_shape = tuple(sample_shape)
        self._labels = labels
        self._classes = classes
        self._random_state = random_state
        # File name -> the view that renders this report into it (the views import the report,
        # never the other way round).
        self._views = dict(views or {})
        #: Wall time and peak memory per stage of the scan that made it (``timings.json``), or None.
        self.timings: dict[str, Any] | None = None

    # ------------------------------------------------------------------ views
    @property
    def findings(self) -> list[dict[str, Any]]:
        """Findings, most severe first: ``{check, severity, count, message, advice}``."""
        return self.summary["findings"]

    @property
    def metrics(self) -> dict[str, float]:
        """Numbers the gate tests."""
        return self.summary["metrics"]

    @property
    def classes(self) -> np.ndarray:
        return self._classes

    def listed(self, check: str, limit: int = MAX_LISTED) -> np.ndarray:
        """The rows ``check`` flagged, worst (lowest score) first, at most ``limit``."""
        verdict = self.verdicts[check]
        idx = np.flatnonzero(verdict.flag)
        return idx[np.argsort(np.asarray(verdict.score)[idx], kind="stable")][:limit]

    def flag_count(self, check: str) -> int:
        """How many rows ``check`` flagged."""
        return int(np.count_nonzero(self.verdicts[check].flag))

    def __repr__(self) -> str:
        d = self.summary["dataset"]
        return (
            f"<dataaudit.Report: {plural(d['n_samples'], 'sample')}, {plural(d['n_classes'], 'class', 'classes')}, "
            f"{plural(len(self.findings), 'finding')}>"
        )

    def to_json(self) -> str:
        """``report.json`` as a string (deterministic for a given seed)."""
        return io.dumps_json(self.summary)

    # ------------------------------------------------------------------ the gate
    def gate(self, fail_on: str) -> dict[str, Any]:
        """Apply a pipeline gate such as ``"label_issues>0.05,conflicting_duplicates>0"``.

        The result (``{"conditions", "tripped", "passed"}``) is returned and stored in
        ``summary["gate"]`` (so it is in ``report.json``). A metric of a check that did not
        run, or an unknown metric, is a :class:`~dataaudit.errors.UsageError`.
        """
        conditions = gates.parse(fail_on)
        tripped = gates.evaluate(conditions, self.metrics)
        self.summary["gate"] = {"conditions": [c.text for c in conditions], "tripped": tripped, "passed": not tripped}
        return self.summary["gate"]

    # ------------------------------------------------------------------ remedies
    def sample_weight(self, *, balance_classes: bool = False, drop_flagged: bool = False) -> np.ndarray:
        """One weight per sample for ``fit(X, y, sample_weight=w)``; mean 1 over non-zero weights.

        The weight is the product of each check's factor (:mod:`dataaudit.remedies` has the formula).

        Parameters
        ----------
        balance_classes : bool, default False
            Also give every class the same total weight.
        drop_flagged : bool, default False
            Zero the rows the checks exclude (label issues, minority labels of conflicting
            duplicates, outliers) instead of down-weighting them.
        """
        return remedies.sample_weight(self.verdicts.values(), self._labels, len(self._classes),
                                      balance_classes=balance_classes, drop_flagged=drop_flagged)

    def _split(self, test_size: float, random_state: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(self._labels)
        return remedies.clean_split(
            self._labels,
            exclude=remedies.excluded_rows(self.verdicts.values(), n),
            group=remedies.split_groups(self.verdicts.values(), n),
            test_size=test_size,
            random_state=random_state,
        )

    def clean_split(self, test_size: float = 0.2, *, random_state: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Stratified ``(train_idx, val_idx)`` without excluded rows; duplicate groups never straddle it."""
        train, val, _ = self._split(test_size, self._random_state if random_state is None else random_state)
        return train, val

    def excluded(self) -> np.ndarray:
        """Indices of the rows a cleaned dataset leaves out (``split.npz["excluded"]``)."""
        return np.flatnonzero(remedies.excluded_rows(self.verdicts.values(), len(self._labels)))

    def clean_data(self, X, y=None, *, relabel: bool = False):
        """``(X_clean, y_clean)``: the rows to train on, in input order.

        Excluded rows are dropped; with ``relabel=True`` a row whose exclusion comes with a
        corrected label (a label issue's ``suggested_label``) is kept with that label instead
        (conflicting-duplicate minorities and outliers are still dropped). ``y`` defaults to
        the labels the report was made from.
        """
        y = self.samples["label"].to_numpy() if y is None else np.asarray(y)
        n = len(self.samples)
        if len(y) != n or len(X) != n:
            raise UsageError(f"{param('X')} and {param('y')} must have the report's {n} rows, not {len(X)} and {len(y)}")
        y = y.copy()
        drop = remedies.excluded_rows(self.verdicts.values(), n)
        if relabel:
            codes = remedies.relabels(self.verdicts.values(), n)
            fixed = codes >= 0
            y = y.astype(object) if y.dtype.kind in "US" else y
            y[fixed] = self._classes[codes[fixed]]
            drop = drop & ~fixed
        keep = np.flatnonzero(~drop)
        X_clean = X.iloc[keep] if hasattr(X, "iloc") else np.asarray(X)[keep]
        return X_clean, y[keep]

    # ------------------------------------------------------------------ files
    def save(self, directory: str | os.PathLike) -> list[str]:
        """Write ``report.json``, ``samples.csv``, ``sample_weight.npy``, ``split.npz``, the
        views (``report.html`` for a report made by :func:`dataaudit.scan`) and ``timings.json``
        (each stage's wall time and peak memory, apart from ``report.json``, which the same seed
        keeps identical) into ``directory``, each atomically.

        Only these files are replaced in an existing directory. Returns the paths written.
        """
        directory = io.check_output_dir(directory, what="directory")
        written = []

        def path(name: str) -> str:
            p = os.path.join(directory, name)
            written.append(p)
            return p

        try:
            io.write_json(path("report.json"), self.summary)
            io.write_text(path("samples.csv"), self.samples.to_csv(index_label="index", lineterminator="\n"))
            io.write_npy(path("sample_weight.npy"), self.sample_weight())
            train, val, excluded = self._split(0.2, self._random_state)
            io.write_npz(path("split.npz"), train=train, val=val, excluded=excluded)
            for name, view in self._views.items():
                io.write_text(path(name), view(self))
            if self.timings is not None:
                io.write_json(path("timings.json"), self.timings)
        except OSError as exc:
            raise OutputError(f"cannot write into '{directory}' ({exc.strerror or exc}): choose another {param('directory')}") from None
        return written
