"""Shared fixtures: small datasets with planted problems, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from dataaudit.cli import main

# Keep threaded libraries from oversubscribing the 2-core CI machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def imbalanced_with_conflicts():
    """2000 samples, classes 95/4/1, 10 exact duplicate pairs of which 5 carry different labels."""
    rng = np.random.default_rng(0)
    n = 2000
    X = rng.normal(size=(n, 8)).astype(np.float32)
    y = np.r_[np.zeros(1900, int), np.ones(80, int), np.full(20, 2)]
    X[1000:1010] = X[0:10]          # 10 exact copies of rows 0..9 (all class 0)
    y[1005:1010] = 1                 # 5 of the copies disagree
    return X, y


class CliResult:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process: ``cli("scan", x, y, ...)`` -> CliResult(code, stdout, stderr)."""

    def run(*args):
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def cli_subprocess():
    """Run the installed console entry point in a fresh interpreter (tracebacks would show here)."""

    def run(*args, timeout=300):
        proc = subprocess.run(
            [sys.executable, "-m", "dataaudit.cli", *map(str, args)],
            capture_output=True, text=True, timeout=timeout,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run
