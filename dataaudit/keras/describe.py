"""A Keras model's set-up as plain data: what the ``setup`` check and the training record read."""

from __future__ import annotations

from typing import Any

import numpy as np

# Layers that pass their input through unchanged (after the last layer that computes).
_PASS_THROUGH = ("Dropout", "Flatten", "Reshape", "ActivityRegularization", "GaussianNoise", "GaussianDropout",
                 "AlphaDropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D")


def output_activation(model) -> str:
    """The activation applied to the model's output: the last ``Activation``/``Softmax`` layer or
    the ``activation`` of the last layer that has one (``"linear"``: the outputs are logits)."""
    for layer in reversed(getattr(model, "layers", [])):
        kind = type(layer).__name__
        if kind == "Softmax":
            return "softmax"
        config = layer.get_config()
        if "activation" in config:
            act = config["activation"]
            return act if isinstance(act, str) else str(getattr(act, "__name__", act))
        if kind not in _PASS_THROUGH:
            return "linear"
    return "linear"


def _loss_name_and_logits(loss) -> tuple[str | None, bool | None]:
    if loss is None:
        return None, None
    if isinstance(loss, str):
        return loss, None
    if callable(getattr(loss, "get_config", None)):
        config = loss.get_config() or {}
        name = config.get("name") or type(loss).__name__
        return str(name), config.get("from_logits")
    return str(getattr(loss, "__name__", type(loss).__name__)), None


def _learning_rate(optimizer) -> float | None:
    try:
        value = optimizer.learning_rate
        value = value(optimizer.iterations) if callable(value) else value
        return float(np.asarray(value))
    except Exception:  # noqa: BLE001 - schedules and exotic optimizers
        return None


def describe(model) -> dict[str, Any]:
    """The model's output layer, loss and optimizer as JSON-ready data.

    Keys: ``output_units``, ``output_activation``, ``loss`` (name), ``from_logits`` (the loss's
    setting, None when the loss does not say), ``optimizer``, ``learning_rate``,
    ``input_shape`` (one sample), ``compiled``.
    """
    loss = getattr(model, "loss", None)
    optimizer = getattr(model, "optimizer", None)
    name, from_logits = _loss_name_and_logits(loss)
    shape = model.inputs[0].shape if getattr(model, "inputs", None) else getattr(model, "input_shape", (None,))
    return {
        "output_units": int(model.outputs[0].shape[-1]),
        "output_activation": output_activation(model),
        "loss": name,
        "from_logits": from_logits,
        "optimizer": type(optimizer).__name__ if optimizer is not None else None,
        "learning_rate": _learning_rate(optimizer) if optimizer is not None else None,
        "input_shape": [None if s is None else int(s) for s in tuple(shape)[1:]],
        "compiled": loss is not None,
    }


def outputs_are_logits(setup: dict[str, Any]) -> bool:
    """Whether the model's raw outputs are logits (the loss says so, or no activation squashes them)."""
    if setup.get("from_logits") is not None:
        return bool(setup["from_logits"])
    return setup.get("output_activation") not in ("softmax", "sigmoid")
