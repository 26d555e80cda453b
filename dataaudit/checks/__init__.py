"""The checks, one module each, and the registry the orchestrator runs them from."""

from __future__ import annotations

from types import ModuleType

from . import class_balance, duplicates, high_loss, label_issues, leakage, outliers, setup, training
from .base import CheckInputs, CheckResult, Finding

#: Checks in the order they run and are reported. Each module has NAME, NEEDS, METRICS and run().
REGISTRY: dict[str, ModuleType] = {
    m.NAME: m for m in (class_balance, label_issues, high_loss, duplicates, outliers, leakage, setup, training)
}

__all__ = ["REGISTRY", "CheckInputs", "CheckResult", "Finding"]
