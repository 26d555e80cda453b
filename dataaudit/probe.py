"""Out-of-sample predicted probabilities and per-sample losses from a probe model.

Every probability a sample gets comes from a model that did not see that sample (stratified
K-fold); confident learning and the loss check are only meaningful on such probabilities.

The probe's quality is the audit's quality: a weak probe makes confident learning flag
clean-but-hard samples. ``model="auto"`` therefore picks, by the size of the data, the
probe that measured best within the time budget (docs/benchmarks.md):

- ``n <= 5,000``: ``"ensemble"``, the mean of an RBF SVM, a distance-weighted kNN, an MLP
  and a logistic regression: each alone is beaten somewhere (logistic on digits, kNN and MLP
  on breast_cancer), their average is never far from the best (10% symmetric noise,
  label-issue F1: digits 0.93, breast_cancer 0.91, wine 1.00; cleanlab fed by logistic
  regression 0.84, 0.84, 0.82);
- ``5,000 < n <= 200,000``: ``"ensemble"``, the mean of histogram gradient boosting (``hgb``
  below, at most 50 rounds) and three small networks (``mlp_64x2``: 64-64 units, Adam at
  0.01, batches of 200, seeds apart, trained for a few epochs only: 10 at 20k rows, fewer as
  the data grows, at least 3; a network that trains for long learns the noisy labels).
  Networks from different starts err in different places, so their mean is right where each
  alone is not: on 20k x 32 with five classes and 10% flipped labels, boosting alone (two
  passes) agrees with the true labels on 0.89 of the rows (label-issue F1 0.77), the ensemble
  (one pass) on 0.94 (F1 0.91);
- ``n > 200,000``: ``"hgb"``, histogram gradient boosting alone (at most 100 rounds, learning
  rate 0.2, large leaves and l2 regularisation against noisy labels, early stopping), with 3
  folds, so that 1M rows take minutes.

Passes (``default_passes``): a probe trained on noisy labels learns some of the noise, so
the orchestrator can refit it with the samples confident learning flagged left out of
training (every sample still gets out-of-fold probabilities). A single-model probe is fitted
twice; ``auto``'s ensemble above 5,000 rows once (averaging already does much of what the
refit does, and 50k rows stay within seconds); ``model="ensemble"`` asked for by name above
5,000 rows four times, the last two averaged: the slower, stronger probe for training on the
remedies (a model trained on cleaned data learns the probe's mistakes near the class
boundary, so the remedy is only as good as the probe). Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .errors import InputError, UsageError

_EPS = 1e-12
SMALL_N = 5_000
LARGE_N = 200_000
#: Fits of ``model="ensemble"`` asked for by name above SMALL_N rows (see the module notes).
STRONG_PASSES = 4
BUILTIN = ("auto", "logistic", "hgb", "knn", "mlp", "svm", "ensemble")


@dataclass
class ProbeResult:
    """Out-of-sample probabilities (n, K), per-sample losses (n,) and how they were made."""

    pred_probs: np.ndarray
    loss: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def cross_entropy(pred_probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-sample cross-entropy of the given label: ``-log p[i, y_i]``.

    Examples
    --------
    >>> cross_entropy(np.array([[0.9, 0.1], [0.5, 0.5]]), np.array([0, 1])).round(4).tolist()
    [0.1054, 0.6931]
    """
    p = pred_probs[np.arange(len(labels)), labels]
    return -np.log(np.clip(p, _EPS, 1.0))


def from_pred_probs(pred_probs: np.ndarray, labels: np.ndarray) -> ProbeResult:
    """Wrap validated, user-given out-of-sample probabilities."""
    return ProbeResult(pred_probs, cross_entropy(pred_probs, labels), {"model": "given pred_probs", "n_folds": None})


def average(first: ProbeResult, second: ProbeResult, labels: np.ndarray) -> ProbeResult:
    """The mean of two probes' out-of-sample probabilities, with losses and accuracy redone.

    Examples
    --------
    >>> a = ProbeResult(np.array([[0.8, 0.2], [0.4, 0.6]]), np.zeros(2), {"model": "m"})
    >>> b = ProbeResult(np.array([[0.6, 0.4], [0.2, 0.8]]), np.zeros(2), {"model": "m"})
    >>> r = average(a, b, np.array([0, 0]))
    >>> r.pred_probs.round(3).tolist(), r.info["out_of_sample_accuracy"], r.info["averaged_last_passes"]
    ([[0.7, 0.3], [0.3, 0.7]], 0.5, 2)
    """
    probs = (first.pred_probs + second.pred_probs) / 2
    info = dict(second.info)
    info["out_of_sample_accuracy"] = round(float((probs.argmax(axis=1) == labels).mean()), 6)
    info["averaged_last_passes"] = 2
    return ProbeResult(probs, cross_entropy(probs, labels), info)


