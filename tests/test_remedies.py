import numpy as np
import pytest

import dataaudit
from dataaudit.checks.base import RowVerdict
from dataaudit.checks.duplicates import duplicate_weight
from dataaudit.groups import group_label_stats
from dataaudit.remedies import clean_split as split_rows
from dataaudit.remedies import excluded_rows, sample_weight as weights_of, split_groups


def synthetic(n=1000, seed=0):
    """Row verdicts as the label, duplicates and outlier checks make them, with planted bad rows."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    issue = np.zeros(n, bool)
    issue[:50] = True
    quality = np.where(issue, 0.05, rng.uniform(0.6, 1.0, n))
    group = np.full(n, -1)
    # Groups of 3 from row 100 on; groups 0..9 conflicting (one member with another label).
    for g in range(40):
        rows = [100 + 3 * g, 101 + 3 * g, 102 + 3 * g]
        group[rows] = g
        labels[rows] = labels[rows[0]]
        if g < 10:
            labels[rows[2]] = (labels[rows[0]] + 1) % 3
    outlier = np.zeros(n, bool)
    outlier[900:910] = True
    stats = group_label_stats(group, labels, 3)
    conflicting = stats["n_labels"][np.maximum(group, 0)] > 1
    verdicts = [
        RowVerdict(issue, quality, weight=np.where(issue, quality, 1.0), exclude=issue),
        RowVerdict(group >= 0, stats["same_label"] / stats["row_size"], weight=duplicate_weight(group, stats),
                   exclude=(group >= 0) & conflicting & ~stats["is_majority"], group=group),
        RowVerdict(outlier, np.where(outlier, 0.1, 1.0), weight=np.where(outlier, 0.5, 1.0), exclude=outlier),
    ]
    return verdicts, labels


def sample_weight(verdicts, labels, k, **kw):
    return weights_of(verdicts, labels, k, **kw)


def flagged_rows(verdicts, labels):
    return excluded_rows(verdicts, len(labels))


def clean_split(verdicts, labels, **kw):
    n = len(labels)
    return split_rows(labels, exclude=excluded_rows(verdicts, n), group=split_groups(verdicts, n), **kw)


def test_weights_are_valid_and_lower_on_bad_rows():
    s, labels = synthetic()
    w = sample_weight(s, labels, 3)
    assert np.isfinite(w).all() and (w >= 0).all()
    assert w.mean() == pytest.approx(1.0)
    clean = np.ones(len(w), bool)
    clean[:50] = False
    clean[100:220] = False
    clean[900:910] = False
    minority = np.array([102 + 3 * g for g in range(10)])
    assert w[:50].max() < w[clean].min()
    assert w[minority].max() < w[clean].min()
    assert w[900:910].max() < w[clean].min()
    # A group of 3 weighs as much as one clean sample.
    assert w[[130, 131, 132]].sum() == pytest.approx(w[clean][0])


def test_drop_flagged_and_balance_classes():
    s, labels = synthetic()
    w = sample_weight(s, labels, 3, drop_flagged=True)
    flagged = flagged_rows(s, labels)
    assert (w[flagged] == 0).all() and (w[~flagged] > 0).all()
    assert w[w > 0].mean() == pytest.approx(1.0)
    labels2 = np.r_[np.zeros(900, int), np.ones(100, int)]
    wb = sample_weight([RowVerdict(np.zeros(1000, bool), np.ones(1000))], labels2, 2, balance_classes=True)
    assert wb[labels2 == 0].sum() == pytest.approx(wb[labels2 == 1].sum())


def test_split_is_stratified_group_aware_and_excludes_flagged():
    s, labels = synthetic(3000, seed=1)
    train, val, excluded = clean_split(s, labels, test_size=0.25, random_state=0)
    assert not set(train) & set(val)
    assert set(excluded) == set(np.flatnonzero(flagged_rows(s, labels)))
    assert len(train) + len(val) + len(excluded) == 3000
    g = split_groups(s, labels)
    in_train = set(g[train][g[train] >= 0])
    in_val = set(g[val][g[val] >= 0])
    assert not in_train & in_val
    for c in range(3):
        frac = (labels[val] == c).sum() / ((labels[val] == c).sum() + (labels[train] == c).sum())
        assert frac == pytest.approx(0.25, abs=0.02)
    again = clean_split(s, labels, test_size=0.25, random_state=0)
    assert np.array_equal(again[0], train)


def test_report_remedies_end_to_end():
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    rng = np.random.default_rng(0)
    flip = np.zeros(len(y), bool)
    flip[rng.choice(len(y), 15, replace=False)] = True
    noisy = np.where(flip, (y + 1) % 3, y)
    X = np.r_[X, X[:5]]
    noisy = np.r_[noisy, (noisy[:5] + 1) % 3]
    report = dataaudit.scan(X, noisy)
    w = report.sample_weight()
    assert w[: len(flip)][flip].mean() < 0.6 * w[: len(flip)][~flip].mean()
    assert np.array_equal(report.samples["sample_weight"].to_numpy(), w)
    X_clean, y_clean = report.clean_data(X, noisy)
    assert len(X_clean) == len(noisy) - len(report.excluded())
    X_re, y_re = report.clean_data(X, noisy, relabel=True)
    issues = report.samples["is_label_issue"].to_numpy()
    other = report.samples["is_outlier"].to_numpy() | (report.samples["is_conflicting_duplicate"].to_numpy() & issues)
    assert len(X_re) > len(X_clean) and len(X_re) <= len(X_clean) + issues.sum()
    # Relabelled rows carry the suggested label, which is mostly the true one.
    kept_issue = np.flatnonzero(issues[: len(flip)] & flip & ~other[: len(flip)])
    suggested = report.samples["suggested_label"].to_numpy()[kept_issue]
    assert (suggested == y[kept_issue]).mean() > 0.8
    from sklearn.linear_model import LogisticRegression

    LogisticRegression(max_iter=2000).fit(X, noisy, sample_weight=w)  # accepted as sample_weight
    tr, va = report.clean_split(0.3)
    g = report.samples["duplicate_group"].to_numpy()
    assert not set(g[tr][g[tr] >= 0]) & set(g[va][g[va] >= 0])
