"""The run as evidence: class probabilities per recorded row from a training record, alone or
pooled with a probe's.

The record itself (:class:`dataaudit.dynamics.TrainingRecord`) and its per-row statistics live
in :mod:`dataaudit.dynamics`; this module turns a record into what the label and loss checks
read: the network's own probabilities up to the epoch early stopping would keep
(:func:`record_probabilities`), the vote of each row's neighbours in the network's
representation (:func:`neighbour_votes`, through the shared search of
:mod:`dataaudit.neighbors`), and their pooling with a probe (:func:`evidence`).
"""

from __future__ import annotations

import numpy as np

from .dynamics import TrainingRecord, is_right
from .probabilities import ProbeResult, cross_entropy
from .utils import chunk_rows

_TINY = 1e-7  # p of float16 storage can be 0


#: Rows held out of training (validation_split) needed to pick the early-stopping epoch from them.
MIN_HELD_OUT = 20


def best_epoch(record: TrainingRecord) -> int:
    """The recorded epoch (column) at which the network agreed most with the labels of the rows
    it did not train on: the epoch early stopping would keep, before it memorised wrong labels.

    The last recorded epoch when fewer than ``MIN_HELD_OUT`` rows were held out.
    """
    held = ~record.in_training
    if held.sum() < MIN_HELD_OUT:
        return record.n_epochs - 1
    agreement = is_right(record.margin[held]).mean(axis=0)
    return int(np.argmax(agreement))


def record_probabilities(record: TrainingRecord, last: int | None = None) -> np.ndarray:
    """Per recorded row, the mean class probabilities over recorded epochs ``0..last`` (default:
    :func:`best_epoch`), rebuilt from what the record keeps per epoch: the label's probability,
    the most likely other class's, and the rest spread evenly over the remaining classes (within
    0.01 label-issue F1 of the exact vectors, docs/benchmarks.md).
    """
    last = best_epoch(record) if last is None else last
    window = slice(0, last + 1)
    k = record.n_outputs
    m = record.n_recorded
    p_label = np.exp(np.asarray(record.logp_given[:, window], np.float64))
    p_other = np.exp(np.asarray(record.logp_given[:, window], np.float64) - np.asarray(record.margin[:, window], np.float64))
    rest = np.clip(1.0 - p_label - p_other, 0.0, None) / max(k - 2, 1) if k > 2 else np.zeros_like(p_label)
    probs = np.repeat(rest.sum(axis=1, keepdims=True), k, axis=1)
    rows = np.arange(m)
    probs[rows, record.labels] += (p_label - rest).sum(axis=1)
    other = np.asarray(record.other[:, window])
    r, e = np.nonzero(other >= 0)
    np.add.at(probs, (r, other[r, e]), (p_other - rest)[r, e])
    probs = np.clip(probs, 0.0, None)
    return probs / np.maximum(probs.sum(axis=1, keepdims=True), _TINY)


#: Rows of the run whose labels vote (a fixed random subset above it): the vote costs rows x this.
REFERENCE_ROWS = 10_000
#: Neighbours that vote: for the run alone, and when pooled with a probe's probabilities.
VOTE_K = 50
POOL_K = 20
#: Weight of the run's neighbour vote when pooled with a probe (log-linear): the probe on the raw
#: features is usually the stronger of the two, their errors only partly shared. Learnt instead
#: (from POOL_WEIGHTS) when at least MIN_HELD_OUT_FOR_WEIGHT rows were held out of training.
POOL_WEIGHT = 0.25
POOL_WEIGHTS = np.round(np.linspace(0.0, 1.0, 21), 2)
MIN_HELD_OUT_FOR_WEIGHT = 500
#: Share of the network's own probabilities in the run's evidence (ties in the vote, below).
OWN_SHARE = 0.05
_SMOOTH = 1e-3
#: The vote's search: ``"ivf"`` (cells of the reference rows, a share of them probed) from
#: ``IVF_MIN_REFERENCE`` reference rows on, exact below (and always with ``"flat"``).
VOTE_INDEX = "ivf"
IVF_MIN_REFERENCE = 4_000
#: Share of the cells probed: forum 50k record (20% flipped), F1 0.9447 at a tenth, 0.9446 at a
#: twentieth in half the time (the vote is the scan's largest step at 1M rows).
IVF_PROBE_SHARE = 0.05