# ----------------------------------------------------------------------------- models


def _builtin(name: str, n: int, random_state: int):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if name == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    if name in ("hgb", "hgb_50"):
        # Regularised towards noisy labels (large leaves, l2); a high learning rate keeps it fast.
        # In the large ensemble at most 50 rounds: on clean data early stopping rarely stops
        # boosting before its cap, and the networks carry the ensemble (50k rows: 6 s -> 3 s).
        return HistGradientBoostingClassifier(
            max_iter=50 if name == "hgb_50" else 100, learning_rate=0.2,
            min_samples_leaf=int(np.clip(n // 250, 20, 200)), l2_regularization=1.0,
            early_stopping=n > 10_000, random_state=random_state,
        )
    if name == "knn":
        return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=int(min(15, max(1, n // 3))), weights="distance"))
    if name == "mlp":
        return make_pipeline(
            StandardScaler(),
            MLPClassifier((128,), alpha=1e-3, early_stopping=n > 1000, max_iter=300, random_state=random_state),
        )
    if name == "mlp_64x2":
        # Member of the large ensemble: a small two-layer network, Adam at a high rate, a few
        # epochs only (a network that trains for long learns the noisy labels): 10 at 20k rows,
        # then about 200k sample visits, at least 3 epochs, so that 50k rows stay within seconds.
        epochs = int(np.clip(round(200_000 / max(n, 1)), 3, 10))
        return make_pipeline(
            StandardScaler(),
            MLPClassifier((64, 64), learning_rate_init=0.01, batch_size=200, max_iter=epochs,
                          alpha=1e-4, random_state=random_state),
        )
    if name == "svm":
        from sklearn.calibration import CalibratedClassifierCV

        # Platt-scaled RBF SVM (what SVC(probability=True) did, without its deprecation).
        return make_pipeline(StandardScaler(), CalibratedClassifierCV(SVC(random_state=random_state), cv=3, ensemble=False))
    raise UsageError(f"unknown built-in model '{name}'; choose from: {', '.join(BUILTIN)}, or package.module:Class")


def _resolve_name(model: str, n: int) -> str:
    if model != "auto":
        return model
    return "ensemble" if n <= LARGE_N else "hgb"


def _members(name: str, n: int) -> tuple[str, ...]:
    if name != "ensemble":
        return (name,)
    # An RBF SVM is quadratic in n: above SMALL_N the ensemble is boosting plus three networks.
    return ("svm", "knn", "mlp", "logistic") if n <= SMALL_N else ("hgb_50", "mlp_64x2", "mlp_64x2", "mlp_64x2")


def default_passes(model: Any, n: int) -> int:
    """How many times the probe is fitted when ``passes`` is not given (see the module notes)."""
    if is_keras_spec(model):
        return 1
    if isinstance(model, str) and model == "ensemble" and n > SMALL_N:
        return STRONG_PASSES  # asked for by name: the slow, strong probe
    if isinstance(model, str) and model == "auto" and SMALL_N < n <= LARGE_N:
        return 1  # auto's ensemble: within the time budget
    return 2


def _load_class(spec: str):
    module_name, _, cls_name = spec.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"--model '{spec}' cannot be imported ({exc}): give package.module:Class") from None
    try:
        est = cls()
    except Exception as exc:  # noqa: BLE001 - any constructor failure is a usage problem
        raise UsageError(f"--model '{spec}' cannot be created without arguments ({exc})") from None
    if not hasattr(est, "predict_proba") or not hasattr(est, "fit"):
        raise UsageError(f"--model '{spec}' has no fit/predict_proba: give a scikit-learn classifier")
    return est


def is_keras_spec(model: Any) -> bool:
    """Whether ``model`` names or is a Keras model (without importing TensorFlow)."""
    return (isinstance(model, str) and model.endswith(".keras")) or _is_keras(model)


def _is_keras(model: Any) -> bool:
    return type(model).__module__.startswith(("keras", "tensorflow", "tf_keras"))


def load_keras_model(path: str):
    """Load a ``.keras`` file with ``safe_mode=True`` (no arbitrary code from the file)."""
    if not os.path.isfile(path):
        raise InputError(f"--model file '{path}' does not exist")
    try:
        import keras
    except ImportError:
        raise UsageError("a .keras probe needs TensorFlow: pip install 'dataaudit[keras]'") from None
    try:
        return keras.models.load_model(path, safe_mode=True, compile=True)
    except Exception as exc:  # noqa: BLE001 - keras raises many types
        msg = " ".join(str(exc).split())
        if "safe_mode" in msg or "Lambda" in msg or "lambda" in msg:
            reason = "it holds a Lambda layer or code that can only be loaded unsafely"
        elif "Unknown" in msg or "custom" in msg.lower() or "register" in msg.lower():
            reason = "it uses a custom layer or object that is not registered"
        else:
            reason = msg[:200]
        raise InputError(
            f"cannot load Keras model '{path}' with safe_mode=True: {reason}; dataaudit never loads code from "
            "model files: rebuild the model with built-in layers, or pass your own out-of-sample --pred-probs"
        ) from None


# ----------------------------------------------------------------------------- folds


def _n_folds(counts: np.ndarray, n: int) -> int:
    present = counts[counts > 0]
    wanted = 3 if n > LARGE_N else 5
    # Every fold's training part must hold each class; classes with a single member are
    # handled apart (see run_probe), so they do not shrink the fold count.
    cross_validatable = present[present >= 2]
    if len(cross_validatable) == 0:
        return 0
    return int(max(2, min(wanted, cross_validatable.min())))


def _fit_predict_sklearn(estimator, X_tr, y_tr, X_te, n_classes):
    from sklearn.base import clone

    import warnings

    with warnings.catch_warnings():
        # Convergence chatter from MLP/logistic per fold says nothing the user can act on.
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        from sklearn.exceptions import ConvergenceWarning

        warnings.simplefilter("ignore", category=ConvergenceWarning)
        est = clone(estimator).fit(X_tr, y_tr)
    out = np.zeros((len(X_te), n_classes))
    out[:, np.asarray(est.classes_, dtype=int)] = est.predict_proba(X_te)
    return out


def _fit_predict_keras(model, X_tr, y_tr, X_te, n_classes, *, epochs, batch_size, seed):
    import keras

    keras.utils.set_random_seed(seed)
    clone = keras.models.clone_model(model)  # fresh weights: re-initialised per fold
    n_out = int(clone.outputs[0].shape[-1])
    binary_head = n_out == 1
    if binary_head and n_classes != 2:
        raise UsageError(f"the Keras model has a 1-output (sigmoid) head but the labels have {n_classes} classes")
    if not binary_head and n_out != n_classes:
        raise UsageError(f"the Keras model has {n_out} outputs but the labels have {n_classes} classes")
    loss = getattr(model, "loss", None)
    optimizer = getattr(model, "optimizer", None)
    if loss is None or optimizer is None:
        loss = "binary_crossentropy" if binary_head else "sparse_categorical_crossentropy"
        optimizer = "adam"
    else:
        optimizer = optimizer.__class__.from_config(optimizer.get_config())
    clone.compile(loss=loss, optimizer=optimizer)
    loss_name = loss if isinstance(loss, str) else getattr(loss, "name", type(loss).__name__)
    target = y_tr
    if not binary_head and "sparse" not in str(loss_name).lower():
        target = np.eye(n_classes, dtype=np.float32)[y_tr]  # categorical loss wants one-hot
    clone.fit(X_tr, target, epochs=epochs, batch_size=batch_size, verbose=0)
    p = np.asarray(clone.predict(X_te, batch_size=max(batch_size, 1024), verbose=0), dtype=np.float64)
    if binary_head:
        p = np.column_stack([1.0 - p[:, 0], p[:, 0]])
    p = np.clip(p, 0.0, None)
    return p / np.maximum(p.sum(axis=1, keepdims=True), _EPS)


def _fold_estimators(estimators: list, members: tuple | None, y_tr: np.ndarray, n: int, random_state: int) -> list:
    """The estimators for one fold: without the SVM when a refit left a class fewer than 3
    training members (Platt scaling cross-validates 3-fold inside the training part)."""
    if not members or "svm" not in members:
        return estimators
    present = np.bincount(y_tr)
    if present[present > 0].min() >= 3:
        return estimators
    kept = [e for m, e in zip(members, estimators) if m != "svm"]
    return kept or [_builtin("logistic", n, random_state)]


def _without(train: np.ndarray, exclude: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``train`` minus the excluded rows, except for classes that would lose every member."""
    kept = train[~exclude[train]]
    lost = np.setdiff1d(labels[train], labels[kept])
    if len(lost):
        kept = np.sort(np.concatenate([kept, train[exclude[train] & np.isin(labels[train], lost)]]))
    return kept


def run_probe(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    model: Any = "auto",
    *,
    random_state: int = 0,
    epochs: int = 20,
    batch_size: int = 128,
    progress: Callable[[str], None] | None = None,
    exclude: np.ndarray | None = None,
) -> ProbeResult:
    """Out-of-fold probabilities of ``model`` by stratified K-fold, and per-sample losses.

    Parameters
    ----------
    features : ndarray (n, d) float32
    labels : ndarray (n,) int codes
    n_classes : int
    model : "auto", a built-in name, "package.module:Class", a scikit-learn classifier,
        a Keras model or a path to a ``.keras`` file.
    epochs, batch_size : int
        Keras training per fold.
    exclude : bool ndarray (n,), optional
        Rows left out of every fold's training part (they still get out-of-fold
        probabilities); used to refit the probe without the samples a first pass flagged.

    Notes
    -----
    Folds: 5 (3 above 200k samples), fewer when the smallest class has fewer members. A class
    with a single member cannot be cross-validated: that sample gets the class frequencies
    of the other samples as its probabilities (it is reported in ``info["uncrossvalidated"]``).
    """
    n = len(labels)
    counts = np.bincount(labels, minlength=n_classes)
    keras_model = None
    members: tuple[str, ...] | None = None  # built-in members, when the model is a built-in name
    name: str
    if isinstance(model, str) and model.endswith(".keras"):
        keras_model = load_keras_model(model)
        name = f"keras:{os.path.basename(model)}"
    elif isinstance(model, str) and ":" in model:
        estimators = [_load_class(model)]
        name = model
    elif isinstance(model, str):
        name = _resolve_name(model, n)
        members = _members(name, n)
        if "svm" in members and 0 < counts[counts > 1].min(initial=n) < 6:
            # Platt scaling cross-validates inside each training fold: too few members for it.
            members = tuple(m for m in members if m != "svm") or ("logistic",)
        # Repeated members differ by their seed (an ensemble of networks from different starts).
        estimators = [_builtin(m, n, (random_state + i) % 2**32) for i, m in enumerate(members)]
    elif _is_keras(model):
        keras_model = model
        name = f"keras:{getattr(model, 'name', 'model')}"
    elif hasattr(model, "fit") and hasattr(model, "predict_proba"):
        estimators = [model]
        name = type(model).__name__
    else:
        raise UsageError(
            f"model must be 'auto', a built-in name ({', '.join(BUILTIN)}), a scikit-learn classifier with "
            f"predict_proba or a Keras model, not {type(model).__name__}"
        )

    singletons = np.flatnonzero(counts == 1)
    cv_mask = ~np.isin(labels, singletons)
    n_folds = _n_folds(counts, n)
    probs = np.zeros((n, n_classes))
    prior = counts / n
    if n_folds == 0:
        probs[:] = prior
    else:
        from sklearn.model_selection import StratifiedKFold

        idx = np.flatnonzero(cv_mask)
        skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=random_state)
        for fold, (tr, te) in enumerate(skf.split(np.zeros(len(idx)), labels[idx])):
            if progress:
                progress(f"probe {name}: fold {fold + 1}/{n_folds} ({len(tr)} train, {len(te)} held out)")
            tr, te = idx[tr], idx[te]
            if exclude is not None:
                tr = _without(tr, exclude, labels)
            X_tr, y_tr, X_te = features[tr], labels[tr], features[te]
            if keras_model is not None:
                p = _fit_predict_keras(
                    keras_model, X_tr, y_tr, X_te, n_classes,
                    epochs=epochs, batch_size=batch_size, seed=random_state + fold,
                )
            else:
                p = np.mean([_fit_predict_sklearn(e, X_tr, y_tr, X_te, n_classes)
                             for e in _fold_estimators(estimators, members, y_tr, n, random_state)], axis=0)
            probs[te] = p
        if len(singletons):
            probs[~cv_mask] = prior
    probs = probs / np.maximum(probs.sum(axis=1, keepdims=True), _EPS)
    accuracy = float((probs.argmax(axis=1) == labels).mean())
    info = {
        "model": name,
        "n_folds": n_folds,
        "out_of_sample_accuracy": round(accuracy, 6),
        "uncrossvalidated": [int(i) for i in np.flatnonzero(~cv_mask)[:50]],
    }
    if exclude is not None:
        info["excluded_from_training"] = int(exclude.sum())
    return ProbeResult(probs, cross_entropy(probs, labels), info)
