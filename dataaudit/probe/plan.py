"""The probe plan: the one place that decides what ``model="auto"`` (or any ``model``) means
for the data at hand.

:func:`make_plan` turns ``(model, class counts, sample shape, options)`` into a
:class:`ProbePlan`: the members whose out-of-fold probabilities are averaged, the folds, the
passes, the refit rule, the member gate and the advice to rescan with a stronger probe. The
fold loop (:mod:`dataaudit.probe.folds`) only executes a plan. Every rule below was chosen on
measured figures, recorded with the reasons in docs/benchmarks.md ("The probe plan"):

- up to ``SMALL_N`` rows: the mean of an RBF SVM, a kNN, an MLP and a logistic regression (each
  alone is beaten somewhere, their mean never far from the best), two passes, a member gate;
- up to ``LARGE_N`` rows: boosting and three small networks, one pass, then two refits with the
  networks only when the first pass flags ``AUTO_REFIT_MIN_FLAGGED`` of the rows; on other inputs
  wider than ``WIDE_FEATURES`` (embeddings, wide tables) a kNN on 128 principal components and the
  three networks, gated, one pass (boosting on wide rows costs most of a scan and adds nothing the
  networks do not give; on embeddings the kNN is right where the networks are not);
- pictures (rows that lie smoothly on a grid, :func:`dataaudit.probe.images.image_geometry`) up
  to ``LARGE_N`` rows: the mean of three kNNs, on the blurred pixels and on two grids of
  gradient histograms, one pass (``"ensemble"`` by name too);
- above ``LARGE_N``: boosting alone, three folds, two passes;
- ``"ensemble"`` by name above ``SMALL_N``: four passes, the slower and stronger probe;
- a user's Keras model: one pass (it trains many epochs per fold).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UsageError, param
from .images import VIEWS, Geometry, image_geometry
from .models import (
    BUILTIN, PLATT_FOLDS, VIEW_SEP, WIDE_FEATURES, build_member, is_keras_file, is_keras_model, load_class,
    platt_fits, split_view, unknown_model,
)

#: Up to this many rows the probe is the small ensemble; up to LARGE_N the large one.
SMALL_N = 5_000
LARGE_N = 200_000
#: Folds of the cross-validation, and above LARGE_N.
FOLDS = 5
LARGE_FOLDS = 3
#: Fits of ``model="ensemble"`` asked for by name above SMALL_N rows.
STRONG_PASSES = 4
#: Fits of a single model, and of the small ensemble, when ``passes`` is not given.
DEFAULT_PASSES = 2
#: A refit is only worth its time when the pass before flags at least this fraction...
REFIT_MIN_FLAGGED = 0.01
#: ...and auto's large ensemble refits (with its networks only) twice, from this fraction.
AUTO_REFITS = 2
AUTO_REFIT_MIN_FLAGGED = 0.05
#: A refit's members are seeded this far apart per pass, so that two refits averaged err in
#: different places.
REFIT_SEED_STRIDE = 1000
#: The small ensemble leaves out of its mean a member whose out-of-fold accuracy on the given
#: labels is this much below the best member's.
MEMBER_GAP = 0.05

SMALL_ENSEMBLE = ("svm", "knn", "mlp", "logistic")
LARGE_ENSEMBLE = ("hgb_50", "mlp_64x2", "mlp_64x2", "mlp_64x2")
WIDE_ENSEMBLE = ("knn_pca128", "mlp_64x2", "mlp_64x2", "mlp_64x2")
#: A kNN on each of a picture's views (blurred pixels, then the HOG grids).
IMAGE_ENSEMBLE = tuple(f"knn_pca{VIEW_SEP}{view}" for view in VIEWS)
_SINGLE_BUILTIN = frozenset(BUILTIN) - {"auto", "ensemble"}
STRONGER_ADVICE = (
    "Before training on those, rescan with --model ensemble (model=\"ensemble\", its default four "
    "passes): a few times slower, but its probe is right more often near the class boundary, and a "
    "model trained on the cleaned data learns the probe's mistakes there."
)


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


@dataclass(frozen=True)
class ProbePlan:
    """A probe resolved for the data at hand: what to fit, how often, and how to combine it.

    Attributes
    ----------
    name : str
        What the report calls it (``ensemble``, ``hgb``, ``keras:cnn.keras``, a class name).
    estimators : tuple
        The first pass's estimators, cloned afresh in every fold (a Keras model is wrapped in
        :class:`dataaudit.keras.estimator.KerasProbe`).
    members : tuple of str or None
        Built-in member names, when the probe is built in.
    n_folds : int
        Stratified folds (0: no class can be cross-validated; every row gets the class prior).
    passes : int
        Fits; each refit leaves out of training what the pass before flagged.
    refit_members : tuple of str or None
        Built-in members of the refits when they differ from ``members``.
    refit_min_flagged : float
        A refit is made only when the pass before flagged at least this fraction of the rows.
    gate : bool
        Whether a member clearly worse out of fold is left out of the mean (``MEMBER_GAP``).
    stronger_advice : str or None
        Advice to rescan with a stronger built-in probe, when one is worth its time here.
    n_features : int
        Features per sample.
    geometry : Geometry or None
        The rows' picture layout, when the members read a picture's views.
    """

    name: str
    estimators: tuple
    members: tuple[str, ...] | None
    n_folds: int
    passes: int
    refit_members: tuple[str, ...] | None = None
    refit_min_flagged: float = REFIT_MIN_FLAGGED
    gate: bool = False
    stronger_advice: str | None = None
    n_features: int = 0
    geometry: Geometry | None = None

    @property
    def views(self) -> tuple[str, ...]:
        """The views of the rows that some member reads (besides the rows themselves)."""
        names = (*(self.members or ()), *(self.refit_members or ()))
        return tuple(dict.fromkeys(v for v in (split_view(m)[1] for m in names) if v))

    def for_pass(self, number: int, n: int, random_state: int) -> tuple[tuple, tuple[str, ...] | None]:
        """The estimators and member names of pass ``number`` (1-based)."""
        if number == 1 or self.refit_members is None:
            return self.estimators, self.members
        seed = random_state + REFIT_SEED_STRIDE * number
        estimators = tuple(build_member(m, n, (seed + i) % 2**32, self.n_features)
                           for i, m in enumerate(self.refit_members))
        return estimators, self.refit_members


def n_folds_for(counts: np.ndarray) -> int:
    """Stratified folds for these class counts: ``FOLDS`` (``LARGE_FOLDS`` above ``LARGE_N``
    rows), fewer when the smallest class that can be cross-validated is smaller; classes of one
    member are handled apart and do not shrink the count.

    Examples
    --------
    >>> n_folds_for(np.array([100, 100])), n_folds_for(np.array([100, 3, 1])), n_folds_for(np.array([5, 1]))
    (5, 3, 5)
    """
    counts = np.asarray(counts)
    cross_validatable = counts[counts >= 2]
    if len(cross_validatable) == 0:
        return 0
    wanted = LARGE_FOLDS if counts.sum() > LARGE_N else FOLDS
    return int(max(2, min(wanted, cross_validatable.min())))


def builtin_members(name: str, n: int, n_features: int = 0, pictures: bool = False) -> tuple[str, ...]:
    """Built-in member names of probe ``name`` for ``n`` rows of ``n_features`` features
    (``pictures``: the rows are pictures).

    Examples
    --------
    >>> builtin_members("ensemble", 1_000), builtin_members("ensemble", 10_000, 784)
    (('svm', 'knn', 'mlp', 'logistic'), ('knn_pca128', 'mlp_64x2', 'mlp_64x2', 'mlp_64x2'))
    >>> builtin_members("auto", 300_000), builtin_members("auto", 10_000, 784, pictures=True)[0]
    (('hgb',), 'knn_pca@blurred')
    """
    if name == "auto":
        name = "ensemble" if n <= LARGE_N else "hgb"
    if name != "ensemble":
        return (name,)
    if pictures:
        return IMAGE_ENSEMBLE
    if n <= SMALL_N:  # an RBF SVM is quadratic in n
        return SMALL_ENSEMBLE
    return WIDE_ENSEMBLE if n_features > WIDE_FEATURES else LARGE_ENSEMBLE


def default_passes(model: Any, n: int, n_features: int = 0, pictures: bool = False) -> int:
    """How many times the probe is fitted when ``passes`` is not given.

    Examples
    --------
    >>> default_passes("auto", 5_000), default_passes("auto", 50_000), default_passes("auto", 50_000, 784)
    (2, 3, 1)
    >>> default_passes("ensemble", 50_000), default_passes("ensemble", 50_000, 784, pictures=True)
    (4, 1)
    """
    if is_keras_file(model) or is_keras_model(model):
        return 1
    if isinstance(model, str) and model in ("auto", "ensemble") and pictures and n <= LARGE_N:
        return 1
    if isinstance(model, str) and model == "ensemble" and n > SMALL_N:
        return STRONG_PASSES
    if isinstance(model, str) and model == "auto" and SMALL_N < n <= LARGE_N:
        return 1 if n_features > WIDE_FEATURES else 1 + AUTO_REFITS
    return DEFAULT_PASSES


def refit_rule(model: Any, members: tuple[str, ...] | None) -> tuple[tuple[str, ...] | None, float]:
    """The members of the refits (None: the first pass's) and the share of flagged rows below
    which no refit is made: auto's large ensemble refits with its networks only, on noisy data.

    Examples
    --------
    >>> refit_rule("auto", LARGE_ENSEMBLE)
    (('mlp_64x2', 'mlp_64x2', 'mlp_64x2'), 0.05)
    >>> refit_rule("ensemble", LARGE_ENSEMBLE)
    (None, 0.01)
    """
    if isinstance(model, str) and model == "auto" and members == LARGE_ENSEMBLE:
        return tuple(m for m in members if m.startswith("mlp_")), AUTO_REFIT_MIN_FLAGGED
    return None, REFIT_MIN_FLAGGED


def stronger_advice(name: str, passes: int, n: int) -> str | None:
    """The stronger-probe advice for a single built-in model, or the large ensemble fitted fewer
    than ``STRONG_PASSES`` times, on more than ``SMALL_N`` rows.

    Examples
    --------
    >>> stronger_advice("hgb", 2, 50_000).startswith("Before")
    True
    >>> stronger_advice("ensemble", 4, 50_000), stronger_advice("ensemble", 1, 3_000)
    (None, None)
    """
    weaker = name in _SINGLE_BUILTIN or (name == "ensemble" and passes < STRONG_PASSES)
    return STRONGER_ADVICE if weaker and n > SMALL_N else None


def _svm_fits_every_fold(counts: np.ndarray, n_folds: int) -> bool:
    """Whether every fold's training part holds ``PLATT_FOLDS`` members of each class that is
    cross-validated (the smallest training part of a class of c rows has c - ceil(c / folds))."""
    counts = np.asarray(counts)
    cv = counts[counts >= 2]
    return n_folds > 0 and platt_fits(cv - np.ceil(cv / n_folds).astype(int))


def make_plan(
    model: Any,
    class_counts: np.ndarray,
    sample_shape: tuple = (),
    *,
    random_state: int = 0,
    passes: int | None = None,
    epochs: int = 20,
    batch_size: int = 128,
    augment: float = 0.0,
    sample: np.ndarray | None = None,
) -> ProbePlan:
    """Turn ``model`` (a name, ``package.module:Class``, an estimator, a Keras model or a
    ``.keras`` path) into the plan for data with these class counts and sample shape. Every
    problem with ``model`` or the options is a usage or input error raised here, before any
    training. ``sample``: the rows (or some of them), read to tell whether they are pictures.

    Examples
    --------
    >>> plan = make_plan("auto", np.array([30_000, 20_000]), (64,))
    >>> plan.members, plan.n_folds, plan.passes, plan.refit_members, plan.gate
    (('hgb_50', 'mlp_64x2', 'mlp_64x2', 'mlp_64x2'), 5, 3, ('mlp_64x2', 'mlp_64x2', 'mlp_64x2'), False)
    >>> make_plan("auto", np.array([300, 200]), (8,)).gate
    True
    """
    if isinstance(model, ProbePlan):
        return model
    counts = np.asarray(class_counts, np.int64)
    n = int(counts.sum())
    n_features = int(np.prod(sample_shape)) if len(sample_shape) else 0
    n_folds = n_folds_for(counts)
    members: tuple[str, ...] | None = None
    keras_model = None
    geometry = None
    if is_keras_file(model):
        from ..keras.estimator import load_model

        keras_model = load_model(os.fspath(model))
        name = f"keras:{os.path.basename(os.fspath(model))}"
    elif is_keras_model(model):
        keras_model = model
        name = f"keras:{getattr(model, 'name', 'model')}"
    elif isinstance(model, str) and ":" in model:
        estimators: tuple = (load_class(model),)
        name = model
    elif isinstance(model, str):
        if model not in BUILTIN:
            raise unknown_model(model)
        if model in ("auto", "ensemble") and n <= LARGE_N:
            geometry = image_geometry(tuple(sample_shape), sample)
        members = builtin_members(model, n, n_features, pictures=geometry is not None)
        name = ("image ensemble" if geometry is not None else "ensemble") if len(members) > 1 else members[0]
        if "svm" in members and not _svm_fits_every_fold(counts, n_folds):
            members = tuple(m for m in members if m != "svm") or ("logistic",)
        # Repeated members differ by their seed (an ensemble of networks from different starts).
        estimators = tuple(build_member(m, n, (random_state + i) % 2**32, n_features) for i, m in enumerate(members))
    elif hasattr(model, "fit") and hasattr(model, "predict_proba"):
        estimators = (model,)
        name = type(model).__name__
    else:
        raise UsageError(
            f"{param('model')} must be 'auto', a built-in name ({', '.join(BUILTIN)}), a scikit-learn classifier with "
            f"predict_proba or a Keras model, not {type(model).__name__}"
        )
    if keras_model is not None:
        from ..keras.estimator import KerasProbe

        if not isinstance(augment, (int, float)) or isinstance(augment, bool) or not 0 <= augment < 0.5:
            raise UsageError(f"probe option 'augment' must be a share of each side in [0, 0.5), not {augment!r}")
        wrapped = KerasProbe(keras_model, n_classes=len(counts), sample_shape=tuple(sample_shape), epochs=epochs,
                             batch_size=batch_size, augment=float(augment), random_state=random_state)
        wrapped.check(n_features)
        estimators = (wrapped,)
    if augment and keras_model is None:
        raise UsageError("probe option 'augment' shifts images while a Keras model trains: give a Keras model as "
                         f"{param('model')}, or leave 'augment' out")
    if passes is None:
        passes = default_passes(model, n, n_features, pictures=geometry is not None)
    if not isinstance(passes, (int, np.integer)) or isinstance(passes, bool) or passes < 1:
        raise UsageError(f"probe option 'passes' must be a whole number >= 1, not {passes!r}")
    refit_members, refit_min = refit_rule(model, members)
    # The gate: the small ensemble (members of different kinds, each beaten somewhere) and the
    # wide one (a kNN beside networks: on embeddings one kind is far ahead of the other).
    gate = n_folds > 0 and members is not None and (
        members == WIDE_ENSEMBLE or (n <= SMALL_N and len(members) > 1 and len(set(members)) == len(members)))
    advice = None if geometry is not None else stronger_advice(name, int(passes), n)
    return ProbePlan(name, estimators, members, n_folds, int(passes), refit_members, refit_min, gate, advice,
                     n_features, geometry)


def fold_estimators(estimators: tuple, members: tuple[str, ...] | None, train_counts: np.ndarray,
                    n: int, random_state: int) -> tuple:
    """The estimators of one fold: without the SVM when its training part cannot be Platt-scaled
    (a refit left a class too few training members)."""
    if not members or "svm" not in members or platt_fits(train_counts):
        return estimators
    kept = tuple(e for m, e in zip(members, estimators) if m != "svm")
    return kept or (build_member("logistic", n, random_state),)


__all__ = ["AUTO", "IMAGE_ENSEMBLE", "LARGE_N", "MEMBER_GAP", "PLATT_FOLDS", "ProbePlan", "SMALL_N", "builtin_members",
           "default_passes", "fold_estimators", "make_plan", "model_given", "n_folds_for", "refit_rule",
           "stronger_advice"]
