"""The neighbour graph is a protocol: the checks read any provider of its six names.

A provider written here on scikit-learn's exact search (not faiss) drives the duplicate,
leakage and outlier checks to the same planted rows as the faiss graph does.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from dataaudit.checks import REGISTRY
from dataaudit.neighbors import FaissGraph, NeighborGraph, build_neighbor_graph, standardize_params
from dataaudit.scan import build_inputs, validate


class SklearnGraph:
    """A NeighborGraph on scikit-learn's brute-force search."""

    def __init__(self, features, k):
        self._mean, self._scale = standardize_params(features)
        self._search = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(self.standardize(features))
        dist, idx = self._search.kneighbors(self.standardize(features))
        self.indices, self.distances = idx[:, 1:].astype(np.int64), dist[:, 1:].astype(np.float32)

    k = property(lambda self: self.indices.shape[1])
    scale = property(lambda self: self._scale)

    def standardize(self, features):
        return ((np.asarray(features, np.float32) - self._mean) / self._scale).astype(np.float32)

    def query(self, features, k=1):
        dist, idx = self._search.kneighbors(self.standardize(features), n_neighbors=k)
        return dist.astype(np.float32), idx.astype(np.int64)

    def info(self):
        return {"k": self.k, "method": "sklearn-brute"}


def _planted(seed=0):
    """Three classes; rows 7/8 an exact pair with different labels, row 20 far out, and the
    first five test rows copies of training rows."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], 100)
    X = (rng.normal(size=(300, 6)) + 3 * np.eye(3, 6)[y]).astype(np.float32)
    X[7] = X[8]
    y[7] = (y[8] + 1) % 3
    X[20] += 30
    X_test = np.r_[X[40:45], rng.normal(size=(20, 6)).astype(np.float32) + 9]
    y_test = np.r_[y[40:45], rng.integers(0, 3, 20)]
    return X, y, X_test, y_test


@pytest.fixture(scope="module")
def inputs():
    X, y, X_test, y_test = _planted()
    pp = np.full((len(y), 3), 1 / 3)
    request = validate(X, y, model="auto", pred_probs=pp, X_test=X_test, y_test=y_test,
                       checks="duplicates,leakage,outliers", random_state=0, options=None, progress=None)
    built, _ = build_inputs(request)
    return built


def test_both_providers_satisfy_the_protocol(inputs):
    assert isinstance(inputs.neighbors, FaissGraph) and isinstance(inputs.neighbors, NeighborGraph)
    assert isinstance(SklearnGraph(inputs.features, 10), NeighborGraph)


@pytest.mark.parametrize("check", ["duplicates", "leakage", "outliers"])
def test_checks_find_the_planted_rows_with_another_provider(inputs, check):
    other = replace(inputs, neighbors=SklearnGraph(inputs.features, inputs.neighbors.k))
    ours, theirs = REGISTRY[check].run(inputs).rows, REGISTRY[check].run(other).rows
    planted = {"duplicates": [7, 8], "leakage": [40, 41, 42, 43, 44], "outliers": [20]}[check]
    assert theirs.flag[planted].all() and ours.flag[planted].all()
    # Both are exact searches of the same standardised rows: the same rows are flagged.
    np.testing.assert_array_equal(ours.flag, theirs.flag)


def test_the_vote_and_the_graph_share_one_search(monkeypatch):
    """The record's neighbour vote searches through search.build_search, as the graph does,
    and finds rows whose label disagrees with their neighbours'."""
    from dataaudit import search
    from dataaudit.run_evidence import neighbour_votes

    calls = []
    real = search.build_search
    monkeypatch.setattr(search, "build_search", lambda *a, **kw: calls.append(kw) or real(*a, **kw))
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(400, 8)).astype(np.float32)
    y = (Z[:, 0] > 0).astype(int)
    y[:10] = 1 - y[:10]                       # ten flips, each among the other class
    votes = neighbour_votes(Z, y, 2, k=15)
    build_neighbor_graph(Z, 5)
    assert [kw.get("inner_product", False) for kw in calls] == [True, False]
    assert (votes[np.arange(10), y[:10]] < 0.5).mean() >= 0.8
    assert (votes[np.arange(10, 400), y[10:]] > 0.5).mean() >= 0.8
