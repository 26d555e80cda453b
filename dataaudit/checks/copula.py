"""The outliers' copula view, as pure functions: a row whose every value is plausible but whose
combination is not (a row pieced together from different records) is far, in Mahalanobis
distance, from the rows' correlation of normal scores (a Gaussian copula).

:func:`copula_knots` gives each feature's empirical CDF (atoms as ties), :func:`normal_scores`
maps values through it, :func:`copula_whitening` fits the shrunk correlation, and
:func:`robust_z_of_cube` turns the squared distances into robust z scores.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri
from sklearn.covariance import ShrunkCovariance

#: The interquartile range of a standard normal: IQR / NORMAL_IQR estimates a standard deviation.
NORMAL_IQR = 1.349
#: Copula view: flagged above COPULA_FACTOR * sqrt(2 ln n) robust z of cbrt(d^2) (Wilson-Hilferty)...
COPULA_FACTOR = 1.5
#: ...with d^2 under the correlation plus RIDGE * I (the threshold was calibrated with it)...
RIDGE = 0.03
#: ...values within SNAP robust scales of an atom (a value held by ATOM_SHARE of the rows) count as it...
SNAP, ATOM_SHARE = 0.05, 0.01
#: ...features with an atom above MAX_ATOM of the rows left out; CDF knots per feature...
MAX_ATOM, COPULA_KNOTS = 0.95, 256
#: ...and at least this many fitted rows per feature (a noisier correlation is no reference).
ROWS_PER_FEATURE = 5


def copula_knots(sample: np.ndarray, width: np.ndarray):
    """Per feature, knots ``(x, F)`` of the sample's empirical CDF for :func:`normal_scores`,
    and the share of the rows within ``width`` of the feature's most common value.

    ``COPULA_KNOTS`` knots evenly spaced in normal scores (fine in the tails), plus every atom
    (a value held by ``ATOM_SHARE`` of the rows) as a flat band ``a +- width`` at the atom's
    mid-rank: an atom is a tie, not a spread of ranks, and jitter of ``width`` does not move a
    row off it. (scikit-learn's ``QuantileTransformer`` is not used: it sends every value equal
    to the sample's minimum or maximum to the extreme rank even when that value holds most
    rows, so a sparse pixel at 0 or a count at 0 would score -5 in half the rows; and it clips
    at 1e-7 instead of half a rank.)

    Examples
    --------
    >>> S = np.r_[np.zeros(800), np.arange(1.0, 201)][:, None]    # 80% zeros
    >>> knots, share = copula_knots(S, np.array([0.05]))
    >>> z = normal_scores(np.array([[0.0], [0.01], [100.0], [500.0]]), knots, [0], len(S))
    >>> ndtr(z.astype(float)).round(4).ravel().tolist(), share.tolist()   # 0 at its mid-rank
    ([0.4, 0.4, 0.8995, 0.9995], [0.8])
    """
    S = np.sort(sample, axis=0)
    m = len(S)
    z_max = float(ndtri(1 - 0.5 / m))
    idx = np.unique(np.clip(np.round(ndtr(np.linspace(-z_max, z_max, COPULA_KNOTS)) * m - 0.5).astype(int), 0, m - 1))
    p = (idx + 0.5) / m
    knots, share = [], np.zeros(S.shape[1])
    for j, col in enumerate(S.T):
        w = width[j]
        values, counts = np.unique(col, return_counts=True)
        atoms = values[counts >= ATOM_SHARE * m]
        lo, hi = np.searchsorted(col, atoms - w, "left"), np.searchsorted(col, atoms + w, "right")
        mid = (lo + hi) / (2.0 * m)
        share[j] = ((hi - lo) / m).max() if len(atoms) else 0.0
        x = col[idx]
        keep = ~(np.abs(x[:, None] - atoms[None, :]) <= w).any(axis=1)
        xp = np.concatenate([x[keep], atoms - w, atoms, atoms + w])
        fp = np.concatenate([p[keep], mid, mid, mid])
        order = np.lexsort((fp, xp))
        xp, fp = xp[order], fp[order]
        first = np.r_[True, np.diff(xp) > 0]
        knots.append((xp[first], np.maximum.accumulate(fp[first])))
    return knots, share


def normal_scores(block: np.ndarray, knots, cols, m: int) -> np.ndarray:
    """``Phi^-1`` of the empirical CDF (:func:`copula_knots`) of the features ``cols``,
    clipped at half a rank of the ``m`` sample rows, as float32."""
    F = np.empty((len(block), len(cols)))
    for t, j in enumerate(cols):
        F[:, t] = np.interp(block[:, j], *knots[j])
    return ndtri(np.clip(F, 0.5 / m, 1 - 0.5 / m)).astype(np.float32)


def copula_whitening(scores: np.ndarray):
    """``(mu, W)`` such that ``||(g - mu) @ W||^2`` is the Mahalanobis distance of normal scores
    ``g`` under the rows' correlation shrunk towards the identity (``R + RIDGE * I``, up to a
    constant factor), each feature divided by ``max(sd, 1)``: a feature with ties (sd < 1) does
    not weigh more than a continuous one.

    A fixed shrinkage, not Ledoit-Wolf's: its data-driven intensity nears 0 on large samples,
    where near-collinear features (radius, perimeter, area) would then make ordinary rows
    extreme; the threshold was calibrated with RIDGE.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(5000, 1))
    >>> mu, W = copula_whitening(np.c_[z, z + 0.2 * rng.normal(size=(5000, 1))])
    >>> d2 = (((np.array([[1.0, 1.0], [1.0, -1.0]]) - mu) @ W) ** 2).sum(axis=1)
    >>> bool(d2[1] > 20 * d2[0])      # the same distances, against the correlation
    True
    """
    scores = np.asarray(scores, dtype=np.float64)
    mu, sd = scores.mean(axis=0), scores.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    fit = ShrunkCovariance(shrinkage=RIDGE / (1 + RIDGE), assume_centered=True).fit((scores - mu) / sd)
    W = np.linalg.cholesky(fit.precision_) / np.maximum(sd, 1.0)[:, None]
    return mu.astype(np.float32), W.astype(np.float32)


def robust_z_of_cube(d2: np.ndarray) -> np.ndarray:
    """Robust z (median, IQR) of ``cbrt(d2)``, which is about normal for chi-square-like d2
    (Wilson and Hilferty); zeros when the spread is 0 (most rows alike: no reference).

    Examples
    --------
    >>> np.round(robust_z_of_cube(np.array([1.0, 8.0, 27.0, 64.0, 1000.0])), 2).tolist()
    [-1.35, -0.67, 0.0, 0.67, 4.72]
    """
    c = np.cbrt(d2)
    return robust_z(c, *np.quantile(c, [0.25, 0.5, 0.75]))


def robust_z(c: np.ndarray, q1: float, median: float, q3: float) -> np.ndarray:
    """``(c - median) / (IQR / NORMAL_IQR)`` with the quartiles given (of every row, merged over
    blocks for example); zeros when the spread is 0."""
    spread = (q3 - q1) / NORMAL_IQR
    return (c - median) / spread if spread > 0 else np.zeros_like(c)


__all__ = ["copula_knots", "copula_whitening", "normal_scores", "robust_z", "robust_z_of_cube"]
