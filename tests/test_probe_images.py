"""Pictures: the probe reads real images through their views, whatever their array form.

The images are KMNIST's (bench/data/kmnist): real pictures, not copies of a few originals.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import dataaudit
from dataaudit import probe
from dataaudit.probe.images import Geometry, hog, image_geometry, view

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KMNIST = os.path.join(ROOT, "bench", "data", "kmnist")


def _kmnist(n):
    X = np.load(os.path.join(KMNIST, "kmnist-test-imgs.npz"), allow_pickle=False)["arr_0"][:n]
    y = np.load(os.path.join(KMNIST, "kmnist-test-labels.npz"), allow_pickle=False)["arr_0"][:n].astype(np.int64)
    return X, y


def _flipped(y, rate=0.1, seed=0):
    rng = np.random.default_rng(seed)
    flipped = rng.random(len(y)) < rate
    noisy = np.where(flipped, (y + rng.integers(1, 10, len(y))) % 10, y)
    return noisy, flipped


def test_hog_is_scikit_images_descriptor():
    skimage = pytest.importorskip("skimage.feature")
    X, _ = _kmnist(20)
    grey = X.astype(np.float32) / 255
    for cell in (4, 7):
        theirs = np.stack([skimage.hog(im, orientations=9, pixels_per_cell=(cell, cell), cells_per_block=(2, 2))
                           for im in grey])
        np.testing.assert_allclose(hog(grey[..., None], cell), theirs, atol=1e-5)
    colour = np.random.default_rng(0).random((5, 32, 32, 3)).astype(np.float32)
    theirs = np.stack([skimage.hog(im, pixels_per_cell=(8, 8), cells_per_block=(2, 2), channel_axis=-1)
                       for im in colour])
    np.testing.assert_allclose(hog(colour, 8), theirs, atol=1e-5)


def test_pictures_are_told_from_tables_by_their_content():
    X, _ = _kmnist(300)
    flat = X.reshape(len(X), -1).astype(np.float32)
    expected = Geometry(28, 28, 1)
    assert image_geometry((784,), flat) == expected
    assert image_geometry((28, 28), flat) == expected
    assert image_geometry((28, 28, 1), flat) == expected
    assert image_geometry((1, 28, 28), flat) == Geometry(28, 28, 1, channels_first=True)
    # The same values with their columns shuffled are no picture, nor is a 784-wide embedding.
    shuffled = flat[:, np.random.default_rng(0).permutation(784)]
    assert image_geometry((784,), shuffled) is None
    assert image_geometry((784,), np.random.default_rng(1).normal(size=(300, 784))) is None
    # An 8 x 8 digit stays a table of 64 features.
    assert image_geometry((8, 8), np.random.default_rng(2).random((50, 64))) is None


def test_colour_pictures_read_channels_last_and_first():
    from scipy.ndimage import zoom

    X, _ = _kmnist(100)
    rgb = np.repeat(zoom(X.astype(np.float32), (1, 32 / 28, 32 / 28), order=1)[..., None], 3, axis=-1)
    assert image_geometry((3072,), rgb.reshape(100, -1)) == Geometry(32, 32, 3)
    first = rgb.transpose(0, 3, 1, 2).reshape(100, -1)
    assert image_geometry((3, 32, 32), first) == Geometry(32, 32, 3, channels_first=True)
    # Both layouts give the same views.
    last_view = view("hog8", rgb.reshape(100, -1), Geometry(32, 32, 3))
    np.testing.assert_allclose(view("hog8", first, Geometry(32, 32, 3, channels_first=True)), last_view)


def test_the_plan_reads_pictures_only_when_the_rows_are_pictures():
    X, y = _kmnist(2_000)
    counts = np.bincount(y)
    pictures = probe.make_plan("auto", counts, (28, 28), sample=X.reshape(len(X), -1))
    assert pictures.members == probe.IMAGE_ENSEMBLE and pictures.passes == 1
    assert set(pictures.views) == {"blurred", "hog7", "hog4"}
    table = probe.make_plan("auto", counts, (784,), sample=np.random.default_rng(0).normal(size=(2_000, 784)))
    assert table.geometry is None and not table.views


def test_planted_flips_in_real_images_are_found_in_every_array_form():
    X, y = _kmnist(3_000)
    noisy, flipped = _flipped(y)
    flags = []
    for form in (X, X.reshape(len(X), -1), X[..., None]):
        report = dataaudit.scan(form, noisy, checks="label_issues", random_state=0)
        assert report.summary["probe"]["model"] == "image ensemble"
        flags.append(report.samples["is_label_issue"].to_numpy(bool))
    np.testing.assert_array_equal(flags[0], flags[1])
    np.testing.assert_array_equal(flags[0], flags[2])
    tp = (flags[0] & flipped).sum()
    precision, recall = tp / flags[0].sum(), tp / flipped.sum()
    # PCA + kNN on the pixels, then cleanlab, reaches F1 0.79 on these 3,000 images.
    assert 2 * precision * recall / (precision + recall) > 0.85, (precision, recall)


def test_pictures_given_flat_or_channels_first_get_thumbnails_in_the_html_report():
    from dataaudit.render.html import render

    X, y = _kmnist(1_000)
    noisy, _ = _flipped(y, seed=3)
    for form in (X.reshape(len(X), -1), X[:, None, :, :]):
        page = render(dataaudit.scan(form, noisy, checks="label_issues", random_state=0))
        assert page.count('<img class="thumb"') >= 10
    # Rows that are no pictures get none.
    table = np.random.default_rng(0).normal(size=(1_000, 784)).astype(np.float32)
    assert '<img class="thumb"' not in render(dataaudit.scan(table, noisy, checks="label_issues", random_state=0))
