"""The training doctor: pure pattern detection on synthetic runs (fast), and one real small Keras
run per symptom with a planted cause (slow), whose report must name that cause; a healthy run on
clean data must get no warning from ``setup`` or ``training``.

The Keras runs are fixtures (tests/keras_runs.py), the same that ``python -m bench symptoms`` scores.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import dataaudit
from dataaudit import doctor
from dataaudit.checks import training
from dataaudit.dynamics import TrainingRecord, fingerprint

import keras_runs



# ----------------------------------------------------------------------------- curves


def test_rise_needs_a_lasting_rise_above_the_lowest_point():
    assert doctor.find_rise(np.r_[np.linspace(1.0, 0.5, 5), np.linspace(0.55, 0.9, 6)]) == (4, 10)
    assert doctor.find_rise(np.r_[np.linspace(1.0, 0.5, 5), [0.9], np.full(5, 0.5)]) is None   # one spike
    assert doctor.find_rise(np.linspace(1.0, 0.2, 10)) is None
    assert doctor.find_rise(np.r_[np.linspace(0.02, 0.01, 5), np.full(5, 0.025)]) is None     # +0.015: noise
    assert doctor.find_rise(np.array([0.5, 0.6, 0.7])) is None                                # too short


def test_collapse_degradation_and_divergence():
    loss = np.r_[np.linspace(0.7, 0.15, 8), [0.4, 3.0, 0.7, 0.69]]
    acc = np.r_[np.linspace(0.7, 0.95, 8), [0.9, 0.6, 0.58, 0.59]]
    c = doctor.find_collapse(loss, acc)
    assert c["kind"] == "collapse" and c["epoch"] == 9 and c["best_epoch"] == 7 and c["drop"] > 0.3
    # A slow slide that lasts: degradation (the forum's "after some epoch training loss rose").
    loss = np.r_[np.linspace(0.5, 0.02, 10), np.linspace(0.05, 0.15, 6)]
    acc = np.r_[np.linspace(0.8, 1.0, 10), np.linspace(0.98, 0.95, 6)]
    assert doctor.find_collapse(loss, acc)["kind"] == "degradation"
    # ... but a blip that recovers, or noise on a loss near 0, is not.
    assert doctor.find_collapse(np.r_[np.linspace(0.5, 0.1, 8), [0.25], np.full(4, 0.09)],
                                np.r_[np.linspace(0.8, 0.96, 8), [0.92], np.full(4, 0.97)]) is None
    assert doctor.find_collapse(np.r_[np.full(6, 0.002), np.full(4, 0.01)],
                                np.r_[np.full(6, 1.0), np.full(4, 0.996)]) is None
    d = doctor.find_collapse(np.array([0.6, 0.3, 0.2, np.inf, np.nan]), np.array([0.7, 0.8, 0.9, 0.5, 0.5]))
    assert d["kind"] == "divergence" and d["epoch"] == 3


def test_fall_together_and_plateau():
    loss = np.linspace(0.7, 0.55, 20)
    acc = np.r_[np.linspace(0.80, 0.90, 4), np.linspace(0.89, 0.80, 16)]
    first, last = doctor.find_fall_together(loss, acc)
    assert first <= 4 and last >= 15
    assert doctor.find_fall_together(loss, np.linspace(0.8, 0.9, 20)) is None
    assert doctor.find_fall_together(np.linspace(0.5, 0.9, 20), acc) is None      # loss rising: not this one
    # Plateau: accuracy flat for the second half, loss creeping down.
    loss = np.r_[np.linspace(0.7, 0.3, 5), np.linspace(0.29, 0.26, 25)]
    acc = np.r_[np.linspace(0.7, 0.9, 5), np.full(25, 0.9)]
    assert doctor.find_plateau(loss, acc)[1] == 29
    assert doctor.find_plateau(loss, np.linspace(0.7, 0.95, 30)) is None           # still learning
    assert doctor.find_plateau(np.linspace(0.7, 0.01, 30), np.linspace(0.7, 1.0, 30)) is None
    assert doctor.find_plateau(loss[:5], acc[:5]) is None                            # too short


def test_curves_read_any_metric_name_and_fall_back_to_the_record():
    h = {"loss": [0.9, 0.5, 0.4], "binary_accuracy": [0.6, 0.8, 0.85], "val_loss": [1.0, np.nan, 0.8],
         "val_binary_accuracy": [0.5, np.nan, 0.8], "learning_rate": [1e-3] * 3}
    c = doctor.curves(h)
    assert c["training"].accuracy_name == "binary_accuracy" and c["validation"].accuracy is not None
    assert doctor.accuracy_key({"loss": [], "my_accuracy": []}) == "my_accuracy"
    assert doctor.accuracy_key({"loss": [], "auc": []}) is None
    assert set(doctor.curves({"loss": [0.5, 0.4], "val_loss": [np.nan, np.nan]})) == {"training"}
    pg = np.array([[0.4, 0.6, 0.9], [0.5, 0.7, 0.8]])
    rec = doctor.curves({}, np.log(pg), np.log(pg) - np.log(1 - pg), np.array([True, False]), np.array([0, 2, 4]))
    assert rec["training"].source == "record" and np.isnan(rec["training"].loss[1])
    assert rec["training"].accuracy[4] == 1.0 and rec["validation"].loss[0] == pytest.approx(-np.log(0.5))


# ----------------------------------------------------------------------------- per-sample evidence


def test_carriers_are_the_fewest_rows_that_make_the_whole_change():
    before = np.array([0.1, 0.2, 0.1, 0.3, 0.2])
    after = np.array([0.1, 2.0, 0.05, 0.3, 0.25])
    assert doctor.carriers(before, after).tolist() == [1]
    assert doctor.carriers(after, before).size == 0                   # a fall has no rise carriers
    assert doctor.carriers(after, before).dtype == np.int64


def test_data_floor_counts_conflicting_groups_and_label_issues():
    labels = np.array([0, 0, 1, 1, 1, 0, 1, 0, 1, 0])
    group = np.array([0, 0, 0, -1, -1, -1, -1, -1, -1, -1])
    conflicting = group >= 0
    issues = np.zeros(10, bool)
    issues[[3, 2]] = True                       # row 2 is in the group: counted there, not twice
    f = doctor.data_floor(labels, 2, label_issue=issues, group=group, conflicting=conflicting)
    assert f["lost_to_conflicts"] == 1 and f["lost_to_label_issues"] == 1
    assert f["accuracy"] == pytest.approx(0.8)
    group_loss = 3 * -(2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3))
    eta = 1 / 7
    noise_loss = 7 * -((1 - eta) * np.log(1 - eta) + eta * np.log(eta))
    assert f["loss"] == pytest.approx((group_loss + noise_loss) / 10)
    clean = doctor.data_floor(labels, 2)
    assert clean["accuracy"] == 1.0 and clean["loss"] == 0.0


def test_pull_weighs_far_rows_and_wrong_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    X[:4] = 60.0
    norms = doctor.input_norms(X)
    assert norms[:4].min() > 10 * np.median(norms[4:])
    p_given = np.full(200, 0.9)
    p_given[:4] = 0.5
    share = doctor.pull(p_given, norms)[:4].sum() / doctor.pull(p_given, norms).sum()
    assert share > 0.5
    assert doctor.input_norms(np.zeros((10, 3))).tolist() == [0.0] * 10   # constant features: no crash


# ----------------------------------------------------------------------------- diagnosis of synthetic runs


def _run(n=400, epochs=12, val=0.2, seed=0):
    """A healthy synthetic run: every row learned gradually, train and validation."""
    rng = np.random.default_rng(seed)
    p = np.clip(np.linspace(0.55, 0.97, epochs)[None, :] + rng.normal(0, 0.02, (n, epochs)), 0.01, 0.999)
    in_training = np.arange(n) < int(n * (1 - val))
    history = {"loss": np.linspace(0.7, 0.05, epochs), "accuracy": np.linspace(0.7, 0.99, epochs),
               "val_loss": np.linspace(0.7, 0.08, epochs), "val_accuracy": np.linspace(0.7, 0.98, epochs),
               "learning_rate": np.full(epochs, 1e-3)}
    return {"p_given": p, "p_other": 1 - p, "labels": rng.integers(0, 2, n), "in_training": in_training,
            "epochs": np.arange(epochs), "history": history, "n_classes": 2,
            "setup": {"optimizer": "Adam", "learning_rate": 1e-3}}


def _diagnose(run, **kw):
    p = np.clip(np.asarray(run["p_given"], float), 1e-6, 1.0)
    q = np.clip(np.asarray(run["p_other"], float), 1e-6, 1.0)
    return doctor.diagnose(np.log(p), np.log(p) - np.log(q), run["labels"], run["in_training"], run["epochs"],
                           run["history"], n_classes=run["n_classes"], setup=run["setup"], **kw)


def test_a_healthy_run_has_no_symptom():
    run = _run()
    assert _diagnose(run) == []
    assert _diagnose(run, flags=doctor.RowFlags(label_issue=np.zeros(400, bool))) == []


def test_collapse_names_the_epoch_the_setup_and_the_learning_rate():
    run = _run(epochs=12)
    p = run["p_given"]
    p[:, 8:] = np.where(np.arange(400)[:, None] % 2 == 0, 0.2, 0.9)   # half the rows lost at once
    run["p_other"] = 1 - p
    run["history"]["loss"] = np.r_[np.linspace(0.7, 0.15, 8), [3.5, 1.2, 0.8, 0.8]]
    run["history"]["accuracy"] = np.r_[np.linspace(0.7, 0.95, 8), [0.6, 0.55, 0.55, 0.56]]
    run["history"]["learning_rate"] = 1e-3 * 2.0 ** np.arange(12)
    [s] = _diagnose(run)
    assert (s.pattern, s.cause, s.severity, s.last_epoch) == ("collapse", "learning_rate", "critical", 8)
    assert "epoch 9" in s.message and "forgotten" in s.message and "Not the data" in s.advice
    assert "rose from 0.001" in s.advice and "Adam's usual range" in s.advice
    problems = [("binary_loss_on_softmax", "critical", "the loss is binary_crossentropy but the model ends in a 2-unit softmax",
                 "Change: keep the softmax head with loss='categorical_crossentropy'.")]
    [s] = _diagnose(run, setup_problems=problems)
    assert s.cause == "setup" and "binary_crossentropy" in s.advice and "learning rate" in s.advice
    # Without an accuracy in the history, the recorded epochs show it.
    del run["history"]["accuracy"]
    [s] = _diagnose(run)
    assert s.pattern == "collapse"


def _memorising(run, flipped, clean_training):
    """Validation rows whose labels are wrong grow ever more confidently wrong; training rows are learned."""
    n, e = run["p_given"].shape
    p = run["p_given"]
    val = ~run["in_training"]
    p[val & flipped] = np.linspace(0.3, 0.01, e)[None, :]
    if clean_training:
        p[val & flipped] = np.linspace(0.3, 0.2, e)[None, :]
        p[val & ~flipped & (np.arange(n) % 7 == 0)] = np.linspace(0.45, 0.02, e)[None, :]
    run["p_other"] = 1 - p
    run["history"]["val_loss"] = np.r_[np.linspace(0.7, 0.5, 3), np.linspace(0.55, 1.4, e - 3)]
    run["history"]["val_accuracy"] = np.r_[np.linspace(0.7, 0.8, 3), np.full(e - 3, 0.8)]
    return run


def test_a_rise_carried_by_flagged_rows_is_the_data_and_on_clean_data_overfitting():
    run = _run(epochs=15)
    flipped = np.arange(400) % 5 == 0
    run = _memorising(run, flipped, clean_training=False)
    flags = doctor.RowFlags(label_issue=flipped.copy(), outlier=np.zeros(400, bool), conflicting=np.zeros(400, bool))
    [s] = _diagnose(run, flags=flags)
    assert (s.pattern, s.cause, s.split) == ("loss_up_accuracy_up", "label_noise", "validation")
    assert "carry the whole rise" in s.message and "label issues" in s.message and "by heart" in s.advice
    assert flipped[s.details["carriers_rows"]].all() and s.to_dict()["epochs"][0] <= 4
    # The same rise on clean training data (and unflagged carriers): overfitting, not the data.
    run = _memorising(_run(epochs=15), flipped, clean_training=True)
    clean = doctor.RowFlags(label_issue=np.zeros(400, bool), outlier=np.zeros(400, bool),
                            conflicting=np.zeros(400, bool))
    [s] = _diagnose(run, flags=clean)
    assert (s.pattern, s.cause) == ("train_val_parting", "overfitting")
    assert "Overfitting, not the data" in s.advice and "EarlyStopping" in s.advice
    # No data check ran: the report says it cannot tell.
    [s] = _diagnose(run)
    assert s.cause == "unknown" and "cannot tell" in s.advice


def _stalled(run, wrong):
    e = run["p_given"].shape[1]
    p = run["p_given"]
    p[wrong] = 0.3
    run["p_other"] = 1 - p
    run["history"]["loss"] = np.r_[np.linspace(0.7, 0.32, 4), np.linspace(0.31, 0.30, e - 4)]
    run["history"]["accuracy"] = np.r_[np.linspace(0.7, 0.9, 4), np.full(e - 4, 0.9)]
    return run


def test_plateau_at_the_ceiling_or_short_of_it():
    n = 400
    wrong = np.arange(n) % 10 == 0
    group = np.where(wrong, np.arange(n) // 20, -1)
    run = _stalled(_run(epochs=16, val=0.0), wrong)
    flags = doctor.RowFlags(label_issue=np.zeros(n, bool), conflicting=wrong.copy(), group=group)
    [s] = _diagnose(run, flags=flags)
    assert (s.pattern, s.cause) == ("plateau", "data_ceiling")
    assert "data's ceiling" in s.advice and s.details["accuracy_ceiling"] < 1
    # The same stall with nothing flagged: the model, not the data.
    none = doctor.RowFlags(label_issue=np.zeros(n, bool), conflicting=np.zeros(n, bool), group=np.full(n, -1))
    [s] = _diagnose(run, flags=none)
    assert (s.pattern, s.cause) == ("plateau", "capacity_or_optimisation")
    # An underfitting run whose own label verdict flags what it cannot fit: still capacity.
    run = _stalled(_run(epochs=16, val=0.0), wrong)
    run["p_given"][~wrong] = 0.56
    run["p_other"] = 1 - run["p_given"]
    flags = doctor.RowFlags(label_issue=wrong.copy())
    [s] = _diagnose(run, flags=flags)
    assert s.cause == "capacity_or_optimisation" and "unsure" in s.message
    [s] = _diagnose(run)
    assert s.cause == "unknown" and s.severity == "info"


def test_falling_together_names_the_rows_pulling_on_the_weights():
    n, e = 400, 20
    run = _run(n=n, epochs=e, val=0.0)
    far = np.arange(n) < 12
    p = np.clip(np.linspace(0.6, 0.8, e)[None, :] + np.zeros((n, 1)), 0, 1)
    p[far] = 0.5
    run["p_given"], run["p_other"] = p, 1 - p
    run["history"]["loss"] = np.linspace(0.69, 0.58, e)
    run["history"]["accuracy"] = np.r_[np.linspace(0.85, 0.9, 3), np.linspace(0.89, 0.80, e - 3)]
    norms = np.where(far, 40.0, 3.0)
    flags = doctor.RowFlags(label_issue=np.zeros(n, bool), outlier=far.copy(), conflicting=far.copy(),
                            group=np.where(far, 0, -1))
    [s] = _diagnose(run, flags=flags, norms=norms)
    assert s.pattern == "loss_and_accuracy_fall" and s.cause in ("outliers", "conflicting_duplicates")
    assert "pull on the weights" in s.message and "outliers" in s.advice
    [s] = _diagnose(run, flags=flags)                    # no input norms: says less
    assert s.pattern == "loss_and_accuracy_fall" and s.cause == "unknown" and "class_weight" in s.advice


def test_diagnosis_survives_missing_history_and_flags():
    run = _run()
    assert _diagnose({**run, "history": {}}) == []
    assert _diagnose({**run, "history": {"loss": [0.5]}}) == []
    symptoms = _diagnose({**run, "history": {"val_loss": run["history"]["val_loss"]}})
    assert all(isinstance(s, doctor.Symptom) for s in symptoms)
    json.dumps([s.to_dict() for s in _diagnose(run)])


# ----------------------------------------------------------------------------- the check, the report, the views


def _record_of(X, y, p_given, history, in_training=None):
    """A two-class record as AuditCallback writes it (no TensorFlow needed)."""
    n, e = p_given.shape
    p_given = np.clip(p_given, 1e-4, 1 - 1e-4)
    return TrainingRecord(
        n_rows=n, fingerprint=fingerprint(X), rows=np.arange(n), labels=y.astype(np.int64),
        in_training=np.ones(n, bool) if in_training is None else in_training, epochs=np.arange(e),
        logp_given=np.log(p_given).astype(np.float16), margin=(np.log(p_given) - np.log1p(-p_given)).astype(np.float16),
        other=np.broadcast_to((1 - y)[:, None], (n, e)).astype(np.int16), n_outputs=2, history=history, setup={"output_units": 2, "output_activation": "softmax", "optimizer": "Adam",
                                "loss": "sparse_categorical_crossentropy", "learning_rate": 0.001,
                                "labels": {"form": "integer", "n_classes": 2, "low": 0, "high": 1}})


def test_the_training_check_reports_symptoms_in_findings_figures_and_every_view(tmp_path):
    rng = np.random.default_rng(0)
    n, e = 300, 12
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 4)) + 3 * y[:, None]
    p = np.clip(np.linspace(0.6, 0.97, e)[None, :] + rng.normal(0, 0.01, (n, e)), 0, 1)
    p[:, 8:] = np.where(np.arange(n)[:, None] % 2 == 0, 0.2, 0.9)
    history = {"loss": np.r_[np.linspace(0.7, 0.15, 8), [3.5, 1.2, 0.8, 0.8]],
               "accuracy": np.r_[np.linspace(0.7, 0.95, 8), [0.6, 0.55, 0.55, 0.56]]}
    report = dataaudit.scan(X, y, dynamics=_record_of(X, y, p, history))
    [symptom] = report.summary["training"]["symptoms"]
    assert symptom["pattern"] == "collapse" and symptom["epochs"] == [8, 9]
    assert report.metrics["training_symptoms"] == 1
    assert set(training.METRICS) <= set(report.metrics)
    found = [f for f in report.findings if f["check"] == "training" and "collapsed" in f["message"]]
    assert found and found[0]["severity"] == "critical"
    report.save(tmp_path / "audit")
    saved = json.loads((tmp_path / "audit" / "report.json").read_text())
    assert saved["training"]["symptoms"][0]["cause"] == symptom["cause"]
    assert any("collapsed" in f["message"] for f in saved["findings"])
    html = (tmp_path / "audit" / "report.html").read_text()
    assert "collapsed at epoch 9" in html


def test_terminal_view_shows_the_symptom(cli, tmp_path):
    rng = np.random.default_rng(1)
    n, e = 200, 10
    y = rng.integers(0, 2, n)
    X = (rng.normal(size=(n, 4)) + 3 * y[:, None]).astype(np.float32)
    p = np.clip(np.linspace(0.6, 0.97, e)[None, :] + rng.normal(0, 0.01, (n, e)), 0, 1)
    p[:, 7:] = np.where(np.arange(n)[:, None] % 2 == 0, 0.2, 0.9)
    history = {"loss": np.r_[np.linspace(0.7, 0.15, 7), [3.5, 1.2, 0.8]],
               "accuracy": np.r_[np.linspace(0.7, 0.95, 7), [0.6, 0.55, 0.55]]}
    from dataaudit import io

    io.write_npz(str(tmp_path / "dyn.npz"), **_record_of(X, y, p, history).to_arrays())
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    r = cli("scan", tmp_path / "X.npy", tmp_path / "y.npy", "--dynamics", tmp_path / "dyn.npz", "-q")
    assert r.code == 0, r.err
    assert "collapsed at epoch 8" in r.out


# ----------------------------------------------------------------------------- real Keras runs


KERAS_CASES = [
    # (reproduction, pattern, cause, words the finding must say)
    ("loss rises while accuracy rises", "loss_up_accuracy_up", "label_noise", ["label issue", "by heart"]),
    ("plateau at the data's ceiling", "plateau", "data_ceiling", ["conflicting duplicates", "data's ceiling"]),
    ("plateau short of the ceiling", "plateau", "capacity_or_optimisation", ["capacity or optimisation"]),
    ("collapse", "collapse", "setup", ["binary_crossentropy", "learning rate", "Not the data"]),
    ("collapse, sound head", "collapse", "learning_rate", ["learning rate", "Not the data"]),
    ("training and validation parting", "train_val_parting", "overfitting", ["Overfitting, not the data"]),
    ("loss and accuracy both falling", "loss_and_accuracy_fall", None, ["outlier", "conflicting duplicate", "pull"]),
]


@pytest.mark.slow
@pytest.mark.keras
@pytest.mark.parametrize("name, pattern, cause, words", KERAS_CASES, ids=[c[0] for c in KERAS_CASES])
def test_keras_run_with_a_planted_cause_names_it(name, pattern, cause, words):
    pytest.importorskip("keras")
    X, y, cb, truth = keras_runs.record_run(name, seed=0)
    report = dataaudit.scan(X, y, dynamics=cb)
    symptoms = report.summary["training"]["symptoms"]
    hits = [s for s in symptoms if s["pattern"] == pattern]
    assert hits, symptoms
    s = hits[0]
    causes = keras_runs.REPRODUCTIONS[name].causes
    assert s["cause"] == cause if cause else s["cause"] in causes, s
    marker = {"collapse": "training collapsed", "loss_up_accuracy_up": "loss rose",
              "train_val_parting": "training and validation part", "loss_and_accuracy_fall": "fall together",
              "plateau": "stopped falling"}[pattern]
    finding = next(f for f in report.findings if f["check"] == "training" and marker in f["message"])
    assert finding["severity"] == s["severity"] != "info"
    text = finding["message"] + " " + finding["advice"]
    for word in words:
        assert word in text, (word, text)
    if pattern == "loss_up_accuracy_up":      # the rows carrying the rise are the planted flips
        rows = np.asarray(s["carriers_rows"])
        assert truth[rows].mean() >= 0.6, truth[rows].mean()
    if pattern == "loss_and_accuracy_fall":   # the rows pulling are the planted far-out copies
        assert s["pulling_rows"] <= truth.sum() and s["pulling_share_of_pull"] >= 0.15
    if pattern == "collapse":
        assert 5 <= s["epochs"][1] <= 11 and s["forgotten_share"] >= 0.2


@pytest.mark.slow
@pytest.mark.keras
@pytest.mark.parametrize("name, seed", [("healthy run", 0), ("healthy run", 1), ("healthy run, sigmoid head", 0)])
def test_keras_healthy_run_gets_no_false_alarm(name, seed):
    pytest.importorskip("keras")
    X, y, cb, _ = keras_runs.record_run(name, seed=seed)
    report = dataaudit.scan(X, y, dynamics=cb)
    alarms = [f for f in report.findings if f["check"] in ("setup", "training") and f["severity"] != "info"]
    assert not alarms, alarms
    assert report.summary["training"]["symptoms"] == []
    assert report.metrics["training_symptoms"] == 0
