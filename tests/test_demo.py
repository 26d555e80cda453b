"""The README's first command: the demo data's planted problems are what the scan finds."""

import os
import runpy

import numpy as np

from dataaudit.files import scan_files

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def test_demo_scan_finds_what_the_demo_planted(tmp_path):
    make = runpy.run_path(os.path.join(EXAMPLES, "make_demo_data.py"))["make"]
    make(str(tmp_path / "demo"))
    d = tmp_path / "demo"
    truth = np.load(d / "truth.npz")
    # What `dataaudit scan X.npy y.npy --test-x ... --test-y ...` runs.
    report = scan_files(str(d / "X.npy"), str(d / "y.npy"),
                        test_x_path=str(d / "X_test.npy"), test_y_path=str(d / "y_test.npy"))
    s = report.samples
    outliers = s["is_outlier"].to_numpy(bool)
    assert (outliers == truth["outliers"]).all()
    flagged = s["is_label_issue"].to_numpy(bool)
    flipped = truth["flipped"]
    assert (flagged & flipped).sum() >= 0.8 * flipped.sum()
    assert (s["duplicate_group"].to_numpy() >= 0)[truth["duplicated"]].all()
    assert report.summary["leakage"]["n_leaked"] >= 30
