"""The Keras set-up: do the model's output layer, its loss and the labels agree?"""

from __future__ import annotations

import numpy as np

from .. import lint
from .base import NEED_SETUP, CheckInputs, CheckResult, Finding, RowVerdict

NAME = "setup"
TITLE = "Your model's set-up"
NEEDS: frozenset[str] = frozenset({NEED_SETUP})
METRICS = ("setup_problems",)
#: Each rule's severity (declared with the rules, in dataaudit.lint).
SEVERITY = lint.SEVERITY


def run(inputs: CheckInputs) -> CheckResult:
    """Compare the model's output layer and loss with the labels (see :func:`dataaudit.lint.lint`).

    Findings name each problem and the line of Keras code to change. Row verdict: the flag marks
    rows whose label a sparse or binary loss cannot take (outside the output's range); no weight,
    no exclusion.
    """
    setup = inputs.setup
    facts = lint.labels_of(setup, inputs.classes)
    problems = lint.lint(setup, facts)
    flag = np.zeros(inputs.n_samples, bool)
    if any(p.code == "labels_out_of_range" for p in problems) and np.asarray(inputs.classes).dtype.kind in "iu":
        units = int(setup.get("output_units") or 0)
        values = np.asarray(inputs.classes)[inputs.labels]
        flag = (values < 0) | (values > (units - 1 if units >= 2 else 1))
    findings = [
        Finding(
            check=NAME, severity=p.severity, count=int(flag.sum()) if p.code == "labels_out_of_range" else 1,
            message=p.message, advice=p.advice,
        )
        for p in problems
    ]
    figures = {
        "source": setup.get("source", "model"),
        "model": {k: setup.get(k) for k in ("output_units", "output_activation", "loss", "from_logits", "optimizer",
                                             "learning_rate", "input_shape")},
        "labels": {"n_classes": facts.n_classes, "form": facts.form, "low": facts.low, "high": facts.high},
        "problems": [p.to_dict() for p in problems],
    }
    rows = RowVerdict(flag=flag, score=np.where(flag, 0.0, 1.0), shown=("label",))
    metrics = {"setup_problems": float(len(problems))}
    return CheckResult(name=NAME, rows=rows, figures=figures, metrics=metrics, findings=findings)