def neighbour_votes(embedding: np.ndarray, labels: np.ndarray, n_classes: int, k: int = VOTE_K, *,
                    random_state: int = 0) -> np.ndarray:
    """Deep kNN (Bahri et al. 2020): per row, class probabilities from the given labels of its
    nearest neighbours in the network's own representation, the row itself left out.

    Cosine neighbours (L2-normalised rows, inner products in the shared search,
    :func:`dataaudit.search.build_search`: exact, or from ``IVF_MIN_REFERENCE`` reference rows
    an inverted file probing a twentieth of its cells) among at most ``REFERENCE_ROWS`` rows; the
    j-th of k neighbours votes with weight ``1 - j/k`` (by rank, not distance, which lets one near
    neighbour dominate in large data). Returns (m, n_classes).

    Examples
    --------
    >>> Z = np.r_[np.zeros((5, 2)) + [1, 0], np.zeros((5, 2)) + [0, 1]] + np.arange(10)[:, None] * 1e-3
    >>> y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])   # row 4 sits among the 0s with label 1
    >>> votes = neighbour_votes(Z, y, 2, k=3)
    >>> bool(votes[4, 0] > 0.9), bool(votes[5, 1] > 0.9)
    (True, True)
    """
    from .search import build_search, drop_self

    Z = np.asarray(embedding, np.float32)
    Z = np.ascontiguousarray(Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-6))
    m = len(Z)
    rng = np.random.default_rng(random_state)
    ref = np.arange(m) if m <= REFERENCE_ROWS else np.sort(rng.choice(m, REFERENCE_ROWS, replace=False))
    k = min(k, len(ref) - 1)
    # Approximate search over cells of the reference rows: a vote of 50 ranks barely moves when a
    # few far neighbours are swapped, and it costs a fraction of the exact search.
    approximate = VOTE_INDEX == "ivf" and len(ref) >= IVF_MIN_REFERENCE
    n_cells = int(np.sqrt(len(ref)))
    search = build_search(np.ascontiguousarray(Z[ref]), "ivf" if approximate else "exact", inner_product=True,
                          n_cells=n_cells, n_probe=max(1, int(np.ceil(n_cells * IVF_PROBE_SHARE))),
                          reference=ref, random_state=random_state)
    neighbours = np.empty((m, k), np.int64)
    step = chunk_rows(Z.shape[1])
    for s in range(0, m, step):
        similarity, found = search.nearest(Z[s:s + step], k + 1)
        # Leave the row itself out (or, when it is not a reference, the last of k + 1).
        neighbours[s:s + step] = drop_self(found, similarity, first_row=s)[0]
    rank_weight = np.broadcast_to(1.0 - np.arange(k) / k, (m, k))
    # Unfound neighbours (IVF cells too small) come back as -1: they do not vote.
    found = neighbours >= 0
    cells = (np.arange(m)[:, None] * n_classes + labels[neighbours])[found]
    probs = np.bincount(cells, weights=rank_weight[found], minlength=m * n_classes).reshape(m, n_classes)
    probs /= np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
    return (1 - _SMOOTH) * probs + _SMOOTH / n_classes


