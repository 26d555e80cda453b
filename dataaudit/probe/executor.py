"""Who runs the probe's fold fits: the seam between the fold loop and an engine.

A :class:`FoldTask` is one estimator to fit on one fold's training rows and to predict on its
held-out rows, reading the rows themselves or one of their views (a picture's blurred pixels,
its gradient histograms). The fold loop builds the tasks of a pass and hands them to an
:class:`Executor` with the inputs by view, which returns each task's out-of-fold probabilities;
:class:`LocalExecutor` runs them one after the other in this process (each fit uses the
machine's cores through BLAS and OpenMP). Another engine implements the same one method.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence

import numpy as np


@dataclass(frozen=True)
class FoldTask:
    """One fit: ``estimator`` (cloned before fitting) on rows ``train`` of input ``view`` (None:
    the rows themselves), predicting rows ``test``."""

    fold: int
    n_folds: int
    member: int
    estimator: Any
    train: np.ndarray
    test: np.ndarray
    view: str | None = None


class Executor(Protocol):
    """Runs fold tasks on ``inputs[task.view]``; returns, per task and in order, the
    (len(test), n_classes) probabilities."""

    def run(self, tasks: Sequence[FoldTask], inputs: Mapping[str | None, np.ndarray], labels: np.ndarray,
            n_classes: int, *,
            progress: Callable[[str], None] | None = None, name: str = "probe") -> list[np.ndarray]:
        ...


def fit_estimator(estimator, X_train: np.ndarray, y_train: np.ndarray):
    """A fitted clone of ``estimator``."""
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    # A small network's updates are small matrix products: a second BLAS thread costs more than
    # it gives, and on a busy machine much more.
    blas_threads = 1 if type(final).__name__ == "MLPClassifier" else None
    with warnings.catch_warnings(), threadpool_limits(limits=blas_threads, user_api="blas"):
        # Convergence chatter from MLP/logistic per fold says nothing the user can act on.
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        return clone(estimator).fit(X_train, y_train)


def predict_codes(fitted, X: np.ndarray, n_classes: int) -> np.ndarray:
    """A fitted estimator's probabilities, one column per class code (0 for classes it never saw)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        out = np.zeros((len(X), n_classes))
        out[:, np.asarray(fitted.classes_, dtype=int)] = fitted.predict_proba(X)
    return out


def fit_predict(estimator, X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, n_classes: int) -> np.ndarray:
    """Out-of-fold probabilities of one estimator, one column per class code."""
    return predict_codes(fit_estimator(estimator, X_train, y_train), X_test, n_classes)


class LocalExecutor:
    """Runs the tasks one after the other in this process."""

    def run(self, tasks: Sequence[FoldTask], inputs: Mapping[str | None, np.ndarray], labels: np.ndarray,
            n_classes: int, *, progress: Callable[[str], None] | None = None, name: str = "probe") -> list[np.ndarray]:
        out = []
        for i, task in enumerate(tasks):
            if progress and (i == 0 or task.fold != tasks[i - 1].fold):
                progress(f"probe {name}: fold {task.fold + 1}/{task.n_folds} "
                         f"({len(task.train)} train, {len(task.test)} held out)")
            features = inputs[task.view]
            out.append(fit_predict(task.estimator, features[task.train], labels[task.train], features[task.test],
                                   n_classes))
        return out


__all__ = ["Executor", "FoldTask", "LocalExecutor", "fit_estimator", "fit_predict", "predict_codes"]
