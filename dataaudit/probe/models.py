"""The built-in probe members and the other models a user may name, as scikit-learn estimators.

Each builder only constructs an estimator; :mod:`dataaudit.probe.plan` decides which members a
probe has, and the fold loop clones them per fold.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import numpy as np

from ..errors import UsageError, param

#: Names a user may give as ``model``.
BUILTIN = ("auto", "logistic", "hgb", "knn", "mlp", "svm", "ensemble")
#: A member may read a view of the rows (``member@view``, :mod:`dataaudit.probe.images`).
VIEW_SEP = "@"
#: Components of the PCA in front of the kNN (``knn_pca``; ``knn_pcaN``: N components), and that
#: kNN's neighbours: 50 on a picture's views, 128 on other wide rows (embeddings lose detail at 50).
VIEW_PCA_COMPONENTS = 50
VIEW_NEIGHBOURS = 10
#: Above this many features per sample (images, embeddings) the probe is built for width.
WIDE_FEATURES = 256
#: Components of the PCA step in front of boosting on wide inputs.
WIDE_PCA_COMPONENTS = 64
#: Boosting's rounds: alone, and as a member of the large ensemble (where the networks carry it).
HGB_ROUNDS = 100
HGB_MEMBER_ROUNDS = 50
#: Boosting's leaves hold at least rows / HGB_ROWS_PER_LEAF rows, within HGB_LEAF_RANGE.
HGB_ROWS_PER_LEAF = 250
HGB_LEAF_RANGE = (20, 200)
#: Boosting stops early from this many rows on (it holds out a validation slice).
HGB_EARLY_STOPPING_ROWS = 10_000
#: The large ensemble's networks see about this many rows in all, within NETWORK_EPOCHS.
NETWORK_SAMPLE_VISITS = 200_000
NETWORK_EPOCHS = (3, 10)
#: Neighbours of the kNN member (at most a third of the rows).
KNN_NEIGHBOURS = 15
#: The MLP member stops early from this many rows on.
MLP_EARLY_STOPPING_ROWS = 1_000
#: Platt scaling cross-validates this many folds inside each training part: every class needs
#: as many training members for the SVM to be fitted.
PLATT_FOLDS = 3


def is_keras_file(model: Any) -> bool:
    """Whether ``model`` is the path of a ``.keras`` file."""
    return isinstance(model, (str, os.PathLike)) and os.fspath(model).endswith(".keras")


def is_keras_model(model: Any) -> bool:
    """Whether ``model`` is a Keras model object (checked without importing TensorFlow)."""
    return type(model).__module__.startswith(("keras", "tensorflow", "tf_keras"))


def platt_fits(train_counts: np.ndarray) -> bool:
    """Whether every class present in a training part has the members Platt scaling needs.

    Examples
    --------
    >>> platt_fits(np.array([5, 0, 3])), platt_fits(np.array([5, 2]))
    (True, False)
    """
    present = np.asarray(train_counts)[np.asarray(train_counts) > 0]
    return bool(len(present)) and int(present.min()) >= PLATT_FOLDS


def split_view(member: str) -> tuple[str, str | None]:
    """A member name's estimator and view: ``"knn_pca@hog7"`` -> ``("knn_pca", "hog7")``.

    Examples
    --------
    >>> split_view("knn_pca@blurred"), split_view("mlp")
    (('knn_pca', 'blurred'), ('mlp', None))
    """
    name, _, view = member.partition(VIEW_SEP)
    return name, view or None


def build_member(name: str, n: int, random_state: int, n_features: int = 0):
    """A fresh, unfitted built-in estimator for ``n`` training rows of ``n_features`` features
    (a member reading a view is built as its estimator)."""
    name = split_view(name)[0]
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
        hgb = HistGradientBoostingClassifier(
            max_iter=HGB_MEMBER_ROUNDS if name == "hgb_50" else HGB_ROUNDS, learning_rate=0.2,
            min_samples_leaf=int(np.clip(n // HGB_ROWS_PER_LEAF, *HGB_LEAF_RANGE)), l2_regularization=1.0,
            early_stopping=n > HGB_EARLY_STOPPING_ROWS, random_state=random_state,
        )
        if n_features > WIDE_FEATURES:
            # Boosting builds a histogram per feature, class and round: on raw pixels it would be
            # the scan's slowest part. The PCA is part of the pipeline, so it is fitted per fold.
            from sklearn.decomposition import PCA

            return make_pipeline(PCA(WIDE_PCA_COMPONENTS, svd_solver="randomized", random_state=random_state), hgb)
        return hgb
    if name == "knn":
        neighbours = int(min(KNN_NEIGHBOURS, max(1, n // 3)))
        return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=neighbours, weights="distance"))
    if name.startswith("knn_pca"):
        # Distances between wide rows are read on their leading components: faster, and the last
        # components are mostly noise. The PCA is fitted in each fold.
        from sklearn.decomposition import PCA

        wanted = int(name[len("knn_pca"):] or VIEW_PCA_COMPONENTS)
        components = int(max(1, min(wanted, n_features or wanted, n // 2)))
        neighbours = int(min(VIEW_NEIGHBOURS, max(1, n // 3)))
        return make_pipeline(PCA(components, svd_solver="randomized", random_state=random_state),
                             KNeighborsClassifier(n_neighbors=neighbours, weights="distance"))
    if name == "mlp":
        return make_pipeline(
            StandardScaler(),
            MLPClassifier((128,), alpha=1e-3, early_stopping=n > MLP_EARLY_STOPPING_ROWS, max_iter=300,
                          random_state=random_state),
        )
    if name == "mlp_64x2":
        # A small network trained briefly: one that trains for long learns the noisy labels.
        epochs = int(np.clip(round(NETWORK_SAMPLE_VISITS / max(n, 1)), *NETWORK_EPOCHS))
        return make_pipeline(
            StandardScaler(),
            MLPClassifier((64, 64), learning_rate_init=0.01, batch_size=200, max_iter=epochs,
                          alpha=1e-4, random_state=random_state),
        )
    if name == "svm":
        from sklearn.calibration import CalibratedClassifierCV

        # Platt-scaled RBF SVM (what SVC(probability=True) did, without its deprecation).
        return make_pipeline(StandardScaler(), CalibratedClassifierCV(SVC(random_state=random_state), cv=PLATT_FOLDS,
                                                                      ensemble=False))
    raise unknown_model(name)


def unknown_model(name: str) -> UsageError:
    """The usage error for a ``model`` name that is no built-in."""
    return UsageError(f"unknown built-in {param('model')} '{name}'; choose from: {', '.join(BUILTIN)}, or package.module:Class")


def load_class(spec: str):
    """An instance of the scikit-learn classifier ``package.module:Class``, made without arguments."""
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
