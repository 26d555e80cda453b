"""The public boundary: options, random_state, error messages in Python and CLI terms, the gate."""

from __future__ import annotations

import numpy as np
import pytest

import dataaudit
from dataaudit.errors import InputTypeError, UsageError

FAST = "class_balance,duplicates"


def _data(n=80, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = np.repeat([0, 1], n // 2)
    X[y == 1] += 1.5
    return X, y


def test_unknown_check_option_is_a_usage_error():
    X, y = _data()
    with pytest.raises(UsageError, match="unknown option 'tresh' for the 'duplicates' check.*threshold"):
        dataaudit.scan(X, y, checks=FAST, options={"duplicates": {"tresh": 0.1}})
    with pytest.raises(UsageError, match="unknown probe option 'epoch'"):
        dataaudit.scan(X, y, checks=FAST, options={"probe": {"epoch": 3}})
    with pytest.raises(UsageError, match="unknown check 'nope'"):
        dataaudit.scan(X, y, checks=FAST, options={"nope": {}})
    report = dataaudit.scan(X, y, checks=FAST, options={"duplicates": {"factor": 0.2}})
    assert "duplicates" in report.summary


@pytest.mark.parametrize("seed", [3, np.random.default_rng(5), None, np.random.RandomState(1)])
def test_random_state_accepts_int_none_and_generators(seed):
    X, y = _data()
    import copy

    twin = copy.deepcopy(seed)  # a generator in the same state draws the same seed
    report = dataaudit.scan(X, y, checks="label_issues", model="logistic", random_state=seed)
    again = dataaudit.scan(X, y, checks="label_issues", model="logistic", random_state=twin)
    if seed is None:  # a fresh seed each time
        assert report.summary["random_state"] != again.summary["random_state"]
    else:
        assert report.to_json() == again.to_json()
    if isinstance(seed, int):
        assert report.summary["random_state"] == seed


def test_same_generator_seed_same_report():
    X, y = _data()
    a = dataaudit.scan(X, y, checks="label_issues", model="hgb", random_state=np.random.default_rng(7))
    b = dataaudit.scan(X, y, checks="label_issues", model="hgb", random_state=np.random.default_rng(7))
    assert a.to_json() == b.to_json()


@pytest.mark.parametrize("bad", ["seven", 1.5, True, -1])
def test_bad_random_state(bad):
    X, y = _data()
    with pytest.raises(InputTypeError, match="random_state"):
        dataaudit.scan(X, y, checks=FAST, random_state=bad)


def test_python_errors_name_parameters_the_cli_names_flags(cli, tmp_path):
    X, y = _data()
    with pytest.raises(UsageError) as info:
        dataaudit.scan(X, y, checks="leakage")
    assert "X_test" in str(info.value) and "--test-x" not in str(info.value)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    r = cli("scan", tmp_path / "X.npy", tmp_path / "y.npy", "--checks", "leakage")
    assert r.code == 2 and "--test-x" in r.err and "X_test" not in r.err
    np.savez(tmp_path / "two.npz", a=X, b=X)
    with pytest.raises(dataaudit.InputError, match="choose one with x_key"):
        dataaudit.io.load_features(tmp_path / "two.npz")
    r = cli("scan", tmp_path / "two.npz", tmp_path / "y.npy")
    assert r.code == 2 and "choose one with --x-key" in r.err


def test_gate_lives_on_the_report():
    X, y = _data()
    X[5] = X[6]
    y[5] = 1 - y[6]
    report = dataaudit.scan(X, y, checks=FAST)
    assert "gate" not in report.summary
    result = report.gate("conflicting_duplicates>0, imbalance_ratio>5")
    assert result["passed"] is False and [t["metric"] for t in result["tripped"]] == ["conflicting_duplicates"]
    assert report.summary["gate"] == result
    with pytest.raises(UsageError, match="'outliers' check computes.*add it to checks"):
        report.gate("outliers>0")
    with pytest.raises(UsageError, match="unknown metric"):
        report.gate("outlyers>0")


def test_messages_read_as_plain_words():
    rng = np.random.default_rng(0)
    report = dataaudit.scan(rng.normal(size=(30, 3)), np.zeros(30, np.int64))
    message = next(f["message"] for f in report.findings if "one label" in f["message"])
    assert "np.int64" not in message and "(0)" in message
    assert "1 class," in repr(report) and "1 classes" not in repr(report)


def test_near_duplicates_count_only_non_exact_copies():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    y = rng.integers(0, 2, 300)
    X[1] = X[0]                          # exact pair
    X[3] = X[2] + 1e-6                   # near pair
    X[4] = X[2]                          # ...whose first member also has an exact twin
    report = dataaudit.scan(X, y, checks="duplicates")
    s = report.samples
    assert s["is_exact_duplicate"].to_numpy().nonzero()[0].tolist() == [0, 1, 2, 4]
    assert s["is_near_duplicate"].to_numpy().nonzero()[0].tolist() == [3]
    m = report.metrics
    assert m["exact_duplicates"] == pytest.approx(4 / 300, abs=1e-6)
    assert m["near_duplicates"] == pytest.approx(1 / 300, abs=1e-6)
    assert m["duplicates"] == pytest.approx(3 / 300, abs=1e-6)   # rows beyond the first of their group


def test_an_option_value_is_checked_before_any_work(monkeypatch):
    """beta outside [0, 1) is a usage error naming the option, raised before the probe is fitted."""
    from dataaudit import probe

    def no_probe(*args, **kwargs):
        raise AssertionError("the probe ran before the options were checked")

    monkeypatch.setattr(probe, "fit_out_of_sample", no_probe)
    X, y = _data()
    with pytest.raises(dataaudit.UsageError, match="beta"):
        dataaudit.scan(X, y, options={"class_balance": {"beta": 1.5}})
