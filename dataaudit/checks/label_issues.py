"""PLACEHOLDER — replaced wholesale by the issue that builds this check."""

from __future__ import annotations

from .base import CheckInputs, CheckResult

NAME = "label_issues"
NEEDS: frozenset[str] = frozenset({"probe"})
METRICS = ("label_issues",)


def run(inputs: CheckInputs) -> CheckResult:
    return CheckResult(name=NAME, metrics={"label_issues": 0.0})
