"""A Keras model as a scikit-learn classifier, so the probe's fold loop has one path.

:class:`KerasProbe` follows the estimator protocol (``fit``, ``predict_proba``,
``get_params``): each ``fit`` trains a fresh copy of the user's model
(``keras.models.clone_model``: same architecture, new weights), so the user's model is never
trained in place, and the flattened features the rest of dataaudit uses are reshaped to the
input shape the model declares (images stay images).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ..errors import InputError, UsageError, param
from ..lint import right_loss_for
from ._quiet import import_keras
from .describe import describe

_EPS = 1e-12


def load_model(path: str):
    """Load a ``.keras`` file with ``safe_mode=True`` (no arbitrary code from the file)."""
    keras = import_keras()
    if not os.path.isfile(path):
        raise InputError(f"{param('model')} file '{path}' does not exist")
    try:
        with warnings.catch_warnings():
            # Keras warns about optimizer state it skips: the probe trains fresh copies anyway.
            warnings.simplefilter("ignore")
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
            f"model files: rebuild the model with built-in layers, or pass your own out-of-sample {param('pred_probs')}"
        ) from None


def input_shape_of(model) -> tuple:
    """The shape of one input sample the model declares (``None`` for a free dimension)."""
    shape = model.inputs[0].shape if getattr(model, "inputs", None) else model.input_shape
    return tuple(None if s is None else int(s) for s in tuple(shape)[1:])


def reshape_for(model, X: np.ndarray, sample_shape: tuple) -> np.ndarray:
    """``X`` (n, ...) reshaped to the model's declared input shape; a shape the model cannot
    take is an InputError naming both shapes."""
    wanted = input_shape_of(model)
    n = X.shape[0]
    size = int(np.prod(X.shape[1:]))
    if tuple(X.shape[1:]) == wanted:
        return X
    if None not in wanted and int(np.prod(wanted)) == size:
        return X.reshape((n, *wanted))
    if len(wanted) == len(sample_shape) and all(w is None or w == s for w, s in zip(wanted, sample_shape)):
        return X.reshape((n, *sample_shape))
    raise InputError(
        f"X's samples have shape {tuple(sample_shape)} ({size} values) but the Keras model takes inputs of shape "
        f"{tuple(wanted)}: give X in the model's input shape, or a model built for this data"
    )


def output_units(model) -> int:
    return int(model.outputs[0].shape[-1])


def to_probabilities(outputs: np.ndarray, logits: bool) -> np.ndarray:
    """A classifier's outputs (n, units) as class probabilities (n, max(units, 2)).

    Examples
    --------
    >>> to_probabilities(np.array([[0.0], [2.0]]), logits=True).round(3).tolist()
    [[0.5, 0.5], [0.119, 0.881]]
    """
    out = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)
    if out.shape[1] == 1:
        p = 1.0 / (1.0 + np.exp(-out[:, 0])) if logits else np.clip(out[:, 0], 0.0, 1.0)
        return np.column_stack([1.0 - p, p])
    if logits:
        out = np.exp(out - out.max(axis=1, keepdims=True))
    out = np.clip(out, 0.0, None)
    return out / np.maximum(out.sum(axis=1, keepdims=True), _EPS)


class KerasProbe(ClassifierMixin, BaseEstimator):
    """A Keras model trained from scratch on every ``fit`` (scikit-learn estimator protocol).

    Parameters
    ----------
    model : keras.Model
        The architecture (and, when compiled, the loss and optimizer) to train; never modified.
    n_classes : int
        Number of classes; ``predict_proba`` has one column per class code ``0..n_classes-1``.
    sample_shape : tuple
        The shape of one sample as given (for reshaping flattened features and for messages).
    epochs, batch_size : int
        Training per ``fit``: at most ``epochs``, fewer when early stopping ends it.
    validation_share : float
        Share of each fit's rows held out (stratified, seeded) to stop training when their loss
        has not improved for ``patience`` epochs, keeping the best epoch's weights: a network
        trained on noisy labels for long learns them by heart, and its out-of-fold
        probabilities then agree with the wrong labels (docs/benchmarks.md, "Images"). 0: no
        early stopping, ``epochs`` epochs.
    patience : int
    augment : float
        Random shifts of images in training, as a share of each side (``keras.layers.
        RandomTranslation``; 0: none, the default): more pictures from the same labels, at the
        cost of slower epochs. Only for inputs of rank 3 (height, width, channels).
    random_state : int
        Seeds Keras before each ``fit`` (weights, shuffling) and the validation slice.
    """

    def __init__(self, model, n_classes: int = 2, sample_shape: tuple = (), epochs: int = 20,
                 batch_size: int = 128, validation_share: float = 0.1, patience: int = 3, augment: float = 0.0,
                 random_state: int = 0):
        self.model = model
        self.n_classes = n_classes
        self.sample_shape = sample_shape
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_share = validation_share
        self.patience = patience
        self.augment = augment
        self.random_state = random_state

    def __sklearn_clone__(self):
        # The Keras model is only ever read (fit trains a copy): share it instead of deep-copying.
        return type(self)(**self.get_params(deep=False))

    def check(self, n_features: int) -> None:
        """Fail before any training when the head or the input shape cannot fit the data."""
        n_out = output_units(self.model)
        if n_out == 1 and self.n_classes != 2:
            raise UsageError(f"the Keras model has a 1-output (sigmoid) head but the labels have {self.n_classes} classes")
        if n_out != 1 and n_out != self.n_classes:
            raise UsageError(f"the Keras model has {n_out} outputs but the labels have {self.n_classes} classes")
        reshape_for(self.model, np.zeros((1, n_features), np.float32), self.sample_shape or (n_features,))

    def fit(self, X, y):
        """Train a fresh copy of the model on ``(X, y)``.

        The copy is compiled with the loss its head needs (:func:`dataaudit.lint.right_loss_for`),
        whatever the model was compiled with: a broken set-up is the ``setup`` check's finding,
        never a silently broken probe. The model's optimizer (class and settings) is kept.
        """
        keras = import_keras()
        keras.utils.set_random_seed(int(self.random_state))
        self.check(int(np.prod(X.shape[1:])))
        net = keras.models.clone_model(self.model)  # fresh weights
        loss_name, self.logits_ = right_loss_for(describe(self.model))
        loss = (keras.losses.BinaryCrossentropy if loss_name == "binary_crossentropy"
                else keras.losses.SparseCategoricalCrossentropy)(from_logits=self.logits_)
        optimizer = getattr(self.model, "optimizer", None)
        optimizer = optimizer.__class__.from_config(optimizer.get_config()) if optimizer is not None else "adam"
        trained = self._augmented(keras, net)
        trained.compile(loss=loss, optimizer=optimizer)
        X = reshape_for(net, np.asarray(X, np.float32), self.sample_shape)
        y = np.asarray(y)
        train, held = self._split(y)
        stop = []
        validation = None
        if len(held):
            validation = (X[held], y[held])
            stop = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=self.patience, restore_best_weights=True)]
        history = trained.fit(X[train], y[train], epochs=self.epochs, batch_size=self.batch_size, verbose=0,
                              validation_data=validation, callbacks=stop)
        self.epochs_trained_ = len(history.history.get("loss", []))
        self.net_ = net
        self.classes_ = np.arange(self.n_classes)
        return self

    def _augmented(self, keras, net):
        """``net`` behind random shifts when ``augment`` is set (the shifts act in training only;
        ``net`` shares the weights and predicts on the pictures as they are)."""
        shape = input_shape_of(net)
        if not self.augment or len(shape) != 3:
            return net
        inputs = keras.Input(shape)
        shifted = keras.layers.RandomTranslation(self.augment, self.augment, fill_mode="constant",
                                                 seed=int(self.random_state))(inputs)
        return keras.Model(inputs, net(shifted))

    def _split(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows to train on and rows held out for early stopping (none when a class is too small)."""
        rows = np.arange(len(y))
        counts = np.bincount(y)
        if not self.validation_share or counts[counts > 0].min() < 2 / self.validation_share:
            return rows, rows[:0]
        from sklearn.model_selection import train_test_split

        train, held = train_test_split(rows, test_size=self.validation_share, stratify=y,
                                       random_state=int(self.random_state))
        return np.sort(train), np.sort(held)

    def predict_proba(self, X) -> np.ndarray:
        X = reshape_for(self.net_, np.asarray(X, np.float32), self.sample_shape)
        p = np.asarray(self.net_.predict(X, batch_size=max(self.batch_size, 1024), verbose=0), dtype=np.float64)
        return to_probabilities(p, self.logits_)
