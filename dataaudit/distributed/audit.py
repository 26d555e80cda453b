"""The checks that run on a cluster, each from mergeable summaries of its rows: the same
figures, metrics and findings as one process (each check's own ``summarize``), and per-row
columns left on the workers as Dask arrays."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..blocks import quantiles
from ..checks import class_balance, duplicates, high_loss, label_issues, leakage
from ..checks.base import MAX_LISTED, Finding
from ..confident import find_issues_merged
from ..utils import fence
from .blocks import DaskBlocks

#: The checks a cluster runs today, in registry order.
ON_CLUSTER = ("class_balance", "label_issues", "high_loss", "duplicates", "outliers", "leakage")


@dataclass
class ClusterResult:
    """A check's result on a cluster: as :class:`~dataaudit.checks.base.CheckResult`, with its
    per-row columns and weight factor as Dask arrays."""

    name: str
    figures: dict[str, Any]
    metrics: dict[str, float]
    findings: list[Finding]
    columns: dict[str, Any] = field(default_factory=dict)
    weight: Any = None
    exclude: Any = None


def run_class_balance(labels, counts: np.ndarray, label_name: Callable, *, beta: float = 0.999) -> ClusterResult:
    figures, metrics, findings, _ = class_balance.summarize(counts, label_name, beta=beta)
    return ClusterResult(class_balance.NAME, figures, metrics, findings)


def _label_columns(labels, probs, flagged):
    quality = probs[np.arange(len(labels)), labels]
    suggested = label_issues.suggested_labels(labels, probs, flagged)
    return np.column_stack([probs.argmax(axis=1), quality, flagged, suggested]).astype(np.float64)


def _pair_counts(labels, columns, k: int) -> np.ndarray:
    flagged = columns[:, 2] > 0
    suggested = columns[:, 3].astype(np.int64)
    return np.bincount(labels[flagged] * k + suggested[flagged], minlength=k * k).astype(np.int64)


def _lowest(labels, columns, start: int) -> np.ndarray:
    """This block's flagged rows with the lowest label quality: (quality, index, given, suggested)."""
    rows = np.flatnonzero(columns[:, 2] > 0)
    order = np.lexsort((rows, columns[rows, 1]))[:MAX_LISTED]
    rows = rows[order]
    return np.column_stack([columns[rows, 1], rows + start, labels[rows], columns[rows, 3]])


def _merge_lowest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both = np.vstack([a, b])
    return both[np.lexsort((both[:, 1], both[:, 0]))][:MAX_LISTED]


