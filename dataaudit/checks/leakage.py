"""Leakage: test samples that duplicate (exactly or nearly) training samples."""

from __future__ import annotations

import numpy as np

from ..neighbors import near_duplicate_threshold
from ..rowhash import canonical_bytes, row_hashes
from .base import MAX_LISTED, NEED_NEIGHBORS, NEED_TEST, CheckInputs, CheckResult, Finding, RowVerdict, severity

NAME = "leakage"
TITLE = "Leakage"
NEEDS: frozenset[str] = frozenset({NEED_TEST, NEED_NEIGHBORS})
METRICS = ("leakage", "leakage_count", "leakage_conflicts")
#: Any leak is a warning; from this share of the test set on, critical.
SEVERITY = {"warning": 0.0, "critical": 0.01}


def exact_matches(train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """For each test row, the index of an identical training row, or -1.

    Examples
    --------
    >>> exact_matches(np.array([[1, 2], [3, 4]]), np.array([[3, 4], [5, 6], [1, 2]])).tolist()
    [1, -1, 0]
    """
    h_train = row_hashes(train)
    h_test = row_hashes(test)
    order = np.argsort(h_train, kind="stable")
    sorted_h = h_train[order]
    pos = np.searchsorted(sorted_h, h_test)
    pos_ok = pos < len(sorted_h)
    cand = np.full(len(test), -1, dtype=np.int64)
    hit = np.zeros(len(test), dtype=bool)
    hit[pos_ok] = sorted_h[pos[pos_ok]] == h_test[pos_ok]
    cand[hit] = order[pos[hit]]
    # Verify the bytes: a hash collision must never count as a leak.
    rows = np.flatnonzero(hit)
    if len(rows):
        same = (canonical_bytes(test[rows]) == canonical_bytes(train[cand[rows]])).all(axis=1)
        cand[rows[~same]] = -1
    return cand


def run(inputs: CheckInputs, *, factor: float = 0.1) -> CheckResult:
    """Find test samples identical or nearly identical to a training sample.

    Row verdict (training rows): the flag marks rows that leak into the test set; the score is
    1 for no leak, 0.5 for a leak with the same label, 0 for a leak with another label. It
    changes no weight and excludes no row: the test set is what needs cleaning.
    """
    graph = inputs.neighbors
    n_test = len(inputs.labels_test)
    exact = exact_matches(inputs.raw, inputs.raw_test)
    dist, idx = graph.query(inputs.features_test, k=1)
    tau = near_duplicate_threshold(graph, factor)
    near = (dist[:, 0] <= tau) & (exact < 0)
    match = np.where(exact >= 0, exact, np.where(near, idx[:, 0], -1))
    leaked = match >= 0
    conflict = np.zeros(n_test, dtype=bool)
    conflict[leaked] = inputs.labels[match[leaked]] != inputs.labels_test[leaked]
    leaks_into_test = np.zeros(inputs.n_samples, dtype=bool)
    leaks_into_test[match[leaked]] = True
    leaks_with_conflict = np.zeros(inputs.n_samples, dtype=bool)
    leaks_with_conflict[match[conflict]] = True

    leaked_rows = np.flatnonzero(leaked)
    figures, metrics, findings = summarize(n_test, leaked_rows, match[leaked_rows], exact[leaked_rows] >= 0,
                                           inputs.labels[match[leaked_rows]], inputs.labels_test[leaked_rows], tau,
                                           inputs.label_name, inputs.n_classes)
    rows = RowVerdict(
        flag=leaks_into_test,
        score=1.0 - 0.5 * leaks_into_test - 0.5 * leaks_with_conflict,
        shown=("label", "leaks_into_test"),
    )
    return CheckResult(name=NAME, rows=rows, columns={"leaks_into_test": leaks_into_test},
                       figures=figures, metrics=metrics, findings=findings)


def summarize(n_test: int, test_rows: np.ndarray, train_rows: np.ndarray, exact: np.ndarray, train_labels: np.ndarray,
              test_labels: np.ndarray, tau: float, label_name, n_classes: int):
    """The check's figures, metrics and findings from the leaked test rows (sorted), the training
    rows they match, whether each match is exact, and both labels (codes; a test label of
    ``n_classes`` or more is one the training set does not hold). The same on one machine and
    on a cluster."""
    conflict = train_labels != test_labels
    count, share = len(test_rows), len(test_rows) / max(n_test, 1)

    def name(code: int):
        return label_name(code) if code < n_classes else f"(unseen label {code})"

    listed = np.r_[np.flatnonzero(conflict), np.flatnonzero(~conflict)][:MAX_LISTED]
    pairs = [
        {
            "test_index": int(test_rows[t]),
            "train_index": int(train_rows[t]),
            "exact": bool(exact[t]),
            "train_label": label_name(train_labels[t]),
            "test_label": name(int(test_labels[t])),
            "conflict": bool(conflict[t]),
        }
        for t in listed
    ]
    figures = {
        "n_test_samples": n_test,
        "n_leaked": count,
        "n_exact": int(exact.sum()),
        "n_near": int((~exact).sum()),
        "n_conflicting": int(conflict.sum()),
        "leaked_fraction": round(float(share), 6),
        "near_duplicate_threshold": round(tau, 6),
        "pairs": pairs,
    }
    findings = []
    if count:
        findings.append(
            Finding(
                check=NAME,
                severity=severity(share, **SEVERITY),
                count=count,
                message=(
                    f"{count} test samples ({share:.1%}) duplicate a training sample"
                    + (f"; {int(conflict.sum())} of them with a different label" if conflict.any() else "")
                ),
                advice=(
                    "Test samples the model has already seen inflate the test score: it measures memory, not "
                    "generalisation. Remove them from the test set (or from training), and split by duplicate "
                    "group from now on (report.clean_split() never puts a group on both sides). Pairs with "
                    "different labels mean one of the two labels is wrong."
                ),
            )
        )
    metrics = {"leakage": float(share), "leakage_count": float(count), "leakage_conflicts": float(conflict.sum())}
    return figures, metrics, findings
