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
  regression 0.84, 0.84, 0.82). A member whose out-of-fold accuracy on the given labels is
  more than ``MEMBER_GAP`` (0.05) below the best member's is left out of the mean
  (:func:`_kept_members`, ``info["members_left_out"]``): on 600 x 30 make_classification rows
  (class_sep 2, clusters at hypercube vertices, not linearly separable; 10% symmetric noise,
  noise seeds 0-4) the logistic regression is right on 0.81 of the noisy labels and the MLP on
  0.83-0.85, where the SVM and kNN are on 0.89, and the equal mean's F1 was 0.852-0.939 (mean
  0.902); without them 0.904-0.954 (mean 0.928). Measured on the detection sets (one seed):
  a gap of 0.03 also dropped useful members (digits 0.929 -> 0.926, breast_cancer 0.913 ->
  0.906, digits class-conditional 0.961 -> 0.952), 0.07 kept the MLP on the tables (mean
  0.913); at 0.05 digits and breast_cancer are unchanged, but gating both passes cost wine its
  kNN (F1 1.00 -> 0.97: one false flag) and class-conditional digits its logistic regression
  (0.961 -> 0.946), both left out of the *first* pass only. So the gate applies to the
  probabilities that make the verdict; the rows a refit leaves out are chosen with the mean of
  all members (``ProbeResult.refit_probs``): wine 1.00, class-conditional digits 0.961 again,
  digits and breast_cancer unchanged, the tables 0.904-0.944 (mean 0.923). Choosing instead the
  subset of members whose mean is most accurate on the given labels overfits (digits 0.929 ->
  0.901, breast_cancer 0.913 -> 0.906). A test of each member against the best one alone kept only the
  SVM on digits (0.891): the mean beats its best member;
- ``5,000 < n <= 200,000``: ``"ensemble"``, the mean of histogram gradient boosting (``hgb``
  below, at most 50 rounds) and three small networks (``mlp_64x2``: 64-64 units, Adam at
  0.01, batches of 200, seeds apart, trained for a few epochs only: 10 at 20k rows, fewer as
  the data grows, at least 3; a network that trains for long learns the noisy labels).
  Networks from different starts err in different places, so their mean is right where each
  alone is not: on 20k x 32 with five classes and 10% flipped labels, boosting alone (two
  passes) agrees with the true labels on 0.89 of the rows (label-issue F1 0.77), the ensemble
  (one pass) on 0.94 (F1 0.91);
- wide inputs (more than ``WIDE_FEATURES`` = 256 features per sample: images, embeddings),
  ``5,000 < n <= 200,000``: the three networks alone, on the raw (standardised) features.
  Boosting builds a histogram per feature, per class, per round: on 10k digit images
  (28 x 28, 10% flipped; one pass, the probe alone, same run, a busy 2-core machine) boosting
  and the networks took 1127 s, nearly all of it boosting, for F1 0.977; the three networks
  alone take 26 s for F1 0.975; a PCA-64 fitted per
  fold in front of all four members 72 s (0.974), in front of the three networks 22 s (0.963:
  the networks lose detail), boosting on PCA-64 beside networks on raw pixels 90 s (0.977).
  Boosting, by name or alone above 200k rows, gets a PCA step (``WIDE_PCA_COMPONENTS`` = 64,
  part of its pipeline, so fitted within each fold) on wide inputs (bench/images.py);
- ``n > 200,000``: ``"hgb"``, histogram gradient boosting alone (at most 100 rounds, learning
  rate 0.2, large leaves and l2 regularisation against noisy labels, early stopping), with 3
  folds, so that 1M rows take minutes.

