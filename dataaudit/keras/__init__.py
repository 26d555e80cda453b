"""dataaudit inside a Keras run: :class:`AuditCallback` records it, and the user's model serves as a probe.

Importing this package imports Keras (and TensorFlow); ``import dataaudit`` never does.
"""

from __future__ import annotations

from ._quiet import import_keras

import_keras()

from .callback import AuditCallback, SetupWarning  # noqa: E402
from .describe import describe  # noqa: E402
from .estimator import KerasProbe, input_shape_of, load_model  # noqa: E402

__all__ = ["AuditCallback", "SetupWarning", "KerasProbe", "describe", "input_shape_of", "load_model"]
