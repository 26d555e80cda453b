"""The Keras probe on a tiny model (skipped only when TensorFlow is not installed)."""

import os
import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import dataaudit  # noqa: E402
from dataaudit.errors import InputError  # noqa: E402
from dataaudit.probe import run_probe  # noqa: E402


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


def _model(n_out, activation):
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(n_out, activation=activation)])
    loss = "binary_crossentropy" if n_out == 1 else "sparse_categorical_crossentropy"
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
    return m


@pytest.mark.parametrize("n_out, activation", [(1, "sigmoid"), (2, "softmax")])
def test_keras_instance_heads(n_out, activation):
    X, y = _data()
    model = _model(n_out, activation)
    before = [w.copy() for w in model.get_weights()]
    res = run_probe(X, y, 2, model, epochs=15, batch_size=32)
    assert res.pred_probs.shape == (300, 2)
    np.testing.assert_allclose(res.pred_probs.sum(axis=1), 1, atol=1e-6)
    assert res.info["out_of_sample_accuracy"] > 0.85
    # The user's model is cloned, never trained in place.
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_keras_file_with_safe_mode_finds_flipped_labels(tmp_path, cli):
    X, y = _data(400)
    noisy = y.copy()
    noisy[:20] = 1 - noisy[:20]
    path = tmp_path / "probe.keras"
    _model(1, "sigmoid").save(path)
    report = dataaudit.scan(X, noisy, model=str(path), checks="label_issues", options={"probe": {"epochs": 20, "batch_size": 32}})
    assert report.summary["probe"]["model"] == "keras:probe.keras"
    assert report.samples["is_label_issue"][:20].sum() >= 12
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", noisy)
    r = cli("scan", tmp_path / "X.npy", tmp_path / "y.npy", "--model", path, "--checks", "label_issues", "-q", "--format", "json")
    assert r.code == 0, r.err


def test_keras_lambda_layer_is_refused(tmp_path):
    inp = keras.Input((4,))
    out = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Lambda(lambda t: t * 2)(inp))
    m = keras.Model(inp, out)
    m.compile(loss="binary_crossentropy", optimizer="adam")
    path = tmp_path / "lambda.keras"
    m.save(path)
    X, y = _data(50)
    with pytest.raises(InputError, match="safe_mode"):
        dataaudit.scan(X, y, model=str(path), checks="label_issues")


def test_wrong_head_size_is_a_usage_error():
    X, y = _data(60)
    with pytest.raises(ValueError, match="outputs"):
        run_probe(X, y, 2, _model(3, "softmax"), epochs=1)


def test_import_dataaudit_does_not_import_tensorflow():
    code = "import sys, dataaudit; dataaudit.scan; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def _cnn(input_shape, n_out=10):
    m = keras.Sequential([
        keras.Input(input_shape),
        keras.layers.Conv2D(8, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(n_out, activation="softmax"),
    ])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    return m


def test_cnn_gets_images_in_the_shape_it_declares():
    from sklearn.datasets import load_digits

    digits = load_digits()
    X, y = digits.images[:400].astype(np.float32) / 16, digits.target[:400]
    report = dataaudit.scan(X, y, model=_cnn((8, 8, 1)), checks="label_issues",
                            options={"probe": {"epochs": 5, "batch_size": 32}})
    assert report.summary["probe"]["out_of_sample_accuracy"] > 0.8


@pytest.mark.parametrize("log_level", [None, "3"])
def test_a_shape_the_model_cannot_take_is_one_line_naming_both(tmp_path, log_level):
    np.save(tmp_path / "X.npy", np.zeros((60, 8, 8), np.float32))
    np.save(tmp_path / "y.npy", np.repeat(np.arange(10), 6))
    _cnn((28, 28, 1)).save(tmp_path / "cnn.keras")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    if log_level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = log_level
    proc = subprocess.run([sys.executable, "-m", "dataaudit.cli", "scan", str(tmp_path / "X.npy"), str(tmp_path / "y.npy"),
                           "--model", str(tmp_path / "cnn.keras")], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr       # TensorFlow's start-up lines are not shown
    assert "(8, 8)" in lines[0] and "(28, 28, 1)" in lines[0]


def _two_unit_softmax_with_binary_loss():
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2, activation="softmax")])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    return m


