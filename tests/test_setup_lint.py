"""The set-up lint: every listed mistake is found and its message names the fix; a sound set-up gets nothing."""

from __future__ import annotations

import numpy as np
import pytest

from dataaudit.lint import Labels, lint

SOUND = {"output_units": 3, "output_activation": "softmax", "loss": "sparse_categorical_crossentropy",
         "from_logits": None, "optimizer": "Adam", "learning_rate": 0.001}
INTEGERS = Labels(3, "integer", 0, 2)


def _codes(setup, labels=INTEGERS):
    return [p.code for p in lint({**SOUND, **setup}, labels)]


@pytest.mark.parametrize("setup, labels", [
    ({}, INTEGERS),
    ({"loss": "categorical_crossentropy"}, Labels(3, "one-hot", 0, 2)),
    ({"output_units": 1, "output_activation": "sigmoid", "loss": "binary_crossentropy"}, Labels(2, "integer", 0, 1)),
    ({"output_activation": "linear", "from_logits": True}, INTEGERS),
    ({"output_units": 1, "output_activation": "linear", "loss": "binary_crossentropy", "from_logits": True},
     Labels(2, "integer", 0, 1)),
    ({"optimizer": "SGD", "learning_rate": 0.1}, INTEGERS),
    ({}, Labels(3, "text")),
])
def test_sound_setups_get_no_finding(setup, labels):
    assert lint({**SOUND, **setup}, labels) == []


@pytest.mark.parametrize("setup, labels, code, fix_names", [
    ({"output_units": 2, "loss": "binary_crossentropy"}, Labels(2, "integer", 0, 1), "binary_loss_on_softmax",
     ["sparse_categorical_crossentropy", "Dense(1, activation='sigmoid')"]),
    ({"loss": "categorical_crossentropy"}, INTEGERS, "categorical_loss_with_integer_labels",
     ["sparse_categorical_crossentropy", "to_categorical"]),
    ({}, Labels(3, "one-hot", 0, 2), "sparse_loss_with_one_hot_labels", ["categorical_crossentropy", "argmax"]),
    ({"output_units": 1, "output_activation": "sigmoid", "loss": "binary_crossentropy"}, INTEGERS,
     "one_unit_for_many_classes", ["Dense(3, activation='softmax')"]),
    ({"output_units": 2}, Labels(3, "integer", 0, 2), "too_few_units", ["Dense(3"]),
    ({"output_units": 5}, INTEGERS, "too_many_units", ["Dense(3"]),
    ({"from_logits": True}, INTEGERS, "activation_and_from_logits", ["from_logits=False"]),
    ({"output_activation": "linear", "from_logits": False}, INTEGERS, "logits_without_from_logits",
     ["activation='softmax'", "from_logits=True"]),
    ({"output_activation": "linear", "from_logits": None}, INTEGERS, "logits_without_from_logits", ["from_logits=True"]),
    ({}, Labels(3, "integer", 1, 3), "labels_out_of_range", ["0..2", "LabelEncoder"]),
    ({"learning_rate": 0.5}, INTEGERS, "learning_rate_far_too_high", ["learning_rate=0.001"]),
    ({"optimizer": "SGD", "learning_rate": 10.0}, INTEGERS, "learning_rate_far_too_high", ["learning_rate"]),
    ({"loss": "mean_squared_error"}, INTEGERS, "regression_loss", ["sparse_categorical_crossentropy"]),
])
def test_each_mistake_is_found_and_the_fix_named(setup, labels, code, fix_names):
    problems = lint({**SOUND, **setup}, labels)
    assert code in [p.code for p in problems]
    problem = next(p for p in problems if p.code == code)
    for name in fix_names:
        assert name in problem.fix, (name, problem.fix)
    assert problem.severity in ("warning", "critical") and "\n" not in problem.message


def test_setup_check_in_a_scan_flags_the_rows_a_sparse_loss_cannot_take():
    import dataaudit
    from dataaudit.checks import REGISTRY
    from dataaudit.checks.base import CheckInputs

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 50)
    classes = np.array([1, 2, 3])                     # the user's labels run 1..3 on a 3-unit head
    inputs = CheckInputs(raw=np.zeros((50, 2)), features=np.zeros((50, 2), np.float32), labels=labels,
                         classes=classes, setup={**SOUND, "label_form": "integer"})
    result = REGISTRY["setup"].run(inputs)
    assert [f.severity for f in result.findings] == ["critical"]
    assert result.rows.flag.sum() == (labels == 2).sum()        # class value 3 is out of 0..2
    assert result.metrics["setup_problems"] == 1
    assert "setup" in dataaudit.checks.REGISTRY
