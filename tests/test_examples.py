"""The examples run as documented and show what they claim."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_sklearn_example_weights_and_clean_data_beat_noisy_labels(capsys):
    results = _load("sklearn_example").main(noise=0.2, seed=0)
    noisy = results["noisy labels"]
    assert results["noisy labels + sample_weight"] > noisy
    assert results["clean_data (flagged dropped)"] > noisy
    assert results["true labels (for reference)"] >= max(results.values()) - 0.01
    assert "look mislabeled" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.keras
def test_keras_example_weights_beat_noisy_labels():
    pytest.importorskip("tensorflow")
    results = _load("keras_example").main(quick=True, seed=0)
    assert results["noisy labels + sample_weight"] > results["noisy labels"]


@pytest.mark.slow
def test_pipeline_step_passes_gate_and_trains(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run(["bash", str(EXAMPLES / "pipeline_step.sh"), str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "audit passed" in proc.stdout
    assert "trained on" in proc.stdout and "excluded by the audit" in proc.stdout
    report = json.loads((tmp_path / "audit.json").read_text())
    assert report["gate"]["tripped"] == []
    for name in ("report.json", "samples.csv", "sample_weight.npy", "split.npz", "report.html"):
        assert (tmp_path / "audit" / name).is_file()


@pytest.mark.slow
@pytest.mark.keras
def test_keras_callback_example_finds_the_flips_from_the_run_and_its_weights_help(capsys):
    pytest.importorskip("tensorflow")
    import re

    results = _load("keras_callback_example").main(quick=True, seed=1, rounds=1)
    flagged, hits, flipped = map(int, re.search(r"flagged (\d+) \((\d+) of the (\d+) flipped\)",
                                                capsys.readouterr().out).groups())
    assert hits / flipped >= 0.85 and hits / flagged >= 0.9  # planted noise found from the run alone
    assert results["noisy labels + sample_weight (round 1)"] > results["noisy labels"]
