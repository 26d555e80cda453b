"""The pipeline gate: ``--fail-on "label_issues>0.05,conflicting_duplicates>0"``."""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass

from .errors import UsageError

_OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt}
_CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(%?)\s*$")


@dataclass(frozen=True)
class Condition:
    metric: str
    op: str
    threshold: float
    text: str


def parse(expr: str) -> list[Condition]:
    """Parse a comma-separated list of ``metric OP number`` conditions.

    A trailing ``%`` divides the number by 100 (``label_issues>5%``).

    Examples
    --------
    >>> [c.text for c in parse("label_issues>0.05, conflicting_duplicates>0")]
    ['label_issues>0.05', 'conflicting_duplicates>0']
    """
    conditions = []
    for part in expr.split(","):
        if not part.strip():
            continue
        m = _CONDITION.match(part)
        if not m:
            raise UsageError(
                f"--fail-on condition '{part.strip()}' is not of the form METRIC>NUMBER "
                "(operators > >= < <= == !=), e.g. label_issues>0.05"
            )
        metric, op, number, pct = m.groups()
        value = float(number) / (100.0 if pct else 1.0)
        conditions.append(Condition(metric, op, value, f"{metric}{op}{number}{pct}"))
    if not conditions:
        raise UsageError("--fail-on is empty: give conditions like label_issues>0.05")
    return conditions


def evaluate(conditions: list[Condition], metrics: dict[str, float], known: dict[str, str]) -> list[dict]:
    """The conditions that trip, as JSON-ready dicts.

    ``known`` maps every metric name dataaudit can compute to the check that computes it, so
    that a metric of a check that was not run is told apart from a misspelt one.
    """
    tripped = []
    for c in conditions:
        if c.metric not in metrics:
            if c.metric in known:
                raise UsageError(
                    f"--fail-on uses '{c.metric}', which the '{known[c.metric]}' check computes, but that check "
                    "was not run: add it to --checks"
                )
            raise UsageError(
                f"--fail-on uses an unknown metric '{c.metric}'; known metrics: {', '.join(sorted(known))}"
            )
        value = metrics[c.metric]
        if _OPS[c.op](value, c.threshold):
            tripped.append({"condition": c.text, "metric": c.metric, "value": value, "threshold": c.threshold})
    return tripped