Passes (``default_passes``, policy in :func:`fit_out_of_sample`): a probe trained on noisy
labels learns some of the noise, so it is refitted with the samples confident learning flagged
left out of training (every sample still gets out-of-fold probabilities). A user's Keras model
(wrapped as a scikit-learn estimator, :class:`dataaudit.keras.KerasProbe`) is fitted once; a
single-model probe is fitted
twice; ``auto``'s ensemble above 5,000 rows once, then, when that pass flags at least 5% of
the rows (``AUTO_REFIT_MIN_FLAGGED``), refitted twice with its three networks only and the two
refits averaged (``refit_plan``): on the forum's 50k x 64 with 20% flipped labels the probe's
agreement with the true labels goes 0.975 -> 0.984 and label-issue F1 0.954 -> 0.966 for
about 10 s more (two more full passes reach the same for 17 s more); on wide inputs, where the
networks are the whole probe, it stays at one pass (10k digit images: 15 s -> ~45 s otherwise).
``model="ensemble"`` asked for by name above
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

from .errors import UsageError, param

_EPS = 1e-12
SMALL_N = 5_000
LARGE_N = 200_000
#: Fits of ``model="ensemble"`` asked for by name above SMALL_N rows (see the module notes).
STRONG_PASSES = 4
#: A refit pass is only worth its time when the pass before flags at least this fraction.
REFIT_MIN_FLAGGED = 0.01
#: Refits of auto's large ensemble (its networks only), made when its first pass flags at least
#: AUTO_REFIT_MIN_FLAGGED of the rows (module notes, "Passes").
AUTO_REFITS = 2
AUTO_REFIT_MIN_FLAGGED = 0.05
BUILTIN = ("auto", "logistic", "hgb", "knn", "mlp", "svm", "ensemble")
#: Above this many features per sample (images, embeddings) the probe is built for width:
#: boosting is left out of the large ensemble and gets a PCA step when asked for (module notes).
WIDE_FEATURES = 256
#: Components of the PCA step in front of boosting on wide inputs.
WIDE_PCA_COMPONENTS = 64
#: A member of the small ensemble whose out-of-fold accuracy on the given labels is this much
#: below the best member's is left out of the mean (module notes).
MEMBER_GAP = 0.05


class _Default(str):
    """``"auto"`` as a default argument, told apart from an ``"auto"`` the caller wrote."""


#: The default ``model``: ``"auto"``, unless a training record is the evidence (then no probe).
AUTO = _Default("auto")


def model_given(model: Any) -> bool:
    """Whether the caller chose a probe (any value, ``"auto"`` included), not the default.

    Examples
    --------
    >>> model_given(AUTO), model_given("auto"), model_given("ensemble")
    (False, True, True)
    """
    return model is not AUTO
#: Rows named in ``info["uncrossvalidated"]``.
MAX_UNCROSSVALIDATED_LISTED = 50


@dataclass
class ProbeResult:
    """Predicted probabilities (n, K), per-sample losses (n,) and how they were made.

    ``judged`` marks the rows that have probabilities when only some do (a training record of
    a subset of the rows); None means every row. ``refit_probs``, when not None, are the
    probabilities that choose the rows a refit leaves out (the small ensemble's mean of all its
    members, where ``pred_probs`` left some out: see :func:`_kept_members`).
    """

    pred_probs: np.ndarray
    loss: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    judged: np.ndarray | None = None
    refit_probs: np.ndarray | None = None


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


