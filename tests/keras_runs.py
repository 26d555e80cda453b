"""Keras runs with a planted cause: the test fixtures of the training doctor, and the runs that
``python -m bench symptoms`` scores over three seeds (bench/symptoms.py describes each).

Each recipe returns the data, a compiled model and its ``fit`` arguments; :func:`record_run`
trains it with ``AuditCallback`` under a fixed seed.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass
class Reproduction:
    """A Keras run with a planted cause, and what the doctor should say about it."""

    name: str
    planted: str
    patterns: tuple[str, ...]  # the symptom the report should name (empty: none, a healthy run)
    causes: tuple[str, ...]  # the causes it may name
    make: Callable[[int], dict[str, Any]]
    notes: dict[str, Any] = field(default_factory=dict)


def _keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from dataaudit.keras._quiet import import_keras

    return import_keras()


def _dense(keras, d, widths, k, *, activation="softmax"):
    layers = [keras.Input((d,))] + [keras.layers.Dense(w, activation="relu") for w in widths]
    return keras.Sequential(layers + [keras.layers.Dense(k, activation=activation)])


def _blobs(rng, n, d, k, sep):
    y = rng.integers(0, k, n)
    X = rng.normal(size=(n, d)) + sep * np.eye(k, d)[y]
    return X.astype(np.float32), y.astype(np.int64)


def _flip(rng, y, k, rate):
    flipped = rng.random(len(y)) < rate
    noisy = np.where(flipped, (y + rng.integers(1, k, len(y))) % k, y)
    return noisy, flipped


def memorisation(seed: int) -> dict[str, Any]:
    keras = _keras()
    rng = np.random.default_rng(seed)
    X, y = _blobs(rng, 1000, 20, 3, 4.0)
    noisy, flipped = _flip(rng, y, 3, 0.15)
    model = _dense(keras, 20, (256, 256), 3)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(3e-3), metrics=["accuracy"])
    return {"X": X, "y": noisy, "model": model, "fit": {"epochs": 25, "batch_size": 32, "validation_split": 0.2},
            "truth": flipped}


def _conflicting(rng, X, y, share, n_prototypes):
    """Replace a share of the rows by copies of a few prototypes, each copy group carrying both labels."""
    n = len(y)
    m = int(share * n)
    idx = rng.choice(n, m, replace=False)
    prototypes = rng.choice(np.setdiff1d(np.arange(n), idx), n_prototypes, replace=False)
    X[idx] = X[prototypes[np.arange(m) % n_prototypes]]
    y[idx] = np.arange(m) // n_prototypes % 2
    truth = np.zeros(n, bool)
    truth[idx] = True
    truth[prototypes] = True
    return truth


def plateau_ceiling(seed: int) -> dict[str, Any]:
    keras = _keras()
    rng = np.random.default_rng(seed)
    X, y = _blobs(rng, 1000, 10, 2, 5.0)
    truth = _conflicting(rng, X, y, 0.15, 40)
    model = _dense(keras, 10, (64,), 2)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(3e-3), metrics=["accuracy"])
    return {"X": X, "y": y, "model": model, "fit": {"epochs": 30, "batch_size": 32}, "truth": truth}


def plateau_capacity(seed: int) -> dict[str, Any]:
    keras = _keras()
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(1000, 10)).astype(np.float32)
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.int64)  # XOR: no line separates the classes
    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(1e-2), metrics=["accuracy"])
    return {"X": X, "y": y, "model": model, "fit": {"epochs": 30, "batch_size": 32}, "truth": np.zeros(len(y), bool)}


def _warmup(keras, start: float = 1e-3):
    """A learning-rate warm-up with no cap: doubles every epoch from ``start``."""
    return keras.callbacks.LearningRateScheduler(lambda epoch: start * 2.0 ** epoch)


def _binary_60_40(rng):
    y = (rng.random(1000) < 0.4).astype(np.int64)
    X = (rng.normal(size=(1000, 10)) + 2.0 * np.eye(2, 10)[y]).astype(np.float32)
    return X, y


def collapse(seed: int) -> dict[str, Any]:
    keras = _keras()
    rng = np.random.default_rng(seed)
    X, y = _binary_60_40(rng)
    onehot = np.eye(2, dtype=np.float32)[y]
    model = _dense(keras, 10, (64, 64, 64), 2)  # the forum's head: a 2-unit softmax ...
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"])  # ... and binary loss
    return {"X": X, "y": onehot, "model": model, "truth": np.zeros(len(y), bool),
            "fit": {"epochs": 12, "batch_size": 32, "validation_split": 0.2, "callbacks": [_warmup(keras)]}}


def collapse_sound_head(seed: int) -> dict[str, Any]:
    keras = _keras()
    rng = np.random.default_rng(seed)
    X, y = _binary_60_40(rng)
    model = _dense(keras, 10, (64, 64, 64), 2)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"])
    return {"X": X, "y": y, "model": model, "truth": np.zeros(len(y), bool),
            "fit": {"epochs": 12, "batch_size": 32, "validation_split": 0.2, "callbacks": [_warmup(keras)]}}


def collapse_class_weights(seed: int) -> dict[str, Any]:
    """The forum's thread (seed 000): a 3 x 64 ReLU network on a 90/10 table, class weights 1:9,
    Adam at 0.1: the loss falls for an epoch, then rises and stays; the network ends up
    predicting the rare class everywhere."""
    keras = _keras()
    rng = np.random.default_rng(seed)
    n, d = 6000, 20
    y = (rng.random(n) < 0.1).astype(np.int64)
    X = (rng.normal(size=(n, d)) + 1.5 * np.outer(2 * y - 1, rng.normal(size=d)) / np.sqrt(d)).astype(np.float32)
    model = _dense(keras, d, (64, 64, 64), 2)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(0.1), metrics=["accuracy"])
    return {"X": X, "y": y, "model": model, "truth": np.zeros(n, bool),
            "fit": {"epochs": 20, "batch_size": 32, "validation_split": 0.2, "class_weight": {0: 1.0, 1: 9.0}}}


def parting(seed: int) -> dict[str, Any]:
    keras = _keras()
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 20)).astype(np.float32)
    y = (X @ rng.normal(size=(20, 3))).argmax(axis=1).astype(np.int64)
    model = _dense(keras, 20, (512, 512, 512), 3)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(2e-3), metrics=["accuracy"])
    return {"X": X, "y": y, "model": model, "fit": {"epochs": 40, "batch_size": 16, "validation_split": 0.2},
            "truth": np.zeros(len(y), bool)}


def falling_together(seed: int) -> dict[str, Any]:
    keras = _keras()
    rng = np.random.default_rng(seed)
    n, d = 1000, 10
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, d))
    X[:, 0] += 2.0 * (2 * y - 1)  # the strong feature
    X[:, 1] += 0.7 * (2 * y - 1)  # a weak one
    # A glitch: 30 training rows read +-50 on the strong feature (0 elsewhere), 15 identical copies
    # each, labelled both ways, 60% against what the feature says.
    copies = 15
    idx = rng.choice(800, 2 * copies, replace=False)  # training rows (validation_split takes the last 200)
    X[idx] = 0.0
    X[idx[:copies], 0], X[idx[copies:], 0] = 50.0, -50.0
    y[idx[:copies]] = (np.arange(copies) >= 9).astype(np.int64)
    y[idx[copies:]] = (np.arange(copies) < 9).astype(np.int64)
    truth = np.zeros(n, bool)
    truth[idx] = True
    # A softmax regression started from zero (as scikit-learn's LogisticRegression starts).
    model = keras.Sequential([keras.Input((d,)), keras.layers.Dense(2, activation="softmax", kernel_initializer="zeros")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(3e-4), metrics=["accuracy"])
    return {"X": X.astype(np.float32), "y": y.astype(np.int64), "model": model, "truth": truth,
            "fit": {"epochs": 30, "batch_size": 32, "validation_split": 0.2}}


def healthy(seed: int) -> dict[str, Any]:
    keras = _keras()
    rng = np.random.default_rng(seed)
    X, y = _blobs(rng, 1000, 10, 3, 4.0)
    model = _dense(keras, 10, (64,), 3)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"])
    return {"X": X, "y": y, "model": model, "fit": {"epochs": 15, "batch_size": 32, "validation_split": 0.2},
            "truth": np.zeros(len(y), bool)}


def healthy_sigmoid(seed: int) -> dict[str, Any]:
    keras = _keras()
    rng = np.random.default_rng(seed)
    X, y = _blobs(rng, 1000, 10, 2, 4.0)
    model = _dense(keras, 10, (16, 16), 1, activation="sigmoid")  # the forum's Dense(16)-Dense(16)-Dense(1)
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"])
    return {"X": X, "y": y, "model": model, "fit": {"epochs": 30, "batch_size": 32, "validation_split": 0.2},
            "truth": np.zeros(len(y), bool)}


REPRODUCTIONS = {
    r.name: r for r in (
        Reproduction("loss rises while accuracy rises", "15% flipped labels, long training", ("loss_up_accuracy_up",),
                     ("label_noise",), memorisation),
        Reproduction("plateau at the data's ceiling", "15% of rows in conflicting duplicate groups", ("plateau",),
                     ("data_ceiling",), plateau_ceiling),
        Reproduction("plateau short of the ceiling", "a softmax regression on XOR (clean labels)", ("plateau",),
                     ("capacity_or_optimisation",), plateau_capacity),
        Reproduction("collapse", "2-unit softmax + binary_crossentropy (the forum's), learning rate doubling "
                     "every epoch from 0.001", ("collapse",), ("setup",), collapse),
        Reproduction("collapse, sound head", "learning rate doubling every epoch from 0.001", ("collapse",),
                     ("learning_rate",), collapse_sound_head),
        Reproduction("collapse, class weights", "a 3 x 64 network on 90/10 rows, class_weight 1:9, Adam at 0.1 "
                     "(the forum's thread)", ("collapse",), ("learning_rate",), collapse_class_weights),
        Reproduction("training and validation parting", "160 clean training rows, a 512x512x512 network, 40 epochs",
                     ("train_val_parting",), ("overfitting",), parting),
        Reproduction("loss and accuracy both falling", "30 rows at +-50 on the strongest feature, identical "
                     "copies labelled both ways",
                     ("loss_and_accuracy_fall",), ("outliers", "conflicting_duplicates"), falling_together),
        Reproduction("healthy run", "none (clean data, sound set-up)", (), (), healthy),
        Reproduction("healthy run, sigmoid head", "none (the forum's Dense(16)-Dense(16)-Dense(1), 30 epochs)",
                     (), (), healthy_sigmoid),
    )
}


def record_run(name: str, seed: int = 0):
    """Train a reproduction with AuditCallback; returns ``(X, y, callback, truth)``."""
    keras = _keras()
    from dataaudit.keras import AuditCallback

    keras.utils.set_random_seed(seed)
    spec = REPRODUCTIONS[name].make(seed)
    keras.utils.set_random_seed(seed)
    cb = AuditCallback(spec["X"], spec["y"])
    fit = dict(spec["fit"])
    callbacks = fit.pop("callbacks", []) + [cb]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec["model"].fit(spec["X"], spec["y"], verbose=0, callbacks=callbacks, **fit)
    return spec["X"], spec["y"], cb, spec["truth"]
