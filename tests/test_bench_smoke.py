"""The benchmark suite in quick mode: a correctness smoke test (no timing assertions)."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_bench_quick_runs_every_suite():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick"], cwd=ROOT, capture_output=True, text=True, timeout=900, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "not written yet" not in proc.stderr
    # Every suite printed its section and a table with at least one row of figures.
    for title in ("Detection quality per planted issue", "Outliers by kind", "Speed and memory at scale",
                  "Downstream: training with dataaudit's weights and cleaned data",
                  "The training doctor: the forum's symptoms, reproduced",
                  "Training dynamics: the user's own Keras run as evidence", "Images and other wide inputs"):
        assert f"## {title}" in proc.stdout, title
    rows = [line for line in proc.stdout.splitlines() if line.startswith("|") and not set(line) <= set("|-: ")]
    assert len(rows) >= 14, rows
