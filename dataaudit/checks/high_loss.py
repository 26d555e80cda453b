"""PLACEHOLDER — replaced wholesale by the issue that builds this check."""

from __future__ import annotations

from .base import CheckInputs, CheckResult

NAME = "high_loss"
NEEDS: frozenset[str] = frozenset({"probe"})
METRICS = ("high_loss",)


def run(inputs: CheckInputs) -> CheckResult:
    return CheckResult(name=NAME, metrics={"high_loss": 0.0})
