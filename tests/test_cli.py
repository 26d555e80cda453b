"""The command line: planted problems end to end, JSON output, files, gate and exit codes."""

import json
import os

import numpy as np
import pytest

CONTRACT_COLUMNS = {"label", "duplicate_group", "is_exact_duplicate", "is_conflicting_duplicate", "sample_weight"}


@pytest.fixture
def npy_files(tmp_path, imbalanced_with_conflicts):
    X, y = imbalanced_with_conflicts
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    return tmp_path / "X.npy", tmp_path / "y.npy"


def test_scan_npy_reports_planted_problems(cli, npy_files):
    x, y = npy_files
    r = cli("scan", x, y, "--checks", "class_balance,duplicates", "--format", "json")
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    for key in ("schema_version", "dataset", "findings", "class_balance", "duplicates"):
        assert key in summary
    assert summary["dataset"]["n_samples"] == 2000
    assert {c["label"]: c["count"] for c in summary["dataset"]["classes"]} == {0: 1895, 1: 85, 2: 20}
    assert summary["duplicates"]["n_conflicting_groups"] == 5
    for f in summary["findings"]:
        assert set(f) == {"check", "severity", "count", "message", "advice"}
    checks = {f["check"] for f in summary["findings"]}
    assert {"class_balance", "duplicates"} <= checks


def test_text_output_and_progress_on_stderr(cli, npy_files):
    x, y = npy_files
    r = cli("scan", x, y, "--checks", "class_balance,duplicates")
    assert r.code == 0
    text = " ".join(r.out.replace("│", " ").split())
    assert "imbalanced" in text and "identical samples" in text.replace("near-identical", "identical")
    assert "dataaudit:" in r.err  # progress goes to stderr, never stdout
    assert "dataaudit: check" not in r.out


def test_out_dir_files(cli, npy_files, tmp_path):
    x, y = npy_files
    out = tmp_path / "audit"
    r = cli("scan", x, y, "--checks", "class_balance,duplicates", "--out", out, "--format", "json", "-q")
    assert r.code == 0, r.err
    names = set(os.listdir(out))
    assert {"report.json", "samples.csv", "sample_weight.npy", "split.npz"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    saved = json.loads((out / "report.json").read_text())
    assert saved == json.loads(r.out)
    # Where the time went, beside the report and not in it (report.json stays the same per seed).
    timings = json.loads((out / "timings.json").read_text())
    stages = [s["stage"] for s in timings["stages"]]
    assert stages[0] == "validate" and {"neighbors", "check: class_balance", "check: duplicates"} <= set(stages)
    assert all(s["seconds"] >= 0 and s["peak_rss_mb"] > 0 for s in timings["stages"])
    assert timings["total_seconds"] >= sum(s["seconds"] for s in timings["stages"]) - 0.01
    assert "timings" not in saved and "total_seconds" not in (out / "report.json").read_text()
    import pandas as pd

    samples = pd.read_csv(out / "samples.csv")
    assert len(samples) == 2000 and CONTRACT_COLUMNS <= set(samples.columns)
    w = np.load(out / "sample_weight.npy")
    assert w.shape == (2000,) and np.isfinite(w).all()
    split = np.load(out / "split.npz")
    assert set(split.files) == {"train", "val", "excluded"}
    assert r.err == ""  # -q: nothing on stderr


def test_existing_out_dir_keeps_other_files(cli, npy_files, tmp_path):
    x, y = npy_files
    out = tmp_path / "audit"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "report.json").write_text("old")
    r = cli("scan", x, y, "--checks", "duplicates", "--out", out, "-q")
    assert r.code == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "report.json").read_text())["schema_version"]


def test_gate_trips_with_exit_1(cli, npy_files):
    x, y = npy_files
    r = cli("scan", x, y, "--checks", "duplicates", "--fail-on", "conflicting_duplicates>0", "--format", "json", "-q")
    assert r.code == 1
    gate = json.loads(r.out)["gate"]
    assert gate["passed"] is False and gate["tripped"][0]["metric"] == "conflicting_duplicates"
    r = cli("scan", x, y, "--checks", "duplicates", "--fail-on", "conflicting_duplicates>0.5", "-q")
    assert r.code == 0


@pytest.mark.parametrize(
    "gate, needle",
    [("nonsense", "not of the form"), ("no_such_metric>1", "unknown metric"), ("imbalance_ratio>3", "add it to --checks")],
)
def test_bad_gate_is_a_usage_error(cli, npy_files, gate, needle):
    x, y = npy_files
    r = cli("scan", x, y, "--checks", "duplicates", "--fail-on", gate)
    assert r.code == 2
    assert needle in r.err and len(r.err.strip().splitlines()) == 1


def test_unknown_check_and_missing_file(cli, npy_files, tmp_path):
    x, y = npy_files
    r = cli("scan", x, y, "--checks", "spelling")
    assert r.code == 2 and "unknown check 'spelling'" in r.err
    r = cli("scan", tmp_path / "nope.npy", y)
    assert r.code == 2 and "does not exist" in r.err


def test_same_seed_same_report(cli, npy_files, tmp_path):
    x, y = npy_files
    for name in ("a", "b"):
        assert cli("scan", x, y, "--out", tmp_path / name, "--seed", "3", "-q").code == 0
    assert (tmp_path / "a" / "report.json").read_bytes() == (tmp_path / "b" / "report.json").read_bytes()
    assert (tmp_path / "a" / "sample_weight.npy").read_bytes() == (tmp_path / "b" / "sample_weight.npy").read_bytes()


def test_console_script_no_traceback(cli_subprocess, tmp_path):
    (tmp_path / "X.npy").write_bytes(b"\x93NUMPY garbage")
    r = cli_subprocess("scan", tmp_path / "X.npy", tmp_path / "X.npy")
    assert r.code == 2
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1


def test_version(cli):
    r = cli("--version")
    assert r.code == 0 and r.out.startswith("dataaudit ")
