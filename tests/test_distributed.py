"""The audit on a Dask cluster against the same audit in one process.

The mergeable math (confident learning, quantiles, dealt folds) is checked over numpy blocks
without Dask; the scan itself on a LocalCluster of 2 single-threaded workers, with the rows in
several partitions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from dataaudit.blocks import LocalBlocks, quantiles
from dataaudit.confident import find_issues, find_issues_merged
from dataaudit.rowfolds import deal_folds

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _noisy_probs(rng, n, k):
    labels = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) * rng.uniform(0.5, 3)
    logits[np.arange(n), labels] += rng.uniform(0, 2)
    p = np.exp(logits)
    return labels, p / p.sum(axis=1, keepdims=True)


def _split(rng, n, most=8):
    cuts = np.sort(rng.choice(np.arange(1, n), size=int(rng.integers(0, most)), replace=False))
    return np.split(np.arange(n), cuts)


@pytest.mark.parametrize("seed", range(6))
def test_confident_learning_from_merged_summaries_equals_cleanlab(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 7))
    labels, probs = _noisy_probs(rng, int(rng.integers(200, 3000)), k)
    if seed % 3 == 0:  # a class absent from the labels
        labels[labels == k - 1] = 0
    parts = _split(rng, len(labels))
    merged = np.concatenate(find_issues_merged(LocalBlocks([(labels[i], probs[i]) for i in parts]), k))
    expected = find_issues(labels, probs)
    assert expected.sum() > 0
    assert np.array_equal(merged, expected)


def test_quantiles_over_blocks_are_numpys():
    rng = np.random.default_rng(3)
    values = np.round(rng.normal(size=2001), 2)  # ties
    values[rng.random(2001) < 0.05] = np.nan
    qs = [0, 0.25, 0.5, 0.75, 0.9, 0.99, 1]
    blocks = LocalBlocks([(values[i],) for i in _split(rng, len(values))])
    assert np.array_equal(quantiles(blocks, qs), np.nanquantile(values, qs))


def test_dealt_folds_are_stratified_and_the_same_for_any_blocks():
    rng = np.random.default_rng(0)
    labels = rng.choice(3, size=1000, p=[0.7, 0.25, 0.05])
    whole = deal_folds(labels, 5, 7)
    for c in range(3):
        per_fold = np.bincount(whole[labels == c], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1
    before = np.zeros(3, np.int64)
    pieces = []
    for idx in _split(rng, len(labels)):
        pieces.append(deal_folds(labels[idx], 5, 7, n_classes=3, before=before.copy()))
        before += np.bincount(labels[idx], minlength=3)
    assert np.array_equal(np.concatenate(pieces), whole)
    assert not np.array_equal(deal_folds(labels, 5, 8), whole)  # the seed deals differently


def test_a_small_cell_still_measures_its_rows():
    from dataaudit.distributed.cells import _cell_stats
    from dataaudit.distributed.outliers import _knn_view
    from dataaudit.search import drop_self

    rng = np.random.default_rng(0)
    Z = (12 * np.sign(rng.normal(size=(5, 8)))).astype(np.float32)  # rows far from the rest, in a cell of 5
    d2 = ((Z[:, None] - Z[None]) ** 2).sum(axis=2)
    order = np.argsort(d2, axis=1)
    local, dist = drop_self(order, np.sqrt(np.take_along_axis(d2, order, axis=1)))
    stats = _cell_stats(np.arange(5), Z, local, dist, np.arange(5), k=10)
    assert np.isfinite(stats["reach"]).all() and (stats["reach"] > 20).all()
    assert np.isnan(stats["inv_dim"]).all()  # a partial neighbourhood says nothing of the dimension
    alone = _cell_stats(np.arange(1), Z[:1], np.zeros((1, 0), int), np.zeros((1, 0)), np.arange(1), k=10)
    assert np.isnan(alone["reach"]).all()
    view = _knn_view(np.zeros((1, 5)), np.array([[np.nan, np.nan]]), Z[:1], 3.3, 6.0, np.zeros(0))
    assert view[0, 0] == 0.0  # no neighbour: no kNN verdict, and no NaN to hide the other views


# ----------------------------------------------------------------------------- on a LocalCluster

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=50)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def planted():
    from bench.common import flip_labels, make_tabular

    X, y = make_tabular(20_000, 16, 3, seed=0)
    noisy, flipped = flip_labels(y, 0.1, "symmetric", seed=0)
    return X.astype(np.float32), noisy, flipped


def test_cluster_scan_gives_one_process_verdicts(client, planted):
    import dask.array as da
    import dask.dataframe as dd

    import dataaudit

    X, y, flipped = planted
    checks = "class_balance,label_issues,high_loss"
    local = dataaudit.scan(X, y, model="hgb", checks=checks)
    remote = dataaudit.scan(da.from_array(X, chunks=(4_000, 16)), da.from_array(y, chunks=3_000), model="hgb",
                            checks=checks, client=client)
    assert isinstance(remote.samples, dd.DataFrame)
    assert remote.summary["cluster"]["partitions"] == 5
    flags = remote.samples["is_label_issue"].compute().to_numpy()
    assert np.array_equal(flags, local.samples["is_label_issue"].to_numpy())
    assert flags[flipped].mean() > 0.8  # the planted flips are found
    for key in ("class_balance", "label_issues", "high_loss", "metrics"):
        assert json.dumps(remote.summary[key], sort_keys=True) == json.dumps(local.summary[key], sort_keys=True), key
    assert remote.summary["probe"]["passes"] == local.summary["probe"]["passes"] == 2
    weights = remote.sample_weight()
    assert isinstance(weights, da.Array)
    assert np.allclose(weights.compute(), local.sample_weight())
    columns = remote.samples.compute()
    for name in ("label", "predicted_label", "suggested_label", "label_quality", "loss", "is_high_loss"):
        assert np.array_equal(columns[name].to_numpy(), local.samples[name].to_numpy()), name


def test_cluster_report_files(client, planted, tmp_path):
    import pandas as pd

    import dataaudit

    X, y, _ = planted
    report = dataaudit.scan(X[:6000], y[:6000], model="logistic", checks="label_issues", client=client)
    written = report.save(tmp_path)
    names = sorted(os.path.basename(p) for p in written)
    assert names == ["report.html", "report.json", "sample_weight.npy", "samples.parquet", "split.npz", "timings.json"]
    page = (tmp_path / "report.html").read_text()
    worst = report.summary["label_issues"]["worst"][0]
    assert f"Likely mislabeled ({report.summary['label_issues']['n_label_issues']})" in page
    assert f">{worst['index']}<" in page and f">{worst['label_quality']:.4g}<" in page
    table = pd.read_parquet(tmp_path / "samples.parquet")
    assert table.index.tolist() == list(range(6000))
    assert np.array_equal(table["is_label_issue"].to_numpy(), report.samples["is_label_issue"].compute().to_numpy())
    assert np.allclose(np.load(tmp_path / "sample_weight.npy"), report.sample_weight().compute())
    split = np.load(tmp_path / "split.npz")
    together = np.sort(np.concatenate([split["train"], split["val"], split["excluded"]]))
    assert np.array_equal(together, np.arange(6000))
    assert np.array_equal(np.sort(split["excluded"]), np.flatnonzero(table["is_label_issue"].to_numpy()))
    assert 0.18 < len(split["val"]) / (len(split["train"]) + len(split["val"])) < 0.22
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".dataaudit")]  # no temporary left


def test_cluster_scan_runs_every_default_check_and_refuses_what_it_cannot(client, planted):
    import dataaudit
    from dataaudit.errors import UsageError

    X, y, _ = planted
    report = dataaudit.scan(X[:3000], y[:3000], model="logistic", client=client)
    assert report.summary["checks_run"] == ["class_balance", "label_issues", "high_loss", "duplicates", "outliers"]
    assert not any("not run on a cluster" in f["message"] for f in report.findings)
    with pytest.raises(UsageError, match="dynamics.*does not work with"):
        dataaudit.scan(X[:3000], y[:3000], dynamics="run.npz", client=client)
    with pytest.raises(UsageError, match="filter_by"):
        dataaudit.scan(X[:3000], y[:3000], model="logistic", checks="label_issues",
                       options={"label_issues": {"filter_by": "both"}}, client=client)


def test_cluster_finds_the_leaks_one_process_finds(client):
    import dask.array as da

    import dataaudit

    rng = np.random.default_rng(1)
    X = rng.normal(size=(12_000, 12)).astype(np.float32)
    y = rng.integers(0, 3, 12_000)
    X_test = rng.normal(size=(900, 12)).astype(np.float32)
    y_test = rng.integers(0, 3, 900)
    X_test[:20] = X[100:120]  # exact copies, 10 with another label
    y_test[:20] = np.where(np.arange(20) < 10, (y[100:120] + 1) % 3, y[100:120])
    X_test[20:40] = X[5000:5020] + 1e-4  # near copies
    y_test[20:40] = y[5000:5020]
    y_test[40] = 7  # a label training never saw (on a leak, its name says so)
    X_test[40] = X[7]
    local = dataaudit.scan(X, y, X_test=X_test, y_test=y_test, checks="leakage")
    remote = dataaudit.scan(da.from_array(X, chunks=4_000), da.from_array(y, chunks=4_000),
                            X_test=da.from_array(X_test, chunks=300), y_test=da.from_array(y_test, chunks=300),
                            checks="leakage", client=client)
    a, b = local.summary["leakage"], remote.summary["leakage"]
    assert a["n_leaked"] == 41 and a["n_exact"] == 21 and a["n_conflicting"] == 11
    for key in ("n_leaked", "n_exact", "n_near", "n_conflicting", "pairs"):
        assert a[key] == b[key], key
    assert np.array_equal(remote.samples["leaks_into_test"].compute().to_numpy(), local.samples["leaks_into_test"])


def test_cluster_outliers_are_one_process_outliers(client, tmp_path):
    import dask.array as da

    import dataaudit
    from bench.growth import write_planted

    x_path, y_path, planted_path = write_planted(str(tmp_path), 24_000)
    X, y, planted = np.load(x_path), np.load(y_path), np.load(planted_path)
    X[100, 3] = 400.0  # one absurd value
    X[[200, 300]] = 0.0  # all-zero rows
    X[400] *= 25  # another unit
    odd = np.r_[planted["far"], [100, 200, 300, 400]]
    local = dataaudit.scan(X, y, checks="outliers")
    remote = dataaudit.scan(da.from_array(X, chunks=(5_000, 64)), da.from_array(y, chunks=5_000), checks="outliers",
                            client=client)
    flags = remote.samples["is_outlier"].compute().to_numpy()
    assert flags[odd].all()  # every planted kind found
    assert np.array_equal(flags, local.samples["is_outlier"].to_numpy())
    a, b = local.summary["outliers"], remote.summary["outliers"]
    for key in ("n_outliers", "by_view", "by_reason", "tail_threshold", "rest_threshold", "copula_features"):
        assert a[key] == b[key], key
    assert [r["reason"] for r in a["worst"]] == [r["reason"] for r in b["worst"]]
    assert np.allclose(remote.sample_weight().compute(), local.sample_weight())


def test_cluster_finds_the_planted_duplicates_and_their_conflicts(client, tmp_path):
    import dask.array as da

    import dataaudit
    from bench.growth import write_planted

    x_path, y_path, planted_path = write_planted(str(tmp_path), 24_000)
    X, y, planted = np.load(x_path), np.load(y_path), np.load(planted_path)
    X[5], y[5] = X[7], 1 - y[7]  # an exact twin with the other label
    local = dataaudit.scan(X, y, checks="duplicates")
    remote = dataaudit.scan(da.from_array(X, chunks=(5_000, 64)), da.from_array(y, chunks=5_000), checks="duplicates",
                            client=client)
    group = remote.samples["duplicate_group"].compute().to_numpy()
    conflicting = remote.samples["is_conflicting_duplicate"].compute().to_numpy()
    copies = np.r_[planted["sources"], planted["copies"]]
    assert (group[copies] >= 0).all() and conflicting[planted["conflicting"]].all()
    assert group[5] == group[7] >= 0 and conflicting[[5, 7]].all()
    assert remote.samples["is_exact_duplicate"].compute().to_numpy()[[5, 7]].all()
    # Near copies are a hair apart: the cell join groups the rows one process's graph groups.
    assert np.array_equal(group, local.samples["duplicate_group"].to_numpy())
    assert np.allclose(remote.sample_weight().compute(), local.sample_weight())
    for key in ("n_groups", "n_conflicting_groups", "n_exact_duplicates", "accuracy_ceiling", "conflicting_groups"):
        assert remote.summary["duplicates"][key] == local.summary["duplicates"][key], key
    assert remote.summary["neighbors"]["method"] == "cell join"


def test_many_cells_are_found_through_a_graph_of_their_centres(client, tmp_path, monkeypatch):
    import dask.array as da

    import dataaudit
    from bench.growth import write_planted
    from dataaudit.distributed import cells
    from dataaudit.search import HNSW_MIN_CELLS

    x_path, y_path, planted_path = write_planted(str(tmp_path), 24_000)
    X, y, planted = np.load(x_path), np.load(y_path), np.load(planted_path)
    monkeypatch.setattr(cells, "CELL_ROWS", 11)  # 2,181 cells: found by HNSW on the workers
    assert 24_000 // cells.CELL_ROWS >= HNSW_MIN_CELLS
    remote = dataaudit.scan(da.from_array(X, chunks=(5_000, 64)), da.from_array(y, chunks=5_000), checks="duplicates",
                            client=client)
    assert remote.summary["neighbors"]["cells"] >= HNSW_MIN_CELLS
    group = remote.samples["duplicate_group"].compute().to_numpy()
    assert (group[np.r_[planted["sources"], planted["copies"]]] >= 0).all()


def _cli(*args, timeout=240):
    return subprocess.run([sys.executable, "-m", "dataaudit", "scan", *args, "-q"], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)


def test_cli_on_shards_with_mismatched_rows_and_a_dead_scheduler(tmp_path, planted):
    X, y, _ = planted
    (tmp_path / "X").mkdir()
    (tmp_path / "y").mkdir()
    for i, s in enumerate(range(0, 3000, 1000)):
        np.save(tmp_path / "X" / f"part{i}.npy", X[s : s + 1000])
        np.save(tmp_path / "y" / f"part{i}.npy", y[s : s + 1000 - (i == 1)])  # shard 2 lacks a label
    done = _cli(str(tmp_path / "X"), str(tmp_path / "y"), "--scheduler", "local:1", "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "shard 2: 1000 rows of X, 999 labels" in done.stderr
    assert not os.path.exists(tmp_path / "out" / "report.json")
    done = _cli(str(tmp_path / "X"), str(tmp_path / "X"), "--scheduler", "tcp://127.0.0.1:9")
    assert done.returncode == 2 and "cannot reach the Dask scheduler" in done.stderr and "Traceback" not in done.stderr


class DiesOnFit:
    """A classifier whose fit ends its worker process (a worker killed mid-run)."""

    def __init__(self, marker=None):
        self.marker = marker

    def get_params(self, deep=True):
        return {"marker": self.marker}

    def set_params(self, **params):
        self.__dict__.update(params)
        return self

    def fit(self, X, y):
        if self.marker is None or not os.path.exists(self.marker):
            if self.marker is not None:
                open(self.marker, "w").close()  # only the first fit dies: Dask's retry recovers
            os._exit(1)
        from sklearn.linear_model import LogisticRegression

        self.model_ = LogisticRegression(max_iter=200).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


def test_a_worker_killed_mid_run_fails_with_one_line_or_recovers(planted, tmp_path):
    import cloudpickle
    from distributed import Client, LocalCluster

    import dataaudit
    from dataaudit.errors import ClusterError

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    X, y, _ = planted
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0", silence_logs=50) as cluster, \
            Client(cluster) as c:
        recovered = dataaudit.scan(X[:2000], y[:2000], model=DiesOnFit(str(tmp_path / "died")), checks="label_issues",
                                   client=c)
        assert recovered.summary["label_issues"]["n_label_issues"] > 0
        with pytest.raises(ClusterError, match="the Dask cluster failed during the scan"):
            dataaudit.scan(X[:2000], y[:2000], model=DiesOnFit(), checks="label_issues", client=c)
