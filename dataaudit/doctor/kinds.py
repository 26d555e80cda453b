"""The names the doctor speaks in: symptoms (patterns in a run) and their causes, as constants."""

from __future__ import annotations

from enum import Enum

from ..checks.base import RowCause


class _Name(str, Enum):
    def __str__(self) -> str:
        return self.value


class Pattern(_Name):
    """A symptom of a run, read from its curves."""

    COLLAPSE = "collapse"
    LOSS_UP_ACCURACY_UP = "loss_up_accuracy_up"
    TRAIN_VAL_PARTING = "train_val_parting"
    LOSS_AND_ACCURACY_FALL = "loss_and_accuracy_fall"
    PLATEAU = "plateau"


class Cause(_Name):
    """What the doctor names behind a symptom: the data (which rows) or the set-up (which line)."""

    SETUP = "setup"
    LEARNING_RATE = "learning_rate"
    LABEL_NOISE = RowCause.LABEL_NOISE.value
    OUTLIERS = RowCause.OUTLIERS.value
    CONFLICTING_DUPLICATES = RowCause.CONFLICTING_DUPLICATES.value
    REGULARISATION = "regularisation"
    OVERFITTING = "overfitting"
    OPTIMISATION = "optimisation"
    DATA_CEILING = "data_ceiling"
    CAPACITY_OR_OPTIMISATION = "capacity_or_optimisation"
    UNKNOWN = "unknown"


#: The causes that are the data's rows.
DATA_CAUSES = frozenset({Cause.LABEL_NOISE, Cause.OUTLIERS, Cause.CONFLICTING_DUPLICATES})

__all__ = ["Cause", "DATA_CAUSES", "Pattern"]