def pool(from_run: np.ndarray, from_probe: np.ndarray, weight: float = POOL_WEIGHT) -> np.ndarray:
    """Log-linear pooling ``softmax(weight log p_run + (1 - weight) log p_probe)``.

    Examples
    --------
    >>> pool(np.array([[0.9, 0.1]]), np.array([[0.5, 0.5]]), weight=0.5).round(3).tolist()
    [[0.75, 0.25]]
    """
    logp = weight * np.log(np.clip(from_run, _TINY, 1.0)) + (1 - weight) * np.log(np.clip(from_probe, _TINY, 1.0))
    p = np.exp(logp - logp.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def run_probabilities(record: TrainingRecord, n_classes: int, k: int = VOTE_K, *, random_state: int = 0) -> np.ndarray:
    """The run's own evidence per recorded row, (m, n_classes): the vote of ``k`` neighbours in
    each recorded representation, averaged over them, with ``OWN_SHARE`` of the network's own
    probabilities (:func:`record_probabilities`); without a recorded representation, those alone.

    A vote of k neighbours takes few values: on 10,000 KMNIST images a fifth of the flagged rows
    shared their label's probability with another row (every neighbour voting against), so
    "worst first" was index order. The network's own probability orders those rows by how little
    it believed the label (docs/benchmarks.md, "Training dynamics")."""
    own = record_probabilities(record)
    if not record.embeddings:
        return own
    votes = np.mean([neighbour_votes(e, record.labels, n_classes, k, random_state=random_state)
                     for e in record.embeddings], axis=0)
    if own.shape != votes.shape:  # a head whose outputs are not the classes: the vote alone
        return votes
    return (1 - OWN_SHARE) * votes + OWN_SHARE * own


def pool_weight(from_run: np.ndarray, from_probe: np.ndarray, labels: np.ndarray, held_out: np.ndarray) -> float | None:
    """The run's share in :func:`pool`, learnt on the rows the network did not train on: the
    weight (``POOL_WEIGHTS``) under which the pooled probabilities give those rows' labels the
    highest likelihood; None when fewer than ``MIN_HELD_OUT_FOR_WEIGHT`` rows were held out.

    Only held-out rows can judge the run: on the rows it trained on, the network's representation
    was pulled towards each row's given label, so its vote agrees with wrong labels more than it
    should and the likelihood would give the run more share than it earns. On held-out rows both
    partners are out of sample and the noise in the labels is the same for both, so the better
    partner gives the labels the higher likelihood.

    Examples
    --------
    >>> labels = np.arange(600) % 2
    >>> good, bad = np.eye(2)[labels] * 0.8 + 0.1, np.full((600, 2), 0.5)
    >>> pool_weight(good, bad, labels, np.ones(600, bool)), pool_weight(bad, good, labels, np.ones(600, bool))
    (1.0, 0.0)
    """
    if held_out.sum() < MIN_HELD_OUT_FOR_WEIGHT:
        return None
    rows = np.flatnonzero(held_out)
    scores = [np.log(np.clip(pool(from_run[rows], from_probe[rows], w)[np.arange(len(rows)), labels[rows]], _TINY, 1))
              .mean() for w in POOL_WEIGHTS]
    return float(POOL_WEIGHTS[int(np.argmax(scores))])


def evidence(record: TrainingRecord, labels: np.ndarray, n_classes: int, *, probe=None, random_state: int = 0):
    """The probabilities the label and loss checks read when a training record is given.

    The run alone: per recorded row, the vote of its neighbours in the network's representation
    (``VOTE_K``); rows the record did not cover have no probabilities (``judged`` marks the
    others). With a probe (a :class:`dataaudit.probe.ProbeResult` over every row): recorded rows
    get :func:`pool` of the ``POOL_K`` vote and the probe's probabilities, the others the probe's.
    Measured in docs/benchmarks.md: the run alone is close to the default probe, pooled it is at
    least as good as either.
    """
    n = len(labels)
    rows = record.rows
    from_run = run_probabilities(record, n_classes, POOL_K if probe is not None else VOTE_K, random_state=random_state)
    probs = np.zeros((n, n_classes))
    source = "neighbours in the run's representation" if record.embeddings else "the run's probabilities"
    if probe is not None:
        probs[:] = probe.pred_probs
        learnt = pool_weight(from_run, probe.pred_probs[rows], labels[rows], ~record.in_training)
        weight = POOL_WEIGHT if learnt is None else learnt
        probs[rows] = pool(from_run, probe.pred_probs[rows], weight)
        judged = None
        info = {**probe.info, "model": f"training record + {probe.info.get('model')}",
                "record_share": weight, "record_share_from": "the held-out rows" if learnt is not None else "the default"}
    else:
        counts = np.bincount(labels, minlength=n_classes)
        probs[:] = counts / n
        probs[rows] = from_run
        judged = None if len(rows) == n else np.isin(np.arange(n), rows)
        info = {"model": "training record", "n_folds": None}
    info["record_evidence"] = source
    info["record_rows"] = record.n_recorded
    info["record_epochs"] = record.n_epochs
    seen = slice(None) if judged is None else judged
    info["accuracy_on_given_labels"] = round(float((probs[seen].argmax(axis=1) == labels[seen]).mean()), 6)
    return ProbeResult(probs, cross_entropy(probs, labels), info, judged=judged)
