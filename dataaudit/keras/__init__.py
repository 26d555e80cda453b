"""dataaudit and Keras: the user's Keras model as a probe.

Importing this package imports Keras (and TensorFlow); ``import dataaudit`` never does.
"""

from __future__ import annotations

from ._quiet import import_keras

import_keras()

from .estimator import KerasProbe, input_shape_of, load_model  # noqa: E402

__all__ = ["KerasProbe", "input_shape_of", "load_model"]