def _builtin(name: str, n: int, random_state: int, n_features: int = 0):
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
        hgb = HistGradientBoostingClassifier(
            max_iter=50 if name == "hgb_50" else 100, learning_rate=0.2,
            min_samples_leaf=int(np.clip(n // 250, 20, 200)), l2_regularization=1.0,
            early_stopping=n > 10_000, random_state=random_state,
        )
        if n_features > WIDE_FEATURES:
            # Boosting's cost grows with the features (a histogram per feature, per class, per
            # round): on raw pixels it is the scan's slowest part. A PCA fitted within each fold
            # (part of the pipeline, so out-of-sample stays honest) keeps it within seconds.
            from sklearn.decomposition import PCA

            return make_pipeline(PCA(WIDE_PCA_COMPONENTS, svd_solver="randomized", random_state=random_state), hgb)
        return hgb
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
    raise UsageError(f"unknown built-in {param('model')} '{name}'; choose from: {', '.join(BUILTIN)}, or package.module:Class")


def _resolve_name(model: str, n: int) -> str:
    if model != "auto":
        return model
    return "ensemble" if n <= LARGE_N else "hgb"


def _members(name: str, n: int, n_features: int = 0) -> tuple[str, ...]:
    """Built-in member names of probe ``name`` for ``n`` rows of ``n_features`` features.

    Examples
    --------
    >>> _members("ensemble", 1_000), _members("ensemble", 10_000, 784)
    (('svm', 'knn', 'mlp', 'logistic'), ('mlp_64x2', 'mlp_64x2', 'mlp_64x2'))
    """
    if name != "ensemble":
        return (name,)
    # An RBF SVM is quadratic in n: above SMALL_N the ensemble is boosting plus three networks.
    if n <= SMALL_N:
        return ("svm", "knn", "mlp", "logistic")
    if n_features > WIDE_FEATURES:
        # Wide inputs (images): boosting costs most of the scan and adds nothing the networks
        # do not already give (docs/benchmarks.md, images): three networks on the raw features.
        return ("mlp_64x2", "mlp_64x2", "mlp_64x2")
    return ("hgb_50", "mlp_64x2", "mlp_64x2", "mlp_64x2")


def default_passes(model: Any, n: int, n_features: int = 0) -> int:
    """How many times the probe is fitted when ``passes`` is not given (see the module notes).

    Examples
    --------
    >>> default_passes("auto", 5_000), default_passes("auto", 50_000), default_passes("auto", 50_000, 784)
    (2, 3, 1)
    >>> default_passes("ensemble", 50_000)
    4
    """
    if is_keras_file(model) or is_keras_model(model):
        return 1  # the user's network: one pass is already many epochs per fold
    if isinstance(model, str) and model == "ensemble" and n > SMALL_N:
        return STRONG_PASSES  # asked for by name: the slow, strong probe
    if isinstance(model, str) and model == "auto" and SMALL_N < n <= LARGE_N:
        # auto's ensemble: two cheap refits with its networks when the data is noisy
        # (refit_plan); on wide inputs the networks are the whole probe and one pass it is.
        return 1 if n_features > WIDE_FEATURES else 1 + AUTO_REFITS
    return 2


def is_keras_file(model: Any) -> bool:
    """Whether ``model`` is the path of a ``.keras`` file."""
    return isinstance(model, (str, os.PathLike)) and os.fspath(model).endswith(".keras")


def is_keras_model(model: Any) -> bool:
    """Whether ``model`` is a Keras model object (checked without importing TensorFlow)."""
    return type(model).__module__.startswith(("keras", "tensorflow", "tf_keras"))


def _load_class(spec: str):
    module_name, _, cls_name = spec.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"{param('model')} '{spec}' cannot be imported ({exc}): give package.module:Class") from None
    try:
        est = cls()
    except Exception as exc:  # noqa: BLE001 - any constructor failure is a usage problem
        raise UsageError(f"{param('model')} '{spec}' cannot be created without arguments ({exc})") from None
    if not hasattr(est, "predict_proba") or not hasattr(est, "fit"):
        raise UsageError(f"{param('model')} '{spec}' has no fit/predict_proba: give a scikit-learn classifier")
    return est


@dataclass(frozen=True)
class ProbeModel:
    """A probe resolved for the data at hand: the scikit-learn-compatible estimators whose
    out-of-fold probabilities are averaged, and the policy that goes with them.

    Attributes
    ----------
    name : str
        What the report calls it (``ensemble``, ``hgb``, ``keras:cnn.keras``, a class name).
    estimators : tuple
        Fitted afresh (``sklearn.base.clone``) in every fold; a Keras model is wrapped in
        :class:`dataaudit.keras.KerasProbe`.
    members : tuple of str or None
        Built-in member names, when the probe is built in (the SVM's fold rule needs them).
    passes : int
        Fits by default (:func:`default_passes`).
    stronger_advice : str or None
        Advice to rescan with a stronger built-in probe, when one is worth its time here.
    refit_members : tuple of str or None
        Built-in members of the refit passes when they differ from ``members`` (auto's large
        ensemble refits with its networks only; :func:`refit_plan`).
    refit_min_flagged : float
        A refit is made only when the pass before flagged at least this fraction of the rows.
    n_features : int
        Features per sample, for building the refit members.
    """

    name: str
    estimators: tuple
    members: tuple[str, ...] | None
    passes: int
    stronger_advice: str | None = None
    refit_members: tuple[str, ...] | None = None
    refit_min_flagged: float = REFIT_MIN_FLAGGED
    n_features: int = 0

    def for_pass(self, number: int, n: int, random_state: int) -> "ProbeModel":
        """The model of pass ``number`` (1-based): itself, or for a refit its refit members,
        seeded apart per pass (two refits averaged should err in different places)."""
        if number == 1 or self.refit_members is None:
            return self
        seed = random_state + 1000 * number
        estimators = tuple(_builtin(m, n, (seed + i) % 2**32, self.n_features) for i, m in enumerate(self.refit_members))
        return ProbeModel(self.name, estimators, self.refit_members, 1)


#: Built-in single probes that ``model="ensemble"`` beats on large data (docs/benchmarks.md).
_SINGLE_BUILTIN_PROBES = frozenset(BUILTIN) - {"auto", "ensemble"}
_STRONGER_ADVICE = (
    "Before training on those, rescan with --model ensemble (model=\"ensemble\", its default four "
    "passes): a few times slower, but its probe is right more often near the class boundary, and a "
    "model trained on the cleaned data learns the probe's mistakes there."
)


def _stronger_advice(name: str, passes: int, n: int) -> str | None:
    """The stronger-probe advice when the probe is a single built-in model, or the large
    ensemble fitted fewer than ``STRONG_PASSES`` times, on more than ``SMALL_N`` rows.

    Examples
    --------
    >>> _stronger_advice("hgb", 2, 50_000).startswith("Before")
    True
    >>> _stronger_advice("ensemble", 4, 50_000), _stronger_advice("ensemble", 1, 3_000)
    (None, None)
    """
    weaker = name in _SINGLE_BUILTIN_PROBES or (name == "ensemble" and passes < STRONG_PASSES)
    return _STRONGER_ADVICE if weaker and n > SMALL_N else None


def resolve_model(
    model: Any,
    labels: np.ndarray,
    n_classes: int,
    *,
    random_state: int = 0,
    passes: int | None = None,
    sample_shape: tuple = (),
    epochs: int = 20,
    batch_size: int = 128,
) -> ProbeModel:
    """Turn ``model`` (a name, ``package.module:Class``, an estimator, a Keras model or a
    ``.keras`` path) into a :class:`ProbeModel` for these labels; every problem with it is a
    usage or input error raised here, before any training."""
    if isinstance(model, ProbeModel):
        return model
    n = len(labels)
    counts = np.bincount(labels, minlength=n_classes)
    members: tuple[str, ...] | None = None
    n_features = int(np.prod(sample_shape)) if len(sample_shape) else 0
    keras_model = None
    if is_keras_file(model):
        from .keras import load_model

        keras_model = load_model(os.fspath(model))
        name = f"keras:{os.path.basename(os.fspath(model))}"
    elif is_keras_model(model):
        keras_model = model
        name = f"keras:{getattr(model, 'name', 'model')}"
    elif isinstance(model, str) and ":" in model:
        estimators: tuple = (_load_class(model),)
        name = model
    elif isinstance(model, str):
        name = _resolve_name(model, n)
        members = _members(name, n, n_features)
        if "svm" in members and 0 < counts[counts > 1].min(initial=n) < 6:
            # Platt scaling cross-validates inside each training fold: too few members for it.
            members = tuple(m for m in members if m != "svm") or ("logistic",)
        # Repeated members differ by their seed (an ensemble of networks from different starts).
        estimators = tuple(_builtin(m, n, (random_state + i) % 2**32, n_features) for i, m in enumerate(members))
    elif hasattr(model, "fit") and hasattr(model, "predict_proba"):
        estimators = (model,)
        name = type(model).__name__
    else:
        raise UsageError(
            f"{param('model')} must be 'auto', a built-in name ({', '.join(BUILTIN)}), a scikit-learn classifier with "
            f"predict_proba or a Keras model, not {type(model).__name__}"
        )
    if keras_model is not None:
        from .keras import KerasProbe

        probe = KerasProbe(keras_model, n_classes=n_classes, sample_shape=tuple(sample_shape), epochs=epochs,
                           batch_size=batch_size, random_state=random_state)
        probe.check(int(np.prod(sample_shape)) if sample_shape else 0)
        estimators = (probe,)
    if passes is None:
        passes = default_passes(model, n, n_features)
    if not isinstance(passes, (int, np.integer)) or isinstance(passes, bool) or passes < 1:
        raise UsageError(f"probe option 'passes' must be a whole number >= 1, not {passes!r}")
    refit_members, refit_min = refit_plan(model, members)
    return ProbeModel(name, estimators, members, int(passes), _stronger_advice(name, int(passes), n),
                      refit_members, refit_min, n_features)


def refit_plan(model: Any, members: tuple[str, ...] | None) -> tuple[tuple[str, ...] | None, float]:
    """The members of the refit passes (None: the same as the first pass) and the share of
    flagged rows below which no refit is made.

    ``"auto"``'s large ensemble refits with its networks only, and only on noisy data: boosting
    is the slowest member and the weakest (forum 50k x 64, 20% flipped, one pass: boosting alone
    agrees with the true labels on 0.948 of the rows, the three networks on 0.973, all four on
    0.975); two network refits, averaged, reach 0.984, as two more full passes do, for about
    10 s instead of 17 s at 50k rows (docs/benchmarks.md).

    Examples
    --------
    >>> refit_plan("auto", ("hgb_50", "mlp_64x2", "mlp_64x2", "mlp_64x2"))
    (('mlp_64x2', 'mlp_64x2', 'mlp_64x2'), 0.05)
    >>> refit_plan("ensemble", ("hgb_50", "mlp_64x2", "mlp_64x2", "mlp_64x2"))
    (None, 0.01)
    """
    if isinstance(model, str) and model == "auto" and members is not None and "hgb_50" in members:
        return tuple(m for m in members if m.startswith("mlp_")), AUTO_REFIT_MIN_FLAGGED
    return None, REFIT_MIN_FLAGGED

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


def _fit_predict(estimator, X_tr, y_tr, X_te, n_classes):
    """Out-of-fold probabilities of one estimator, one column per class code."""
    import warnings

    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    from threadpoolctl import threadpool_limits

    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    # A small network's updates are small matrix products (batches of 200): a second BLAS
    # thread costs more than it gives, and on a busy machine much more (6k x 784 images, one
    # network, 10 epochs: 0.4 s on one thread, 1.5-3.2 s on two).
    blas_threads = 1 if type(final).__name__ == "MLPClassifier" else None
    with warnings.catch_warnings(), threadpool_limits(limits=blas_threads, user_api="blas"):
        # Convergence chatter from MLP/logistic per fold says nothing the user can act on.
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        est = clone(estimator).fit(X_tr, y_tr)
        out = np.zeros((len(X_te), n_classes))
        out[:, np.asarray(est.classes_, dtype=int)] = est.predict_proba(X_te)
    return out

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


def _kept_members(member_probs: np.ndarray, member_has: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Which members of the small ensemble go into its mean: those whose out-of-fold accuracy
    on the given labels is within ``MEMBER_GAP`` of the best member's.

    An equal mean is only as good as its worst member allows: on 600 x 30 make_classification
    rows (clusters on hypercube vertices, not linearly separable) the logistic regression is
    right on 0.81 of the noisy labels where the SVM and kNN are on 0.89; its flat, wrong
    probabilities pull the mean towards the given label on the very rows that are flipped, and
    label-issue F1 dips to 0.85-0.94 by noise seed. Noisy labels lower every member's accuracy
    by about the same amount, so the gap between members still ranks them. The gated mean makes
    the verdict; a refit's left-out rows are chosen with all members (module notes).

    Examples
    --------
    >>> p = np.array([[[0.9, 0.1], [0.2, 0.8], [0.8, 0.2]], [[0.6, 0.4], [0.6, 0.4], [0.6, 0.4]]])
    >>> _kept_members(p, np.ones((2, 3), bool), np.array([0, 1, 0])).tolist()
    [True, False]
    """
    right = member_probs.argmax(axis=2) == labels[None, :]
    accuracy = (right & member_has).sum(axis=1) / np.maximum(member_has.sum(axis=1), 1)
    return accuracy >= accuracy.max() - MEMBER_GAP


def _row_normalised(probs: np.ndarray) -> np.ndarray:
    return probs / np.maximum(probs.sum(axis=1, keepdims=True), _EPS)


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
    sample_shape: tuple = (),
) -> ProbeResult:
    """One pass: out-of-fold probabilities of ``model`` by stratified K-fold, and per-sample losses.

    Parameters
    ----------
    features : ndarray (n, d) float32
    labels : ndarray (n,) int codes
    n_classes : int
    model : "auto", a built-in name, "package.module:Class", a scikit-learn classifier,
        a Keras model, a path to a ``.keras`` file, or a resolved :class:`ProbeModel`.
    epochs, batch_size : int
        Keras training per fold.
    exclude : bool ndarray (n,), optional
        Rows left out of every fold's training part (they still get out-of-fold
        probabilities); used to refit the probe without the samples a first pass flagged.
    sample_shape : tuple
        The shape of one sample as given: a Keras model gets its input in the shape it declares.

    Notes
    -----
    Folds: 5 (3 above 200k samples), fewer when the smallest class has fewer members. A class
    with a single member cannot be cross-validated: that sample gets the class frequencies
    of the other samples as its probabilities (it is reported in ``info["uncrossvalidated"]``).
    """
    if not isinstance(model, ProbeModel):
        model = resolve_model(model, labels, n_classes, random_state=random_state, passes=1,
                              sample_shape=tuple(sample_shape) or tuple(features.shape[1:]),
                              epochs=epochs, batch_size=batch_size)
    n = len(labels)
    counts = np.bincount(labels, minlength=n_classes)
    singletons = np.flatnonzero(counts == 1)
    cv_mask = ~np.isin(labels, singletons)
    n_folds = _n_folds(counts, n)
    probs = np.zeros((n, n_classes))
    prior = counts / n
    # The small ensemble's members are of different kinds: one that is clearly worse here is
    # left out of the mean (see _kept_members).
    gated = (n_folds > 0 and model.members is not None and n <= SMALL_N and len(model.estimators) > 1
             and len(set(model.members)) == len(model.members))
    gate_info: list[str] = []
    all_members = None
    if gated:
        member_probs = np.zeros((len(model.estimators), n, n_classes))
        member_has = np.zeros((len(model.estimators), n), dtype=bool)
    if n_folds == 0:
        probs[:] = prior
    else:
        from sklearn.model_selection import StratifiedKFold

        idx = np.flatnonzero(cv_mask)
        skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=random_state)
        for fold, (tr, te) in enumerate(skf.split(np.zeros(len(idx)), labels[idx])):
            if progress:
                progress(f"probe {model.name}: fold {fold + 1}/{n_folds} ({len(tr)} train, {len(te)} held out)")
            tr, te = idx[tr], idx[te]
            if exclude is not None:
                tr = _without(tr, exclude, labels)
            estimators = _fold_estimators(model.estimators, model.members, labels[tr], n, random_state)
            fold_probs = [_fit_predict(e, features[tr], labels[tr], features[te], n_classes) for e in estimators]
            if gated:
                for e, p in zip(estimators, fold_probs):
                    j = next(i for i, m in enumerate(model.estimators) if m is e)
                    member_probs[j, te], member_has[j, te] = p, True
            probs[te] = np.mean(fold_probs, axis=0)
        if len(singletons):
            probs[~cv_mask] = prior
        if gated:
            kept = _kept_members(member_probs, member_has, labels)
            if not kept.all():
                all_members = _row_normalised(probs)
                weight = member_has[kept].sum(axis=0)
                # A row only a dropped member judged (none today) keeps the mean of all.
                judged = cv_mask & (weight > 0)
                probs[judged] = member_probs[kept].sum(axis=0)[judged] / weight[judged][:, None]
                gate_info = [m for m, k in zip(model.members, kept) if not k]
    probs = _row_normalised(probs)
    accuracy = float((probs.argmax(axis=1) == labels).mean())
    info = {
        "model": model.name,
        "n_folds": n_folds,
        "out_of_sample_accuracy": round(accuracy, 6),
        "uncrossvalidated": [int(i) for i in np.flatnonzero(~cv_mask)[:MAX_UNCROSSVALIDATED_LISTED]],
    }
    if gate_info:
        info["members_left_out"] = gate_info
    if exclude is not None:
        info["excluded_from_training"] = int(exclude.sum())
    return ProbeResult(probs, cross_entropy(probs, labels), info, refit_probs=all_members)



def fit_out_of_sample(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    model: Any = "auto",
    *,
    flag: Callable[[np.ndarray, np.ndarray], np.ndarray],
    passes: int | None = None,
    random_state: int = 0,
    progress: Callable[[str], None] | None = None,
    sample_shape: tuple = (),
    epochs: int = 20,
    batch_size: int = 128,
) -> ProbeResult:
    """The probe's policy: fit ``passes`` times, each refit leaving out of training the samples
    ``flag(labels, pred_probs)`` marked on the pass before.

    A probe trained on noisy labels learns part of the noise; refitting without the samples
    confident learning flags (``flag`` is :func:`dataaudit.confident.find_issues`) gives cleaner
    probabilities, and every sample still gets out-of-fold ones. Refitting stops early when a
    pass flags under ``REFIT_MIN_FLAGGED``. From the third pass on, the result is the mean of
    the last two passes: two refits on slightly different clean sets, averaged, vary less than
    either (docs/benchmarks.md). ``info`` records the passes made and, when a stronger
    built-in probe is worth its time here, ``stronger_probe_advice``.
    """
    resolved = resolve_model(model, labels, n_classes, random_state=random_state, passes=passes,
                             sample_shape=sample_shape, epochs=epochs, batch_size=batch_size)

    def one_pass(number, exclude):
        return run_probe(features, labels, n_classes, resolved.for_pass(number, len(labels), random_state),
                         random_state=random_state, progress=progress, exclude=exclude)

    result = one_pass(1, None)
    previous = None
    done = 1
    while done < resolved.passes:
        # The gated small ensemble chooses what a refit leaves out with all its members (_kept_members).
        flagged = flag(labels, result.pred_probs if result.refit_probs is None else result.refit_probs)
        if flagged.mean() < resolved.refit_min_flagged:
            break
        if progress:
            progress(f"probe pass {done + 1}/{resolved.passes}: refitting without the {int(flagged.sum())} samples flagged so far")
        previous, result = result, one_pass(done + 1, flagged)
        done += 1
    if done >= 3:
        result = average(previous, result, labels)
    result.info["passes"] = done
    if done > 1 and resolved.refit_members is not None:
        result.info["refit_members"] = list(resolved.refit_members)
    if resolved.stronger_advice:
        result.info["stronger_probe_advice"] = resolved.stronger_advice
    return result

