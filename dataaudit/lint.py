"""Set-up lint for a Keras classifier: does its output layer, its loss and the labels agree?

Pure functions of the model's described set-up (:func:`dataaudit.keras.describe`) and the
labels, so the ``setup`` check, the Keras probe and :class:`~dataaudit.keras.AuditCallback`
(which warns when training begins) share one rulebook, testable without TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The usual top of each optimizer's learning-rate range; far above it (x FAR_ABOVE) is flagged.
USUAL_LR_TOP = {
    "adam": 0.01, "adamw": 0.01, "nadam": 0.01, "adamax": 0.02, "rmsprop": 0.01, "lion": 0.001,
    "adafactor": 0.01, "sgd": 0.5, "adagrad": 0.5, "ftrl": 1.0, "adadelta": 10.0,
}
FAR_ABOVE = 5.0
#: Each rule's severity, declared in one place.
SEVERITY = {
    "one_unit_for_many_classes": "critical", "too_few_units": "critical", "too_many_units": "warning",
    "binary_loss_on_softmax": "critical", "binary_loss_on_many_units": "warning",
    "categorical_loss_on_one_unit": "critical", "categorical_loss_with_integer_labels": "critical",
    "sparse_loss_with_one_hot_labels": "critical", "labels_out_of_range": "critical", "regression_loss": "warning",
    "activation_and_from_logits": "critical", "logits_without_from_logits": "critical",
    "learning_rate_far_too_high": "warning",
}


@dataclass(frozen=True)
class Labels:
    """What the set-up must agree with: the classes and how the labels reach the loss.

    ``form`` is ``"integer"``, ``"text"`` or ``"one-hot"``; ``low``/``high`` the smallest and largest
    integer label the network is trained with (None for text labels, which the user encodes).
    """

    n_classes: int
    form: str = "integer"
    low: int | None = None
    high: int | None = None


@dataclass(frozen=True)
class Problem:
    """One disagreement: what is wrong, why it hurts training, and the line to change."""

    code: str
    severity: str
    message: str
    fix: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "message": self.message, "fix": self.fix}

    @property
    def advice(self) -> str:
        """The fix, as a finding's advice."""
        return f"Change: {self.fix}."


def labels_of(setup: dict[str, Any], classes: Any) -> Labels:
    """How the labels reach the loss: as the set-up records them (what ``fit`` was given), else
    from the dataset's classes and the form they were given in (``setup["label_form"]``)."""
    import numpy as np

    given = setup.get("labels")
    if given:
        return Labels(int(given["n_classes"]), given["form"], given.get("low"), given.get("high"))
    classes = np.asarray(classes)
    integer = classes.dtype.kind in "iu"
    form = setup.get("label_form", "integer" if integer else "text")
    return Labels(len(classes), form, int(classes.min()) if integer else None, int(classes.max()) if integer else None)


def _kind(loss: str | None) -> str:
    name = (loss or "").lower().replace("_", "")
    if "sparsecategorical" in name:
        return "sparse"
    if "categoricalcrossentropy" in name or "categoricalfocal" in name:
        return "categorical"
    if "binary" in name:
        return "binary"
    if "meansquared" in name or name in ("mse", "mae", "meanabsoluteerror"):
        return "regression"
    return "other" if name else "none"


def _right_loss(units: int, labels: Labels) -> str:
    if units == 1:
        return "loss='binary_crossentropy'"
    return "loss='categorical_crossentropy'" if labels.form == "one-hot" else "loss='sparse_categorical_crossentropy'"


