"""AuditCallback on real (small, fast) Keras runs: what it records, and the scan of its record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import dataaudit  # noqa: E402
from dataaudit.keras import AuditCallback  # noqa: E402

pytestmark = pytest.mark.keras


def _blobs(n=600, k=3, seed=0, noise=0.1):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    X = (rng.normal(size=(n, 6)) + 4.0 * np.eye(k, 6)[y]).astype(np.float32)
    flipped = rng.random(n) < noise
    noisy = np.where(flipped, (y + rng.integers(1, k, n)) % k, y)
    return X, noisy, flipped


def _net(k, *, head="softmax", loss=None, lr=0.01):
    units = 1 if head == "sigmoid" else k
    activation = None if head == "logits" else head
    m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(units, activation=activation)])
    m.compile(loss=loss or ("binary_crossentropy" if head == "sigmoid" else "sparse_categorical_crossentropy"),
              optimizer=keras.optimizers.Adam(lr), metrics=["accuracy"])
    return m


def _fit(X, y, model, epochs=15, **fit_kw):
    keras.utils.set_random_seed(0)
    cb = AuditCallback(X, y)
    model.fit(X, y, epochs=epochs, batch_size=32, verbose=0, callbacks=[cb], **fit_kw)
    return cb


@pytest.fixture(scope="module")
def noisy_run():
    X, y, flipped = _blobs()
    cb = _fit(X, y, _net(3), validation_split=0.2)
    return X, y, flipped, cb


def test_planted_label_noise_is_found_from_the_run(noisy_run):
    X, y, flipped, cb = noisy_run
    report = dataaudit.scan(X, y, dynamics=cb)
    assert report.summary["probe"]["model"] == "training record"      # no probe was trained
    flagged = report.samples["is_label_issue"].to_numpy()
    precision = (flagged & flipped).sum() / max(flagged.sum(), 1)
    recall = (flagged & flipped).sum() / flipped.sum()
    assert precision > 0.8 and recall > 0.6, (precision, recall)
    s = report.samples
    assert s["aum"][flipped].median() < 0 < s["aum"][~flipped].median()
    assert s["confidence"][flipped].mean() < s["confidence"][~flipped].mean() - 0.3
    assert {"aum", "confidence", "variability", "forgetting_events"} <= set(s.columns)
    w = report.sample_weight()
    assert w[flipped].mean() < 0.5 * w[~flipped].mean()


def test_the_record_knows_the_run(noisy_run):
    X, y, _, cb = noisy_run
    record = cb.record()
    assert record.n_epochs == 15 and record.n_recorded == len(X)
    assert record.in_training.sum() == 480                              # validation_split=0.2 found
    assert not record.in_training[480:].any()
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(record.history)
    assert record.setup["output_units"] == 3 and record.setup["output_activation"] == "softmax"
    assert record.setup["loss"] == "sparse_categorical_crossentropy"
    assert record.setup["learning_rate"] == pytest.approx(0.01)
    assert record.logp_given.dtype == np.float16 and record.logp_given.shape == (600, 15)
    assert record.margin.shape == record.other.shape == (600, 15)
    flat = record.other[record.other != record.labels[:, None]]
    assert flat.size == record.other.size and record.other.max() <= 2     # "other" is never the label


def test_record_round_trips_through_a_file(noisy_run, tmp_path, cli):
    X, y, _, cb = noisy_run
    path = cb.save(tmp_path / "dynamics.npz")
    in_memory = dataaudit.scan(X, y, dynamics=cb)
    from_file = dataaudit.scan(X, y, dynamics=path)
    assert in_memory.to_json() == from_file.to_json()
    with np.load(path, allow_pickle=False) as npz:                      # nothing in it needs unpickling
        assert all(npz[name].dtype != object for name in npz.files)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    r = cli("scan", tmp_path / "X.npy", tmp_path / "y.npy", "--dynamics", path, "--format", "json", "-q")
    assert r.code == 0, r.err
    assert json.loads(r.out)["metrics"] == json.loads(in_memory.to_json())["metrics"]


@pytest.mark.parametrize("head, loss, one_hot", [
    ("sigmoid", None, False),
    ("softmax", "categorical_crossentropy", True),
    ("logits", keras.losses.SparseCategoricalCrossentropy(from_logits=True), False),
])
def test_heads_label_forms_and_logits(head, loss, one_hot):
    k = 2 if head == "sigmoid" else 3
    X, y, flipped = _blobs(k=k, seed=1)
    target = np.eye(k, dtype=np.float32)[y] if one_hot else y
    cb = _fit(X, target, _net(k, head=head, loss=loss), class_weight={c: 1.0 for c in range(k)})
    record = cb.record()
    assert np.all(record.logp_given <= 0) and np.all(np.isfinite(record.margin.astype(np.float32)))
    from dataaudit.run_evidence import record_probabilities

    np.testing.assert_allclose(record_probabilities(record).sum(axis=1), 1, atol=1e-6)
    report = dataaudit.scan(X, target, dynamics=cb)
    flagged = report.samples["is_label_issue"].to_numpy()
    assert (flagged & flipped).sum() >= 0.6 * flipped.sum()


def test_validation_data_keeps_every_row_a_training_row():
    X, y, _ = _blobs()
    cb = _fit(X, y, _net(3), epochs=3, validation_data=(X[:50], y[:50]))
    assert cb.record().in_training.all()


def test_memory_bound_records_a_subset_and_says_so():
    X, y, flipped = _blobs(n=900)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cb = _fit(X, y, _net(3), epochs=10, **{})
        cb_small = AuditCallback(X, y, memory_mb=0.01)
        keras.utils.set_random_seed(0)
        _net(3).fit(X, y, epochs=10, batch_size=32, verbose=0, callbacks=[cb_small])
    assert any("fixed random subset" in str(w.message) for w in caught)
    record = cb_small.record()
    assert 0 < record.n_recorded < len(X)
    report = dataaudit.scan(X, y, dynamics=cb_small)
    quality = report.samples["label_quality"].to_numpy()
    judged = np.isin(np.arange(len(X)), record.rows)
    assert np.isfinite(quality[judged]).all() and np.isnan(quality[~judged]).all()
    assert not report.samples["is_label_issue"].to_numpy()[~judged].any()
    assert cb.record().n_recorded == len(X)


def test_long_runs_record_at_most_max_snapshots():
    from dataaudit.keras import callback

    X, y, _ = _blobs(n=200)
    old = callback.MAX_SNAPSHOTS
    callback.MAX_SNAPSHOTS = 5
    try:
        cb = _fit(X, y, _net(3), epochs=12)
    finally:
        callback.MAX_SNAPSHOTS = old
    record = cb.record()
    assert record.n_epochs == 5 and record.epochs[-1] == 11 and len(record.history["loss"]) == 12


def test_bad_records_are_one_line_exit_2(noisy_run, tmp_path, cli):
    X, y, _, cb = noisy_run
    good = cb.save(tmp_path / "good.npz")
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "X_short.npy", X[:-1])
    np.save(tmp_path / "y_short.npy", y[:-1])
    np.save(tmp_path / "X_shuffled.npy", X[::-1])
    np.save(tmp_path / "y_other.npy", (y + 1) % 3)
    data = open(good, "rb").read()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    np.savez(tmp_path / "foreign.npz", a=np.zeros(3))
    np.savez(tmp_path / "pickled.npz", format=np.array(["dataaudit.dynamics"], dtype=object))
    cases = [
        ("X_short.npy", "y_short.npy", "good.npz", ["599", "600"]),
        ("X_shuffled.npy", "y.npy", "good.npz", ["other data"]),
        ("X.npy", "y_other.npy", "good.npz", ["labels differ"]),
        ("X.npy", "y.npy", "cut.npz", ["--dynamics"]),
        ("X.npy", "y.npy", "foreign.npz", ["not a dataaudit training record"]),
        ("X.npy", "y.npy", "pickled.npz", ["never unpickles"]),
    ]
    for x_name, y_name, record_name, needles in cases:
        r = cli("scan", tmp_path / x_name, tmp_path / y_name, "--dynamics", tmp_path / record_name, "-q")
        assert r.code == 2, (record_name, r.err)
        lines = r.err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in r.err, r.err
        for needle in needles:
            assert needle in lines[0], (needle, lines[0])


def test_callback_does_not_import_on_plain_scan():
    code = "import sys, dataaudit; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ)).stdout
    assert out.strip() == "False"
