"""TrainingRecorder: a training loop without Keras is recorded and audited, and the doctor reads
the checks' verdicts by the cause they carry."""

import numpy as np
import pytest

import dataaudit
from dataaudit import doctor
from dataaudit.checks.base import RowCause, RowVerdict


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """The runnable example: 1,797 digits, 10% planted flips, MLPClassifier.partial_fit for 40 epochs."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).parents[1] / "examples" / "training_loop_example.py"
    spec = importlib.util.spec_from_file_location("training_loop_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    saved = tmp_path_factory.mktemp("rec") / "dynamics.npz"
    report = example.main(str(saved), epochs=40, seed=0)
    return example, report, saved


def test_a_partial_fit_loop_finds_planted_flips(digits_run):
    from sklearn.datasets import load_digits

    _, report, _ = digits_run
    target = load_digits().target
    flipped = report.samples["label"].to_numpy() != target
    flagged = report.samples["is_label_issue"].to_numpy()
    tp = (flagged & flipped).sum()
    precision, recall = tp / flagged.sum(), tp / flipped.sum()
    assert 2 * precision * recall / (precision + recall) >= 0.85
    assert report.summary["probe"]["model"] == "training record"


def test_the_saved_record_gives_the_same_flags(digits_run):
    _, report, saved = digits_run
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(load_digits().data).astype(np.float32)
    y = report.samples["label"].to_numpy()
    again = dataaudit.scan(X, y, dynamics=str(saved), random_state=0)
    assert np.array_equal(again.samples["is_label_issue"].to_numpy(), report.samples["is_label_issue"].to_numpy())


def _logits(y, epoch, rng):
    return np.c_[-y * (epoch + 1.0), y * (epoch + 1.0)] + rng.normal(0, 1.0, (len(y), 2))


def test_batch_by_batch_equals_whole_epochs():
    y = np.r_[np.zeros(60, int), np.ones(40, int)]
    whole, batched = dataaudit.TrainingRecorder(y), dataaudit.TrainingRecorder(y)
    for epoch in range(4):
        logits = _logits(y, epoch, np.random.default_rng(epoch))
        whole.log_epoch(logits, metrics={"loss": 1.0 / (epoch + 1)})
        order = np.random.default_rng(10 + epoch).permutation(100)
        for batch in np.array_split(order, 7):
            batched.log_epoch(logits[batch], index=batch)
        batched.end_epoch(metrics={"loss": 1.0 / (epoch + 1)})
    a, b = whole.record(), batched.record()
    assert np.array_equal(a.margin, b.margin) and np.array_equal(a.other, b.other)
    assert a.history["loss"].tolist() == b.history["loss"].tolist() and a.n_epochs == 4


def test_a_sigmoid_output_may_be_one_dimensional():
    y = np.r_[np.zeros(30, int), np.ones(30, int)]
    rec = dataaudit.TrainingRecorder(y, setup={"output_units": 1, "output_activation": "sigmoid"})
    p = np.where(y == 1, 0.9, 0.2)
    p[0] = 0.95  # row 0 (label 0) is answered 1
    rec.log_epoch(p)
    rec.log_epoch(p[:, None])
    record = rec.record()
    assert record.n_outputs == 2 and (record.margin[0] < 0).all() and (record.margin[1:] > 0).all()


def test_bad_feeding_is_one_clear_error():
    rec = dataaudit.TrainingRecorder(np.zeros(10, int))
    with pytest.raises(dataaudit.InputError, match="index"):
        rec.log_epoch(np.zeros((3, 2)), index=[0, 1])
    with pytest.raises(dataaudit.InputError, match="no epoch"):
        dataaudit.TrainingRecorder(np.zeros(10, int)).record()
    with pytest.raises(dataaudit.UsageError, match="unknown field"):
        dataaudit.TrainingRecorder(np.zeros(10, int), setup={"lr": 0.1})


def test_the_doctor_reads_verdicts_by_their_cause_not_their_name():
    """A contract test: verdicts handed to the doctor directly, under names no check has."""
    n = 8
    flag = np.zeros(n, bool)
    flag[[1, 5]] = True
    dup = np.zeros(n, bool)
    dup[[2, 3, 4]] = True
    conflicting = np.zeros(n, bool)
    conflicting[[2, 3]] = True
    verdicts = {
        "anything": RowVerdict(flag=flag, score=np.ones(n), cause=RowCause.LABEL_NOISE),
        "groups": RowVerdict(flag=dup, score=np.ones(n), group=np.where(dup, 0, -1),
                             cause=RowCause.CONFLICTING_DUPLICATES, cause_rows=conflicting),
        "silent": RowVerdict(flag=np.ones(n, bool), score=np.ones(n)),
    }
    rows = np.array([1, 2, 3, 4, 6])
    flags = doctor.RowFlags.from_verdicts(verdicts, rows)
    assert flags.label_issue.tolist() == [True, False, False, False, False]
    assert flags.conflicting.tolist() == [False, True, True, False, False]
    assert flags.group.tolist() == [-1, 0, 0, 0, -1]
    assert flags.outlier is None