def lint(setup: dict[str, Any], labels: Labels) -> list[Problem]:
    """Every problem with a Keras set-up, most serious first (an empty list for a sound one).

    Examples
    --------
    >>> setup = {"output_units": 2, "output_activation": "softmax", "loss": "binary_crossentropy",
    ...          "from_logits": None, "optimizer": "Adam", "learning_rate": 0.001}
    >>> [p.code for p in lint(setup, Labels(2, "integer", 0, 1))]
    ['binary_loss_on_softmax']
    >>> setup.update(loss="sparse_categorical_crossentropy")
    >>> lint(setup, Labels(2, "integer", 0, 1))
    []
    """
    problems: list[Problem] = []
    units = int(setup.get("output_units") or 0)
    activation = str(setup.get("output_activation") or "linear")
    kind = _kind(setup.get("loss"))
    k = labels.n_classes
    right = _right_loss(units, labels)

    def add(code, message, fix):
        problems.append(Problem(code, SEVERITY[code], message, fix))

    # The head against the classes.
    if units == 1 and k > 2:
        add("one_unit_for_many_classes",
            f"the model ends in 1 output unit but the labels have {k} classes: it can only answer yes/no",
            f"end the model with Dense({k}, activation='softmax') and use loss='sparse_categorical_crossentropy'")
    elif units >= 2 and units < k:
        add("too_few_units",
            f"the model ends in {units} output units but the labels have {k} classes: it cannot predict all of them",
            f"end the model with Dense({k}, activation='softmax')")
    elif units > 2 and units > k and (labels.high is None or labels.high < units - 1):
        add("too_many_units",
            f"the model ends in {units} output units but the labels have {k} classes: {units - k} outputs are never a "
            "right answer", f"end the model with Dense({k}, activation='softmax'), with labels 0..{k - 1}")

    # The loss against the head.
    if kind == "binary" and units >= 2 and activation == "softmax":
        add("binary_loss_on_softmax",
            f"the loss is binary_crossentropy but the model ends in a {units}-unit softmax: Keras scores each unit as a "
            "separate yes/no question, so the loss and 'accuracy' do not measure your task (the run that reaches "
            "99% then drops to ~55% accuracy with a loss near 6)",
            f"keep the softmax head with {right}, or end the model with Dense(1, activation='sigmoid') and keep "
            "binary_crossentropy")
    elif kind == "binary" and units >= 2 and k >= 2:
        add("binary_loss_on_many_units",
            f"the loss is binary_crossentropy on {units} output units: that trains {units} independent yes/no "
            "outputs (multi-label), not one choice among your classes",
            f"for one label per sample use Dense({max(k, 2)}, activation='softmax') with {right}")
    if kind in ("sparse", "categorical") and units == 1:
        add("categorical_loss_on_one_unit",
            f"the loss is {setup.get('loss')} but the model has a single output unit: a softmax over one unit is "
            "always 1, so the network cannot learn",
            "use loss='binary_crossentropy' with Dense(1, activation='sigmoid'), or Dense(2, activation='softmax')")

    # The loss against the labels.
    if kind == "categorical" and labels.form != "one-hot":
        add("categorical_loss_with_integer_labels",
            "the loss is categorical_crossentropy, which expects one-hot rows, but the labels are class indices",
            "use loss='sparse_categorical_crossentropy', or one-hot encode y with keras.utils.to_categorical(y)")
    if kind == "sparse" and labels.form == "one-hot":
        add("sparse_loss_with_one_hot_labels",
            "the loss is sparse_categorical_crossentropy, which expects class indices, but the labels are one-hot rows",
            "use loss='categorical_crossentropy', or pass y.argmax(axis=1)")
    high_ok = (units - 1) if units >= 2 else 1
    if kind in ("sparse", "binary") and labels.high is not None and (labels.low < 0 or labels.high > high_ok):
        add("labels_out_of_range",
            f"the labels run from {labels.low} to {labels.high} but a {setup.get('loss')} loss on {units} output "
            f"unit{'s' if units != 1 else ''} needs 0..{high_ok}: the out-of-range ones give a meaningless or NaN loss",
            f"encode the labels as 0..{k - 1} (sklearn.preprocessing.LabelEncoder, or y - y.min())")
    if kind == "regression":
        add("regression_loss",
            f"the loss is {setup.get('loss')}, a regression loss: on class probabilities it learns slowly and "
            "plateaus early", f"use {right}")

    # The activation against the loss's from_logits.
    from_logits = setup.get("from_logits")
    if kind in ("sparse", "categorical", "binary"):
        if activation in ("softmax", "sigmoid") and from_logits is True:
            add("activation_and_from_logits",
                f"the output layer applies {activation} and the loss has from_logits=True: the probabilities are "
                f"squashed twice, gradients vanish and the loss stalls",
                "remove the output activation (the loss applies it), or set from_logits=False")
        elif activation not in ("softmax", "sigmoid") and not from_logits:
            add("logits_without_from_logits",
                f"the output layer has no softmax/sigmoid ({activation}) but the loss expects probabilities "
                "(from_logits=False): it clips the raw outputs, the loss jumps and training collapses",
                f"add activation='{'sigmoid' if units == 1 else 'softmax'}' to the last layer, or use "
                f"{'keras.losses.BinaryCrossentropy' if units == 1 else 'keras.losses.SparseCategoricalCrossentropy'}"
                "(from_logits=True)")

    # The optimizer.
    name = str(setup.get("optimizer") or "").lower()
    lr = setup.get("learning_rate")
    top = USUAL_LR_TOP.get(name)
    if top is not None and lr is not None and lr > FAR_ABOVE * top:
        add("learning_rate_far_too_high",
            f"the learning rate {lr:g} is far above {setup.get('optimizer')}'s usual range (up to about {top:g}): "
            "the loss can jump and accuracy collapse after some epochs",
            f"start from learning_rate={top / 10:g}, or schedule it down (keras.callbacks.ReduceLROnPlateau)")
    problems.sort(key=lambda p: p.severity != "critical")
    return problems


def right_loss_for(setup: dict[str, Any]) -> tuple[str, bool]:
    """The loss a probe trains this head with, whatever the model was compiled with: sparse
    categorical cross-entropy for a K-unit head, binary for one unit; ``from_logits`` when no
    softmax/sigmoid ends the model."""
    logits = str(setup.get("output_activation")) not in ("softmax", "sigmoid")
    return ("binary_crossentropy" if int(setup.get("output_units") or 0) == 1 else "sparse_categorical_crossentropy"), logits
