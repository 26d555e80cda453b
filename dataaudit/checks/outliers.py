"""PLACEHOLDER — replaced wholesale by the issue that builds this check."""

from __future__ import annotations

from .base import CheckInputs, CheckResult

NAME = "outliers"
NEEDS: frozenset[str] = frozenset({"neighbors"})
METRICS = ("outliers",)


def run(inputs: CheckInputs) -> CheckResult:
    return CheckResult(name=NAME, metrics={"outliers": 0.0})