def test_broken_setup_is_reported_and_the_probe_trains_with_the_right_loss():
    X, y = _data(300)
    report = dataaudit.scan(X, y, model=_two_unit_softmax_with_binary_loss(), checks="label_issues,setup",
                            options={"probe": {"epochs": 15, "batch_size": 32}})
    setup = [f for f in report.findings if f["check"] == "setup"]
    assert [f["severity"] for f in setup] == ["critical"]
    assert "binary_crossentropy" in setup[0]["message"] and "sparse_categorical_crossentropy" in setup[0]["advice"]
    assert report.summary["probe"]["out_of_sample_accuracy"] > 0.85


def test_sound_keras_setup_gets_no_setup_finding(tmp_path):
    X, y = _data(100)
    path = tmp_path / "ok.keras"
    _model(2, "softmax").save(path)
    report = dataaudit.scan(X, y, model=str(path), checks="setup")
    assert report.summary["checks_run"] == ["setup"] and not report.findings
    assert report.summary["setup"]["model"]["loss"] == "sparse_categorical_crossentropy"


def test_callback_warns_when_training_begins():
    from dataaudit.keras import AuditCallback, SetupWarning

    X, y = _data(200)
    one_hot = np.eye(2, dtype=np.float32)[y]        # the forum's case: one-hot rows, 2-unit softmax, binary loss
    with pytest.warns(SetupWarning, match="binary_crossentropy"):
        _two_unit_softmax_with_binary_loss().fit(X, one_hot, epochs=1, verbose=0, callbacks=[AuditCallback(X, one_hot)])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", SetupWarning)
        _model(1, "sigmoid").fit(X, y, epochs=1, verbose=0, callbacks=[AuditCallback(X, y)])


def test_each_fold_stops_when_its_held_out_slice_stops_improving():
    from dataaudit.keras.estimator import KerasProbe

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4)).astype(np.float32)
    y = rng.integers(0, 2, 400)                        # labels that cannot be learnt: only memorised
    big = keras.Sequential([keras.Input((4,)), keras.layers.Dense(64, activation="relu"),
                            keras.layers.Dense(2, activation="softmax")])
    big.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    stopping = KerasProbe(big, n_classes=2, sample_shape=(4,), epochs=60, batch_size=32).fit(X, y)
    assert stopping.epochs_trained_ < 30
    running = KerasProbe(big, n_classes=2, sample_shape=(4,), epochs=12, batch_size=32, validation_share=0).fit(X, y)
    assert running.epochs_trained_ == 12


def test_augment_is_a_keras_option_checked_before_training():
    from dataaudit.errors import UsageError
    from dataaudit.probe import make_plan

    counts = np.array([150, 150])
    with pytest.raises(UsageError, match="augment"):
        make_plan("auto", counts, (4,), augment=0.1)
    with pytest.raises(UsageError, match="augment"):
        make_plan(_model(2, "softmax"), counts, (4,), augment=0.7)
    cnn = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                            keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
    cnn.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    probe = make_plan(cnn, counts, (8, 8, 1), augment=0.1).estimators[0]
    X = np.random.default_rng(0).random((300, 64)).astype(np.float32)
    y = np.arange(300) % 2
    fitted = probe.fit(X, y)
    assert fitted.predict_proba(X).shape == (300, 2)
    shifted = fitted._augmented(keras, fitted.net_)
    assert any(isinstance(layer, keras.layers.RandomTranslation) for layer in shifted.layers)
    plain = make_plan(cnn, counts, (8, 8, 1)).estimators[0]
    assert plain._augmented(keras, cnn) is cnn
