"""Bad input gets one clear line and exit code 2 (CLI) or a ValueError/TypeError (Python).

Each case plants one problem and asserts the message names it; legitimate-but-odd inputs
are asserted to be handled.
"""

from __future__ import annotations

import hashlib
import os
import stat

import numpy as np
import pandas as pd
import pytest

import dataaudit
from dataaudit.errors import DataAuditError, InputError

FAST = "class_balance,duplicates"


def one_line_error(r, *needles):
    assert r.code == 2, (r.code, r.out, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert "Traceback" not in r.err
    assert lines[0].startswith("dataaudit: error: ")
    for needle in needles:
        assert needle.lower() in lines[0].lower(), lines[0]
    return lines[0]


@pytest.fixture
def good(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = np.repeat([0, 1, 2], 20)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    return tmp_path, X, y


# ----------------------------------------------------------------------------- shapes and labels


@pytest.mark.parametrize(
    "X, y, needles",
    [
        (np.zeros((10, 3)), np.zeros(9, int), ["10 samples", "9 labels"]),
        (np.zeros((0, 3)), np.zeros(0, int), ["no samples"]),
        (np.zeros((5, 0)), np.zeros(5, int), ["no features"]),
        (np.zeros((1, 3)), np.zeros(1, int), ["only 1 sample"]),
        (np.ones((6, 2)), np.array([0.5, 1, 0, 1, 0, 1]), ["not whole numbers", "0.5"]),
        (np.ones((3, 2)), np.array([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]]), ["probabilities", "pred_probs"]),
        (np.ones((3, 2)), np.array([0, np.nan, 1]), ["missing labels", "row 1"]),
        (np.ones((3, 2)), np.array(["a", "", "b"], dtype=object), ["missing labels", "row 1"]),
        (np.array([[1.0, np.inf], [0, 0], [1, 1]]), np.array([0, 1, 0]), ["infinite", "row 0, column 1"]),
        (np.full((4, 2), np.nan), np.array([0, 1, 0, 1]), ["only missing values"]),
        (np.array([["a", "b"], ["c", "d"]]), np.array([0, 1]), ["non-numeric"]),
    ],
)
def test_bad_arrays_raise_value_errors(X, y, needles):
    with pytest.raises((ValueError, TypeError)) as info:
        dataaudit.scan(X, y, checks=FAST)
    assert isinstance(info.value, DataAuditError)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle.lower() in message.lower(), message


def test_wrong_type_is_type_error():
    with pytest.raises(TypeError):
        dataaudit.scan({"a": 1}, [0, 1], checks=FAST)


def test_one_hot_labels_are_converted():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    codes = np.repeat([0, 1, 2], 10)
    report = dataaudit.scan(X, np.eye(3)[codes], checks=FAST)
    assert report.samples["label"].tolist() == codes.tolist()
    assert any("one-hot" in n for n in report.summary["dataset"]["notes"])


def test_string_labels_with_whitespace_are_stripped():
    X = np.arange(12.0).reshape(6, 2)
    y = np.array([" cat", "cat ", "dog", "dog\t", "cat", "dog"], dtype=object)
    report = dataaudit.scan(X, y, checks=FAST)
    assert sorted(set(report.samples["label"])) == ["cat", "dog"]
    assert any("whitespace" in n for n in report.summary["dataset"]["notes"])


def test_float_whole_labels_and_numeric_strings_become_ints():
    X = np.arange(12.0).reshape(6, 2)
    a = dataaudit.scan(X, np.array([0.0, 1.0, 2.0, 0.0, 1.0, 2.0]), checks=FAST)
    b = dataaudit.scan(X, np.array(["0", "1", "2", "0", "1", "2"]), checks=FAST)
    assert a.samples["label"].tolist() == b.samples["label"].tolist() == [0, 1, 2, 0, 1, 2]


def test_nan_features_are_imputed_and_reported():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    X[[3, 7], 1] = np.nan
    report = dataaudit.scan(X, np.repeat([0, 1], 25), checks=FAST)
    assert report.summary["dataset"]["n_missing_values"] == 2
    assert any("2 missing values" in f["message"] for f in report.findings)


def test_constant_features_and_identical_rows_are_handled():
    X = np.ones((40, 5))
    y = np.repeat([0, 1], 20)
    report = dataaudit.scan(X, y, checks="class_balance,duplicates,outliers")
    assert report.samples["is_conflicting_duplicate"].all()
    assert report.summary["duplicates"]["accuracy_ceiling"] == pytest.approx(0.5)


def test_single_class_skips_label_checks():
    rng = np.random.default_rng(0)
    report = dataaudit.scan(rng.normal(size=(30, 3)), np.zeros(30, int))
    assert "label_issues" not in report.summary["checks_run"]
    assert any("one label" in f["message"] for f in report.findings)


@pytest.mark.parametrize(
    "pred_probs, needles",
    [
        (np.full((60, 2), 0.5), ["shape (60, 2)", "(60, 3)"]),
        (np.full((60, 3), 0.5), ["sum to 1"]),
        (np.c_[np.full(60, -0.1), np.full(60, 0.6), np.full(60, 0.5)], ["negative", "logits"]),
        (np.c_[np.full(60, np.nan), np.full(60, 0.5), np.full(60, 0.5)], ["nan"]),
    ],
)
def test_bad_pred_probs(good, pred_probs, needles):
    _, X, y = good
    with pytest.raises(InputError) as info:
        dataaudit.scan(X, y, pred_probs=pred_probs, checks="label_issues")
    for needle in needles:
        assert needle.lower() in str(info.value).lower()


# ----------------------------------------------------------------------------- files (CLI)


def test_pickled_object_npy_is_refused(cli, tmp_path, good):
    d, _, _ = good
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    one_line_error(cli("scan", tmp_path / "obj.npy", d / "y.npy"), "python objects", "never unpickles")


def test_truncated_npy(cli, tmp_path, good):
    d, _, _ = good
    data = (d / "X.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[: len(data) // 2])
    one_line_error(cli("scan", tmp_path / "cut.npy", d / "y.npy"), "truncated")


def test_corrupt_npz(cli, tmp_path, good):
    d, _, _ = good
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really a zip")
    one_line_error(cli("scan", tmp_path / "bad.npz", d / "y.npy"), "npz")


def test_missing_path_directory_unknown_extension(cli, tmp_path, good):
    d, _, _ = good
    one_line_error(cli("scan", tmp_path / "missing.npy", d / "y.npy"), "does not exist")
    one_line_error(cli("scan", tmp_path, d / "y.npy"), "is a directory")
    (tmp_path / "X.xlsx").write_text("x")
    one_line_error(cli("scan", tmp_path / "X.xlsx", d / "y.npy"), "unknown extension", ".npy")
    one_line_error(cli("scan", d / "X.npy"), "no labels given", "--label-column")


def test_length_mismatch_cli(cli, tmp_path, good):
    d, X, _ = good
    np.save(tmp_path / "y_short.npy", np.zeros(59, int))
    one_line_error(cli("scan", d / "X.npy", tmp_path / "y_short.npy"), "60 samples", "59 labels")


def test_csv_with_header_and_missing_values(cli, tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    df["label"] = np.repeat(["yes", "no"], 20)
    df.loc[5, "b"] = np.nan
    df.to_csv(tmp_path / "t.csv", index=False)
    r = cli("scan", tmp_path / "t.csv", "--label-column", "label", "--checks", FAST, "--format", "json", "-q")
    assert r.code == 0, r.err
    import json

    s = json.loads(r.out)
    assert s["dataset"]["n_samples"] == 40 and s["dataset"]["n_features"] == 3
    assert s["dataset"]["n_missing_values"] == 1
    one_line_error(cli("scan", tmp_path / "t.csv", "--label-column", "nope"), "'nope'", "label")


def test_headerless_csv_and_txt_labels(cli, tmp_path):
    rng = np.random.default_rng(0)
    np.savetxt(tmp_path / "X.csv", rng.normal(size=(30, 2)), delimiter=",")
    (tmp_path / "y.txt").write_text("\n".join(["a", "b", "c"] * 10) + "\n\n")
    r = cli("scan", tmp_path / "X.csv", tmp_path / "y.txt", "--checks", FAST, "--format", "json", "-q")
    assert r.code == 0, r.err
    import json

    assert json.loads(r.out)["dataset"]["n_samples"] == 30  # no row lost to a header guess


def test_bad_pred_probs_file(cli, tmp_path, good):
    d, _, _ = good
    np.save(tmp_path / "pp.npy", np.full((60, 2), 0.5))
    one_line_error(cli("scan", d / "X.npy", d / "y.npy", "--pred-probs", tmp_path / "pp.npy"), "shape")


def test_out_is_an_input_file(cli, good):
    d, _, _ = good
    before = (d / "X.npy").read_bytes()
    one_line_error(cli("scan", d / "X.npy", d / "y.npy", "--out", d / "X.npy"), "input file")
    assert (d / "X.npy").read_bytes() == before


def test_out_unwritable(cli, tmp_path, good):
    d, _, _ = good
    if os.geteuid() == 0:
        target = "/proc/dataaudit-out"  # even root cannot create directories here
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
        target = locked / "sub"
    one_line_error(cli("scan", d / "X.npy", d / "y.npy", "--checks", FAST, "--out", target), "--out")


def test_out_under_a_file_is_refused(cli, tmp_path, good):
    d, _, _ = good
    (tmp_path / "afile").write_text("x")
    one_line_error(cli("scan", d / "X.npy", d / "y.npy", "--checks", FAST, "--out", tmp_path / "afile" / "sub"), "--out")


def test_inputs_are_never_modified(cli, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3)).astype(np.float32)
    X[5, 1] = np.nan
    X[7] = -0.0
    y = np.repeat(np.array([" a", "b "]), 40)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    digest = {p: hashlib.sha256((tmp_path / p).read_bytes()).hexdigest() for p in ("X.npy", "y.npy")}
    r = cli("scan", tmp_path / "X.npy", tmp_path / "y.npy", "--checks", FAST, "--out", tmp_path / "out", "-q")
    assert r.code == 0, r.err
    for p, h in digest.items():
        assert hashlib.sha256((tmp_path / p).read_bytes()).hexdigest() == h
    # In Python too: the caller's arrays are untouched.
    X2, y2 = X.copy(), y.copy()
    dataaudit.scan(X, y, checks=FAST)
    assert np.array_equal(X, X2, equal_nan=True) and np.array_equal(y, y2)


def test_memmap_input_is_not_copied_by_loading(tmp_path):
    from dataaudit.io import load_features

    np.save(tmp_path / "X.npy", np.zeros((100, 8, 8), np.float32))
    X, _ = load_features(tmp_path / "X.npy")
    assert isinstance(X, np.memmap)
    report = dataaudit.scan(X, np.repeat([0, 1], 50), checks=FAST)
    assert report.summary["dataset"]["sample_shape"] == [8, 8]


def test_npz_keys_and_parquet(cli, tmp_path, good):
    d, X, y = good
    np.savez(tmp_path / "both.npz", mine=X, other=X[:3])
    one_line_error(cli("scan", tmp_path / "both.npz", d / "y.npy"), "several arrays", "--x-key")
    r = cli("scan", tmp_path / "both.npz", d / "y.npy", "--x-key", "mine", "--checks", FAST, "-q")
    assert r.code == 0, r.err
    one_line_error(cli("scan", tmp_path / "both.npz", d / "y.npy", "--x-key", "nope"), "no array 'nope'")
    df = pd.DataFrame(X, columns=list("abcd"))
    df["target"] = np.array(["x", "y", "z"])[y]
    df.to_parquet(tmp_path / "t.parquet")
    r = cli("scan", tmp_path / "t.parquet", "--label-column", "target", "--checks", FAST, "--format", "json", "-q")
    assert r.code == 0, r.err
    assert '"label": "z"' in r.out
