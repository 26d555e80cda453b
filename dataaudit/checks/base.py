"""The common shape of every check.

A check is a module with

- ``NAME``: its name in the registry, the report and ``--checks``;
- ``TITLE``: the heading of its section in the views;
- ``NEEDS``: the shared inputs the orchestrator must prepare (``NEED_*`` below);
- ``METRICS``: the gate metrics it computes (exactly the keys of ``CheckResult.metrics``);
- ``SEVERITY``: the cut-offs that grade its findings, declared in one place;
- ``run(inputs, **options) -> CheckResult``: options are keyword arguments with defaults.

A check reads only :class:`CheckInputs` (never another check's result or a global object) and
returns its figures, gate metrics, findings, per-sample columns and one :class:`RowVerdict`:
the per-row contract that remedies (sample weights, cleaned data and split), the views and the
training doctor loop over without knowing which check made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

import numpy as np

from ..neighbors import NeighborGraph
from ..utils import json_value

Severity = Literal["info", "warning", "critical"]
SEVERITY_ORDER = {"info": 0, "warning": 1, "critical": 2}

# What a check may declare in NEEDS.
NEED_PROBE = "probe"  # predicted probabilities (out-of-sample, or from the training record) and per-sample loss
NEED_NEIGHBORS = "neighbors"  # the shared kNN graph
NEED_TEST = "test"  # a held-out split (X_test, y_test)
NEED_DYNAMICS = "dynamics"  # the record of the user's own training run (TrainingRecorder, AuditCallback)
NEED_SETUP = "setup"  # the model's set-up (output layer, loss, optimizer), described as data

#: Rows a check lists in its figures (the worst first); the samples table has them all.
MAX_LISTED = 50


def severity(value: float, *, warning: float, critical: float = np.inf) -> Severity:
    """Grade a finding: ``"critical"`` from ``critical`` on, ``"warning"`` from ``warning``, else ``"info"``.

    A cut-off of 0 means "any": ``severity(x, warning=0)`` is at least a warning for x > 0.

    Examples
    --------
    >>> [severity(r, warning=0.01, critical=0.05) for r in (0.001, 0.02, 0.05)]
    ['info', 'warning', 'critical']
    """
    if value >= critical:
        return "critical"
    return "warning" if value >= warning else "info"


@dataclass(frozen=True)
class Finding:
    """One thing the user should know, in the user's words."""

    check: str
    severity: Severity
    count: int
    message: str
    advice: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity,
            "count": int(self.count),
            "message": self.message,
            "advice": self.advice,
        }


class RowCause(str, Enum):
    """What a check's flagged rows do to training, when they are a cause of its trouble (the
    training doctor reads the verdicts by this, never by a check's name or column)."""

    LABEL_NOISE = "label_noise"
    OUTLIERS = "outliers"
    CONFLICTING_DUPLICATES = "conflicting_duplicates"

    def __str__(self) -> str:
        return self.value


@dataclass
class RowVerdict:
    """What a check says about every row, in the one shape remedies and views read.

    Attributes
    ----------
    flag : bool ndarray (n,)
        The check's verdict (e.g. ``is_label_issue``).
    score : float ndarray (n,)
        0..1, low = worse; orders the rows a view lists (flagged rows, lowest first).
    weight : float ndarray (n,) or None
        The factor the check contributes to ``sample_weight`` (None: 1 for every row).
    exclude : bool ndarray (n,) or None
        Rows the cleaned data and split leave out (None: none).
    group : int ndarray (n,) or None
        Rows sharing an id ``>= 0`` stay together on one side of a split (None: no groups).
    relabel : int ndarray (n,) or None
        A corrected label code per row, -1 for none: ``clean_data(relabel=True)`` keeps an
        excluded row with it instead of dropping the row.
    shown : tuple of str
        Columns of ``report.samples`` the views show beside each listed row.
    cause : RowCause or None
        The training trouble the check's rows carry, when they carry one.
    cause_rows : bool ndarray (n,) or None
        The rows that carry ``cause`` (None: the flagged rows); e.g. the members of duplicate
        groups whose labels conflict, where the flag marks every duplicate.
    """

    flag: np.ndarray
    score: np.ndarray
    weight: np.ndarray | None = None
    exclude: np.ndarray | None = None
    group: np.ndarray | None = None
    relabel: np.ndarray | None = None
    shown: tuple[str, ...] = ()
    cause: RowCause | None = None
    cause_rows: np.ndarray | None = None

    def arrays(self) -> dict[str, np.ndarray]:
        """The per-row arrays that are set, by field name."""
        names = ("flag", "score", "weight", "exclude", "group", "relabel")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


@dataclass
class CheckResult:
    """What a check returns.

    Attributes
    ----------
    name : str
        The check's name.
    rows : RowVerdict
        The per-row contract (see :class:`RowVerdict`).
    columns : dict of str to ndarray
        Per-sample columns, each of length ``n_samples``, in input order.
    figures : dict
        JSON-ready dataset-level figures (``report.summary[name]``).
    metrics : dict of str to float
        Numbers a gate can test, e.g. ``{"label_issues": 0.07}``; keys = the module's METRICS.
    findings : list of Finding
    """

    name: str
    rows: RowVerdict
    columns: dict[str, np.ndarray] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


@dataclass
class CheckInputs:
    """Everything a check may read; filled in by the orchestrator according to NEEDS.

    Attributes
    ----------
    raw : ndarray (n, d)
        Features as given, flattened per sample (exact comparisons).
    features : ndarray (n, d) float32
        Finite features (models, distances).
    labels : ndarray (n,) int64
        Label codes into ``classes``.
    classes : ndarray
        Original label values.
    sample_shape : tuple
        The shape of one sample as given (``(28, 28, 1)`` for images).
    pred_probs, loss : ndarray or None
        Predicted probabilities (n, K) and per-sample cross-entropy (n,), when NEEDS has "probe".
    probe_info : dict
        How the probabilities were obtained (model, folds, advice).
    neighbors : dataaudit.neighbors.NeighborGraph or None
        The shared kNN graph, when NEEDS has "neighbors" (any provider of the protocol).
    judged : bool ndarray (n,) or None
        Rows that have predicted probabilities, when only some do (a training record of a
        subset of rows and no probe); None: every row.
    raw_test, features_test, labels_test : ndarray or None
        The held-out split, when NEEDS has "test".
    record : TrainingRecord or None
        The user's Keras run, in this dataset's label codes, when NEEDS has "dynamics".
    setup : dict or None
        The model's set-up (output units and activation, loss, learning rate), when NEEDS has
        "setup".
    random_state : int
    """

    raw: np.ndarray
    features: np.ndarray
    labels: np.ndarray
    classes: np.ndarray
    sample_shape: tuple = ()
    pred_probs: np.ndarray | None = None
    loss: np.ndarray | None = None
    probe_info: dict[str, Any] = field(default_factory=dict)
    neighbors: NeighborGraph | None = None
    judged: np.ndarray | None = None
    raw_test: np.ndarray | None = None
    features_test: np.ndarray | None = None
    labels_test: np.ndarray | None = None
    record: Any = None
    setup: dict[str, Any] | None = None
    random_state: int = 0

    @property
    def n_samples(self) -> int:
        return int(self.labels.shape[0])

    @property
    def n_classes(self) -> int:
        return int(len(self.classes))

    def label_name(self, code: int) -> Any:
        """The original label value of a code, JSON-ready."""
        return json_value(self.classes[int(code)])