def run_label_issues(labels, probs, counts: np.ndarray, label_name: Callable, probe_info: dict, *,
                     filter_by: str = "prune_by_noise_rate") -> ClusterResult:
    if filter_by != "prune_by_noise_rate":
        from ..errors import UsageError, param

        raise UsageError(f"on a cluster the label check's {param('filter_by')} is cleanlab's default, "
                         "'prune_by_noise_rate' (the rule merged across partitions); scan on one machine for "
                         f"'{filter_by}'")
    k = len(counts)
    flagged = find_issues_merged(DaskBlocks(labels, probs), k)
    columns = DaskBlocks(labels, probs, flagged).map_rows(_label_columns, dtype=np.float64, width=4).persist()
    blocks = DaskBlocks(labels, columns)
    per_class = blocks.reduce(lambda lab, col: np.bincount(lab[col[:, 2] > 0], minlength=k), np.add)
    pair_matrix = blocks.reduce(_pair_counts, np.add, k)
    nonzero = np.flatnonzero(pair_matrix)
    order = np.lexsort((nonzero, -pair_matrix[nonzero]))
    pairs = [(int(key // k), int(key % k), int(pair_matrix[key])) for key in nonzero[order]]
    lowest = blocks.reduce(_lowest, _merge_lowest, per_block=list(blocks.starts))
    worst = [(int(i), int(g), int(s), float(q)) for q, i, g, s in lowest]
    figures, metrics, findings = label_issues.summarize(counts, per_class, pairs, worst, label_name, probe_info)
    import dask

    # Persisted: the samples, the weights and the split all read them.
    predicted, quality, is_issue, suggested = dask.persist(
        columns[:, 0].astype(np.int64), columns[:, 1], columns[:, 2] > 0, columns[:, 3].astype(np.int64))
    cols = {"predicted_label": predicted, "label_quality": quality, "is_label_issue": is_issue,
            "suggested_label": suggested}
    weight = DaskBlocks(quality, is_issue).map_rows(lambda q, f: np.where(f, q, 1.0), dtype=np.float64).persist()
    return ClusterResult(label_issues.NAME, figures, metrics, findings, cols, weight=weight, exclude=is_issue)


def _moments(loss, mean: float) -> np.ndarray:
    seen = loss[np.isfinite(loss)]
    d = seen - mean
    return np.array([len(seen), seen.sum(), (d**2).sum(), (d**3).sum()])


def _highest(labels, loss, start: int) -> np.ndarray:
    s = int(start)
    key = np.nan_to_num(loss, nan=-np.inf)
    rows = np.argsort(-key, kind="stable")[:MAX_LISTED]
    return np.column_stack([key[rows], rows + s, labels[rows]])


def merge_highest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The ``MAX_LISTED`` rows of two blocks' lists with the highest score (column 0), ties by index (column 1)."""
    both = np.vstack([a, b])
    return both[np.lexsort((both[:, 1], -both[:, 0]))][:MAX_LISTED]


def run_high_loss(labels, loss, n: int, label_name: Callable, *, whisker: float = 3.0, bins: int = 40) -> ClusterResult:
    values = quantiles(DaskBlocks(loss), high_loss.QUANTILES)
    q1, q3 = (values[list(high_loss.QUANTILES).index(q)] for q in (0.25, 0.75))
    threshold = fence(q1, q3, whisker, high_loss.LOSS_FLOOR)
    blocks = DaskBlocks(loss)
    n_seen, total = blocks.reduce(lambda x: np.array([np.isfinite(x).sum(), x[np.isfinite(x)].sum()]), np.add)
    mean = total / n_seen
    _, _, m2, m3 = blocks.reduce(_moments, np.add, mean)
    sd = np.sqrt(m2 / n_seen)
    skew = float((m3 / n_seen) / sd**3) if sd > 0 else 0.0
    edges = np.histogram_bin_edges(np.array([values[0], values[-1]]), bins=bins)
    hist = blocks.reduce(lambda x: np.histogram(x[np.isfinite(x)], bins=edges)[0], np.add)
    flagged_count, flagged_loss = blocks.reduce(
        lambda x: np.array([(np.nan_to_num(x, nan=-np.inf) > threshold).sum(),
                            x[np.nan_to_num(x, nan=-np.inf) > threshold].sum()]), np.add)
    highest = DaskBlocks(labels, loss).reduce(_highest, merge_highest, per_block=list(blocks.starts))
    worst = [(int(i), int(lab), float(v)) for v, i, lab in highest if np.isfinite(v)]
    stats = high_loss.LossStats(n, int(n_seen), float(total), float(mean), skew, int(flagged_count), float(flagged_loss))
    figures, metrics, findings = high_loss.summarize(threshold, whisker, stats, values, hist, edges, worst, label_name)
    is_high = (loss > threshold).persist()
    return ClusterResult(high_loss.NAME, figures, metrics, findings, {"loss": loss, "is_high_loss": is_high})


#: Neighbours per row in the cell join (as the one-process graph).
NEIGHBOURS = 10


def _grouped_labels(labels, rows: np.ndarray, start: int) -> np.ndarray:
    s = int(start)
    mine = rows[(rows >= s) & (rows < s + len(labels))]
    return labels[mine - s]


def _spread_block(labels, rows, values, fill, dtype, start: int):
    s = int(start)
    out = np.full(len(labels), fill, dtype=dtype)
    lo, hi = np.searchsorted(rows, [s, s + len(labels)])
    out[rows[lo:hi] - s] = values[lo:hi]
    return out


def run_duplicates(join, labels, n: int, n_classes: int, label_name: Callable, *, threshold: float | None = None,
                   factor: float = 0.1, minority_factor: float = 0.1) -> ClusterResult:
    """The duplicates check from the cell join (:class:`dataaudit.distributed.cells.CellJoin`,
    made with the same ``threshold`` and ``factor``): the grouped rows (few) are gathered and
    judged by the check's own :func:`~dataaudit.checks.duplicates.summarize_groups`."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from ..rowhash import renumber_by_first_appearance

    tau = join.threshold(factor, labels.chunks[0]) if threshold is None else float(threshold)
    pairs = join.edges(tau)
    rows = np.unique(pairs)
    if len(rows):
        local = np.searchsorted(rows, pairs)
        graph = coo_matrix((np.ones(len(local), np.int8), (local[:, 0], local[:, 1])), shape=(len(rows), len(rows)))
        _, component = connected_components(graph, directed=False)
        group = renumber_by_first_appearance(component)
        exact = join.first_same(rows)
    else:
        group = exact = np.zeros(0, np.int64)
    blocks = DaskBlocks(labels)
    starts = list(blocks.starts)
    grouped_labels = blocks.map(_grouped_labels, rows, per_block=starts)
    grouped_labels = np.concatenate(grouped_labels) if grouped_labels else np.zeros(0, np.int64)
    g = duplicates.summarize_groups(n, rows, group, exact, grouped_labels, n_classes, label_name, tau=tau,
                                    rule="given" if threshold is not None else None, factor=factor,
                                    minority_factor=minority_factor)

    def column(values, fill, dtype):
        return blocks.map_rows(_spread_block, rows, np.asarray(values), fill, dtype, per_block=starts,
                               dtype=dtype).persist()

    is_exact = exact >= 0
    cols = {"duplicate_group": column(group, -1, np.int64), "is_exact_duplicate": column(is_exact, False, bool),
            "is_near_duplicate": column(~is_exact, False, bool),
            "is_conflicting_duplicate": column(g.conflicting, False, bool)}
    return ClusterResult(duplicates.NAME, g.figures, g.metrics, g.findings, cols,
                         weight=column(g.weight, 1.0, np.float64), exclude=column(g.exclude, False, bool))


def _unseen_first(values, classes: np.ndarray, start: int) -> dict:
    """The values of a block absent from ``classes``, each with its first row."""
    values = np.asarray(values)
    absent = ~np.isin(values, classes)
    found, first = np.unique(values[absent], return_index=True)
    return {v: int(start) + int(np.flatnonzero(absent)[i]) for v, i in zip(found.tolist(), first)}


def _earlier(a: dict, b: dict) -> dict:
    return {**b, **{v: i for v, i in a.items() if v not in b or i < b[v]}}


def test_codes(y_test, classes: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The codes of the test labels at ``rows``, coded as one process codes them: the training
    classes, and labels unseen in training ``n_classes + i`` in order of first appearance."""
    blocks = DaskBlocks(y_test)
    unseen = blocks.reduce(_unseen_first, _earlier, classes, per_block=list(blocks.starts)) if len(y_test) else {}
    code = {v: len(classes) + i for i, v in enumerate(sorted(unseen, key=unseen.get))}
    code.update({v: i for i, v in enumerate(classes.tolist())})
    values = np.asarray(y_test[rows].compute()) if len(rows) else np.zeros(0)
    return np.array([code[v] for v in values.tolist()], dtype=np.int64)


def run_leakage(join, labels, y_test, classes: np.ndarray, n: int, label_name: Callable, *,
                factor: float = 0.1) -> ClusterResult:
    """The leakage check from the cell join made with the held-out split: each test row's match
    (:meth:`dataaudit.distributed.cells.CellJoin.leaked`), judged by the check's own ``summarize``."""
    tau = join.threshold(factor, labels.chunks[0])
    found = join.leaked(tau)
    test_rows, train_rows, exact = found[:, 0], found[:, 1], found[:, 2] > 0
    leaks = np.unique(train_rows)
    train_labels = np.asarray(labels[leaks].compute())[np.searchsorted(leaks, train_rows)] if len(leaks) else leaks
    figures, metrics, findings = leakage.summarize(
        int(y_test.shape[0]), test_rows, train_rows, exact, train_labels, test_codes(y_test, classes, test_rows), tau,
        label_name, len(classes))
    blocks = DaskBlocks(labels)
    column = blocks.map_rows(_spread_block, leaks, np.ones(len(leaks), bool), False, bool,
                             per_block=list(blocks.starts), dtype=bool).persist()
    return ClusterResult(leakage.NAME, figures, metrics, findings, {"leaks_into_test": column})


__all__ = ["ClusterResult", "ON_CLUSTER", "run_class_balance", "run_duplicates", "run_high_loss", "run_label_issues", "run_leakage"]
