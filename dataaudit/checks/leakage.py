"""PLACEHOLDER — replaced wholesale by the issue that builds this check."""

from __future__ import annotations

from .base import CheckInputs, CheckResult

NAME = "leakage"
NEEDS: frozenset[str] = frozenset({"test"})
METRICS = ("leakage",)


def run(inputs: CheckInputs) -> CheckResult:
    return CheckResult(name=NAME, metrics={"leakage": 0.0})
