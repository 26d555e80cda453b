"""The pipeline gate: ``report.gate("label_issues>0.05,conflicting_duplicates>0")``, ``--fail-on`` in the CLI."""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Iterable

from .errors import UsageError, param

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
    for part in str(expr).split(","):
        if not part.strip():
            continue
        m = _CONDITION.match(part)
        if not m:
            raise UsageError(
                f"{param('fail_on')} condition '{part.strip()}' is not of the form METRIC>NUMBER "
                "(operators > >= < <= == !=), e.g. label_issues>0.05"
            )
        metric, op, number, pct = m.groups()
        value = float(number) / (100.0 if pct else 1.0)
        conditions.append(Condition(metric, op, value, f"{metric}{op}{number}{pct}"))
    if not conditions:
        raise UsageError(f"{param('fail_on')} is empty: give conditions like label_issues>0.05")
    return conditions


def known_metrics() -> dict[str, str]:
    """Every gate metric, mapped to the check that computes it."""
    from . import doctor
    from .checks import REGISTRY

    known = {m: name for name, mod in REGISTRY.items() for m in mod.METRICS}
    # The training doctor runs after the training check and adds its metrics to it.
    known.update({m: doctor.NAME for m in doctor.METRICS})
    return known


def validate(conditions: list[Condition], checks: Iterable[str]) -> None:
    """Fail fast, before a scan: every metric must be computed by one of ``checks``."""
    known = known_metrics()
    available = {m for m, check in known.items() if check in set(checks)}
    for c in conditions:
        if c.metric not in available:
            _unavailable(c.metric, known)


def _unavailable(metric: str, known: dict[str, str]) -> None:
    if metric in known:
        raise UsageError(
            f"{param('fail_on')} uses '{metric}', which the '{known[metric]}' check computes, but that check "
            f"was not run: add it to {param('checks')}"
        )
    raise UsageError(f"{param('fail_on')} uses an unknown metric '{metric}'; known metrics: {', '.join(sorted(known))}")


def evaluate(conditions: list[Condition], metrics: dict[str, float]) -> list[dict]:
    """The conditions that trip, as JSON-ready dicts; a metric not in ``metrics`` is a usage error."""
    tripped = []
    for c in conditions:
        if c.metric not in metrics:
            _unavailable(c.metric, known_metrics())
        value = metrics[c.metric]
        if _OPS[c.op](value, c.threshold):
            tripped.append({"condition": c.text, "metric": c.metric, "value": value, "threshold": c.threshold})
    return tripped
