"""report.html: content checks, and a real render in headless Chromium."""

import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from sklearn.datasets import load_digits

import dataaudit
from dataaudit.render.html import render


@pytest.fixture(scope="module")
def digits_report():
    digits = load_digits()
    X = digits.images[:600].astype(np.float32)
    y = digits.target[:600].astype(object)
    y = np.array([f"digit {v}" for v in y], dtype=object)
    rng = np.random.default_rng(0)
    flip = rng.choice(600, 30, replace=False)
    y[flip] = "<b>cat</b>"              # an odd label that must be escaped
    X = np.concatenate([X, X[:5]])       # conflicting exact duplicates
    y = np.concatenate([y, ["digit 9" if v != "digit 9" else "digit 1" for v in y[:5]]])
    return dataaudit.scan(X, y, checks="class_balance,label_issues,high_loss,duplicates,outliers"), flip


def test_html_content(digits_report):
    report, _ = digits_report
    page = render(report)
    for section in ("Overview", "Findings", "Distributions", "Likely mislabeled", "Duplicates with conflicting labels",
                    "Outliers", "Highest losses", "Classes and suggested class weights"):
        assert section in page
    assert f"{report.summary['dataset']['n_samples']:,}" in page
    assert str(report.summary["duplicates"]["n_conflicting_groups"]) + " groups" in page
    assert page.count("data:image/png;base64,") >= 10          # plots + thumbnails
    assert 'class="thumb"' in page
    assert "<b>cat</b>" not in page and "&lt;b&gt;cat&lt;/b&gt;" in page
    assert not re.search(r"(src|href)=[\"']?https?://", page)   # self-contained
    assert render(report) == page                                # deterministic


def test_save_writes_html(digits_report, tmp_path):
    report, _ = digits_report
    report.save(tmp_path)
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_renders_in_headless_chromium(digits_report, tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("DATAAUDIT_REQUIRE_BROWSER"):
            pytest.fail("chromium is required (DATAAUDIT_REQUIRE_BROWSER is set) but not installed")
        pytest.skip("chromium not installed")
    report, _ = digits_report
    page = tmp_path / "report.html"
    page.write_text(render(report))
    shot = tmp_path / "shot.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    proc = subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1280,1600", page.as_uri()],
                          capture_output=True, text=True, timeout=90)
    assert shot.exists(), proc.stderr[-2000:]
    # Console errors from the page's own script are logged as "CONSOLE" lines by Chromium.
    console_errors = [l for l in proc.stderr.splitlines() if "CONSOLE" in l and ("Uncaught" in l or "Error" in l)]
    assert not console_errors, console_errors
    import matplotlib.image as mpimg

    pixels = mpimg.imread(str(shot))
    assert pixels.std() > 0.05                      # not a blank page
    # The DOM was built: the sortable tables' script ran without breaking the page.
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=90).stdout
    assert "Likely mislabeled" in dom and "<table" in dom


def test_a_runs_curves_and_data_map_each_get_a_plot_of_their_own():
    import base64
    import io

    from matplotlib.image import imread
    from test_check_contract import _data, _record

    X, y, _, _, _ = _data()
    page = render(dataaudit.scan(X, y, dynamics=_record(X, y), checks="training"))
    plots = re.findall(r'<img class="plot" alt="plot" src="data:image/png;base64,([^"]+)"', page)
    # The class chart, then the curves and the data map as two figures as wide as the others.
    assert len(plots) == 3
    widths = [imread(io.BytesIO(base64.b64decode(p))).shape[1] for p in plots]
    assert min(widths[1:]) >= 0.9 * widths[0], widths
