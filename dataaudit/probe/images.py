"""Images as the probe sees them: whether rows are pictures, and the views a picture gives.

A row is a picture when its values, laid out on its grid, change little from one pixel to the
next (:func:`image_geometry`); the same test reads the grid from an image-shaped array and from
the same images flattened, so ``(n, 784)``, ``(n, 28, 28)`` and ``(n, 28, 28, 1)`` get the same
probe. A picture's *views* are per-row transforms fixed in advance (nothing is fitted, so they
are computed once for every fold): the pixels blurred by a Gaussian of one pixel (a stroke
shifted by a pixel stays near itself) and histograms of oriented gradients on two grids of
cells (:func:`hog`, scikit-image's descriptor computed for a batch at once: stroke directions,
which separate handwritten shapes that raw pixel distances confuse). Why these:
docs/benchmarks.md, "Images and other wide inputs".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..utils import chunk_rows

#: Rows read by the picture test (evenly spaced).
TEST_ROWS = 500
#: A picture's neighbouring pixels differ by at most this share of what two pixels drawn at
#: random from the same row differ by (:func:`smoothness`: KMNIST 0.36, upsampled digits 0.19,
#: 32 x 32 patches of scikit-learn's sample photos 0.22; a 484-wide embedding laid on 22 x 22 1.00).
SMOOTHNESS_MAX = 0.7
#: Sides shorter than this are not read as a picture (an 8 x 8 digit is a table of 64 features).
MIN_SIDE = 12
CHANNELS = (1, 3, 4)
#: Standard deviation, in pixels, of the blur of the blurred view.
BLUR_SIGMA = 1.0
#: Cells per side of the two HOG grids (7: cells of 4 pixels on 28 x 28; 4: cells of 7), with
#: 9 orientations in blocks of 2 x 2 cells (scikit-image's defaults but the cell size).
HOG_GRIDS = (7, 4)
HOG_ORIENTATIONS = 9
HOG_EPS = 1e-5
VIEWS = ("blurred", *(f"hog{g}" for g in HOG_GRIDS))


@dataclass(frozen=True)
class Geometry:
    """How a row's values lie on a picture: ``height x width x channels``, stored
    channels-last, or channels-first (``(c, h, w)``, as PyTorch keeps images)."""

    height: int
    width: int
    channels: int = 1
    channels_first: bool = False

    def pictures(self, rows: np.ndarray) -> np.ndarray:
        """Flat rows as ``(m, height, width, channels)`` float32 pictures."""
        rows = np.asarray(rows, np.float32)
        if self.channels_first:
            return rows.reshape(len(rows), self.channels, self.height, self.width).transpose(0, 2, 3, 1)
        return rows.reshape(len(rows), self.height, self.width, self.channels)


def _candidates(sample_shape: tuple) -> list[Geometry]:
    """The layouts a sample shape can be: as given, or for a flat row a square grey or colour picture."""
    shape = tuple(int(s) for s in sample_shape)
    if len(shape) == 2:
        return [Geometry(*shape)]
    if len(shape) == 3:
        out = []
        if shape[2] in CHANNELS:
            out.append(Geometry(shape[0], shape[1], shape[2]))
        if shape[0] in CHANNELS:
            out.append(Geometry(shape[1], shape[2], shape[0], channels_first=True))
        return out
    if len(shape) == 1:
        out = []
        for c in CHANNELS:
            side = int(round(np.sqrt(shape[0] / c)))
            if side * side * c == shape[0]:
                out += [Geometry(side, side, c)] + ([Geometry(side, side, c, channels_first=True)] if c > 1 else [])
        return out
    return []


def smoothness(pictures: np.ndarray, seed: int = 0) -> float:
    """Mean |difference| of neighbouring pixels over that of pixels paired at random in the same
    row: near 0 for a smooth picture, about 1 when the layout is not the data's.

    Examples
    --------
    >>> ramp = np.tile(np.arange(16.0), (3, 16, 1))[..., None]     # three 16 x 16 ramps
    >>> bool(smoothness(ramp) < 0.2), bool(smoothness(np.random.default_rng(0).random((3, 16, 16, 1))) > 0.8)
    (True, True)
    """
    m = len(pictures)
    flat = pictures.reshape(m, -1)
    near = (np.abs(np.diff(pictures, axis=1)).mean() + np.abs(np.diff(pictures, axis=2)).mean()) / 2
    shuffled = flat[:, np.random.default_rng(seed).permutation(flat.shape[1])]
    far = np.abs(flat - shuffled).mean()
    return float(near / far) if far > 0 else 1.0


def image_geometry(sample_shape: tuple, features: np.ndarray | None) -> Geometry | None:
    """The picture layout of these rows, or None when they are not pictures.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> blobs = np.cumsum(np.cumsum(rng.normal(size=(50, 20, 20)), 1), 2)   # smooth 20 x 20 fields
    >>> image_geometry((20, 20), blobs.reshape(50, -1)) == image_geometry((400,), blobs.reshape(50, -1))
    True
    >>> image_geometry((400,), rng.normal(size=(50, 400))) is None
    True
    """
    if features is None or len(features) == 0:
        return None
    step = max(1, len(features) // TEST_ROWS)
    rows = np.asarray(features[::step][:TEST_ROWS], np.float32).reshape(-1, int(np.prod(sample_shape)))
    best, best_score = None, SMOOTHNESS_MAX
    for geometry in _candidates(sample_shape):
        if min(geometry.height, geometry.width) < MIN_SIDE:
            continue
        score = smoothness(geometry.pictures(rows))
        if score < best_score:
            best, best_score = geometry, score
    return best


def views(names: tuple[str, ...], features: np.ndarray, geometry: Geometry) -> dict[str, np.ndarray]:
    """Views ``names`` (``"blurred"``, ``"hogN"``: HOG on N cells per side) of every row, float32,
    all in one pass over the rows in chunks (each chunk laid out as pictures once)."""
    n = len(features)
    out: dict[str, np.ndarray] = {}
    step = chunk_rows(features.shape[1])
    for s in range(0, n, step):
        pictures = geometry.pictures(features[s:s + step])
        for name in names:
            block = _view_of(name, pictures, geometry)
            if name not in out:
                out[name] = np.empty((n, block.shape[1]), np.float32)
            out[name][s:s + step] = block
    return out


def view(name: str, features: np.ndarray, geometry: Geometry) -> np.ndarray:
    """One view of every row (see :func:`views`)."""
    return views((name,), features, geometry)[name]


def _view_of(name: str, pictures: np.ndarray, geometry: Geometry) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    if name == "blurred":
        return gaussian_filter(pictures, sigma=(0, BLUR_SIGMA, BLUR_SIGMA, 0)).reshape(len(pictures), -1)
    if name.startswith("hog"):
        return hog(pictures, max(2, min(geometry.height, geometry.width) // int(name[3:])))
    raise ValueError(f"unknown view {name!r}")


def hog(pictures: np.ndarray, cell: int, orientations: int = HOG_ORIENTATIONS) -> np.ndarray:
    """Histograms of oriented gradients of ``(m, h, w, c)`` pictures, ``(m, features)`` float32.

    The same numbers as scikit-image's ``skimage.feature.hog(image, orientations,
    pixels_per_cell=(cell, cell), cells_per_block=(2, 2), channel_axis=...)`` (L2-Hys blocks; for
    colour, each pixel's gradient from the channel where it is largest), computed for a whole
    batch at once: scikit-image's loops over pictures took 41 s for 60,000 28 x 28 pictures,
    this 4 s (tests/test_probe_images.py compares the two).

    Examples
    --------
    >>> hog(np.zeros((2, 16, 16, 1)), 4).shape
    (2, 324)
    """
    p = np.asarray(pictures, np.float32)
    m, h, w, c = p.shape
    rows, cols = h // cell, w // cell
    g_row, g_col = np.zeros_like(p), np.zeros_like(p)
    g_row[:, 1:-1] = p[:, 2:] - p[:, :-2]
    g_col[:, :, 1:-1] = p[:, :, 2:] - p[:, :, :-2]
    magnitude = np.hypot(g_row, g_col)
    if c > 1:
        strongest = magnitude.argmax(axis=3)[..., None]
        g_row, g_col, magnitude = (np.take_along_axis(a, strongest, 3) for a in (g_row, g_col, magnitude))
    g_row, g_col, magnitude = (a[:, :rows * cell, :cols * cell, 0] for a in (g_row, g_col, magnitude))
    orientation = np.rad2deg(np.arctan2(g_row, g_col)) % 180
    bins = np.minimum((orientation // (180.0 / orientations)).astype(np.int64), orientations - 1)
    cell_of = (np.arange(rows * cell) // cell)[:, None] * cols + (np.arange(cols * cell) // cell)[None, :]
    index = (np.arange(m)[:, None, None] * (rows * cols) + cell_of[None]) * orientations + bins
    cells = np.bincount(index.ravel(), weights=magnitude.ravel(), minlength=m * rows * cols * orientations)
    cells = cells.reshape(m, rows, cols, orientations) / (cell * cell)
    # Blocks of 2 x 2 cells, each normalised (L2), clipped at 0.2 and normalised again (L2-Hys).
    blocks = np.stack([np.stack([cells[:, i:i + rows - 1, j:j + cols - 1] for j in range(2)], axis=3)
                       for i in range(2)], axis=3).reshape(m, rows - 1, cols - 1, -1)
    for clip in (0.2, None):
        blocks = blocks / np.sqrt((blocks**2).sum(axis=-1, keepdims=True) + HOG_EPS**2)
        if clip is not None:
            blocks = np.minimum(blocks, clip)
    return blocks.reshape(m, -1).astype(np.float32)


__all__ = ["Geometry", "VIEWS", "hog", "image_geometry", "smoothness", "view", "views"]
