"""The common shape of every check.

A check is a module with ``NAME``, ``NEEDS`` (what the orchestrator must prepare),
``METRICS`` (the gate metrics it computes) and ``run(inputs, **options) -> CheckResult``.
It reads only :class:`CheckInputs` (never another check's result or a global object) and
returns per-sample columns plus dataset-level figures, gate metrics and findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Severity = Literal["info", "warning", "critical"]
SEVERITY_ORDER = {"info": 0, "warning": 1, "critical": 2}

# What a check may declare in NEEDS.
NEED_PROBE = "probe"  # out-of-sample predicted probabilities and per-sample loss
NEED_NEIGHBORS = "neighbors"  # the shared kNN graph
NEED_TEST = "test"  # a held-out split (X_test, y_test)


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


@dataclass
class CheckResult:
    """What a check returns.

    Attributes
    ----------
    name : str
        The check's name.
    columns : dict of str to ndarray
        Per-sample columns, each of length ``n_samples``, in input order.
    figures : dict
        JSON-ready dataset-level figures (``report.summary[name]``).
    metrics : dict of str to float
        Numbers a ``--fail-on`` gate can test, e.g. ``{"label_issues": 0.07}``.
    findings : list of Finding
    """

    name: str
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
        Features as given (exact comparisons).
    features : ndarray (n, d) float32
        Finite features (models, distances).
    labels : ndarray (n,) int64
        Label codes into ``classes``.
    classes : ndarray
        Original label values.
    pred_probs, loss : ndarray or None
        Out-of-sample probabilities (n, K) and per-sample cross-entropy (n,), when NEEDS has "probe".
    probe_info : dict
        How the probabilities were obtained (model, folds).
    neighbors : NeighborGraph or None
        The shared kNN graph, when NEEDS has "neighbors".
    raw_test, features_test, labels_test : ndarray or None
        The held-out split, when given.
    random_state : int
    """

    raw: np.ndarray
    features: np.ndarray
    labels: np.ndarray
    classes: np.ndarray
    pred_probs: np.ndarray | None = None
    loss: np.ndarray | None = None
    probe_info: dict[str, Any] = field(default_factory=dict)
    neighbors: Any = None
    raw_test: np.ndarray | None = None
    features_test: np.ndarray | None = None
    labels_test: np.ndarray | None = None
    random_state: int = 0

    @property
    def n_samples(self) -> int:
        return int(self.labels.shape[0])

    @property
    def n_classes(self) -> int:
        return int(len(self.classes))

    def label_name(self, code: int) -> Any:
        """The original label value of a code, JSON-ready."""
        value = self.classes[int(code)]
        return value.item() if isinstance(value, np.generic) else value
