"""The probe's fold loop on a cluster: the same plan (:func:`dataaudit.probe.make_plan`), the
same dealt folds (:func:`dataaudit.rowfolds.deal_folds`) and the same members as one process.

Per pass and fold, each member is fitted on one worker from the other folds' rows (all of them
up to ``TRAIN_ROWS``, else a seeded share of every class: a stratified sample); the fitted models
are kept on the cluster and each partition predicts its own rows. What a pass flags (confident
learning from mergeable summaries) leaves the next pass's training, as in one process. With the
training rows whole, the models are fitted on the same rows in the same order as one process
fits them, so the probabilities, and the flags, are the same.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..confident import find_issues_merged
from ..probabilities import cross_entropy
from ..probe.executor import fit_estimator, predict_codes
from ..probe.folds import MAX_UNCROSSVALIDATED_LISTED
from ..probe.images import views
from ..probe.models import split_view
from ..probe.plan import MEMBER_GAP, ProbePlan, fold_estimators
from ..rowfolds import deal_folds, mix64
from .blocks import DaskBlocks

#: A fold's training rows above this many are sampled (each class alike) for its fits.
TRAIN_ROWS = 1_000_000
#: ...and above this many bytes of features...
TRAIN_BYTES = 512 * 2**20
#: ...or this share of the smallest worker's memory limit: a fit holds its rows about four times
#: over (the gathered parts, joined, and as float64 for the model), beside the worker's own data
#: (5M x 64 on 2 GB workers: fits of 1M rows killed the workers; 1/16 of the limit did not).
WORKER_SHARE = 1 / 16


def fit_bytes(worker_memory: int | None) -> int:
    """The bytes of features one fit may hold, on workers of ``worker_memory`` bytes (None: no limit)."""
    return int(min(TRAIN_BYTES, worker_memory * WORKER_SHARE)) if worker_memory else TRAIN_BYTES


def _uniform(start: int, n: int, seed: int) -> np.ndarray:
    """A seeded uniform number in [0, 1) per row id ``start .. start + n - 1``."""
    ids = np.arange(start, start + n, dtype=np.uint64)
    return (mix64(ids ^ mix64(np.uint64(seed % 2**64))) >> np.uint64(11)).astype(np.float64) / 2.0**53


def block_folds(labels: np.ndarray, n_folds: int, seed: int, singletons: np.ndarray, before: np.ndarray) -> np.ndarray:
    """A block's folds (-1: a class of one row, never cross-validated)."""
    folds = deal_folds(labels, n_folds, seed, n_classes=len(before), before=before)
    folds[np.isin(labels, singletons)] = -1
    return folds


def _training_rows(X, labels, folds, exclude, fold: int, lost: np.ndarray, share: float, start: int, seed: int,
                   view: str | None, geometry) -> tuple[np.ndarray, np.ndarray]:
    keep = (folds != fold) & (folds >= 0)
    if exclude is not None:
        keep &= ~exclude | np.isin(labels, lost)
    if share < 1.0:
        keep &= _uniform(start, len(labels), seed) < share
    rows = np.asarray(X[keep], dtype=np.float32)
    if view is not None:
        rows = views((view,), rows, geometry)[view]
    return rows, labels[keep]


def _fit(estimator, parts: list) -> Any:
    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    return fit_estimator(estimator, X, y)


def _predict(X, labels, folds, models: list, n_classes: int, n_members: int, geometry, wanted_views) -> np.ndarray:
    """One block's out-of-fold output: the mean over its fold's fits (K columns), each member's
    probabilities (n_members x K) and whether the member predicted the row (n_members)."""
    n, k = len(labels), n_classes
    X = np.asarray(X, dtype=np.float32)
    inputs = {None: X, **(views(wanted_views, X, geometry) if wanted_views else {})}
    sums, fits = np.zeros((n, k)), np.zeros(n)
    member_probs, has = np.zeros((n_members, n, k)), np.zeros((n_members, n))
    for fold, chosen in enumerate(models):
        rows = folds == fold
        if not rows.any():
            continue
        for member, fitted, view in chosen:
            out = predict_codes(fitted, inputs[view][rows], k)
            sums[rows] += out
            fits[rows] += 1
            if member >= 0:
                member_probs[member, rows], has[member, rows] = out, 1
    mean = np.divide(sums, fits[:, None], out=np.zeros_like(sums), where=fits[:, None] > 0)
    return np.hstack([mean, member_probs.transpose(1, 0, 2).reshape(n, n_members * k), has.T])


def _unpack(packed, labels, folds, prior, kept, k: int, m: int) -> np.ndarray:
    """A block's probabilities: the gated mean of the kept members (or the plain mean), the
    class prior for rows of one-row classes, rows normalised."""
    probs = packed[:, :k].copy()
    if kept is not None:
        member = packed[:, k : k + m * k].reshape(-1, m, k)[:, kept]
        weight = packed[:, k + m * k :][:, kept].sum(axis=1)
        judged = (folds >= 0) & (weight > 0)
        probs[judged] = member[judged].sum(axis=1) / weight[judged, None]
    probs[folds < 0] = prior
    total = probs.sum(axis=1, keepdims=True)
    return np.divide(probs, total, out=np.full_like(probs, 1.0 / k), where=total > 0)


def _accuracy_counts(labels, packed, folds, k: int, m: int) -> np.ndarray:
    member = packed[:, k : k + m * k].reshape(-1, m, k)
    has = packed[:, k + m * k :] > 0
    right = (member.argmax(axis=2) == labels[:, None]) & has
    return np.stack([right.sum(axis=0), has.sum(axis=0)])


def _class_fold_counts(labels, folds, exclude, n_classes: int, n_folds: int) -> np.ndarray:
    """Rows per (fold, class): all of them, and those not excluded."""
    ok = folds >= 0
    out = np.zeros((2, n_folds, n_classes), dtype=np.int64)
    np.add.at(out[0], (folds[ok], labels[ok]), 1)
    kept = ok if exclude is None else ok & ~exclude
    np.add.at(out[1], (folds[kept], labels[kept]), 1)
    return out


def run_pass(X, labels, folds, plan: ProbePlan, *, n_classes: int, counts: np.ndarray, number: int,
             exclude, random_state: int, say: Callable[[str], None] | None,
             worker_memory: int | None = None) -> tuple[Any, Any, dict]:
    """One pass on the cluster: ``(probs, probs for flagging, info)``, the arrays persisted."""
    import dask
    from dask import delayed

    n = int(counts.sum())
    k = n_classes
    estimators, members = plan.for_pass(number, n, random_state)
    blocks = DaskBlocks(*(a for a in (X, labels, folds, exclude) if a is not None))
    by_fold = blocks.reduce(lambda *b: _class_fold_counts(b[1], b[2], b[3] if exclude is not None else None, k,
                                                          plan.n_folds), np.add)
    width = int(np.prod(X.shape[1:]))
    models = []
    sampled = False
    for fold in range(plan.n_folds):
        train_counts = by_fold[0].sum(axis=0) - by_fold[0][fold]
        kept_counts = by_fold[1].sum(axis=0) - by_fold[1][fold]
        lost = np.flatnonzero((train_counts > 0) & (kept_counts == 0)) if exclude is not None else np.array([], int)
        # What _without keeps in one process: a class that would lose every training row keeps them.
        fit_counts = np.where(np.isin(np.arange(k), lost), train_counts, kept_counts)
        rows = int(fit_counts.sum())
        cap = min(TRAIN_ROWS, fit_bytes(worker_memory) // max(4 * width, 1))
        share = 1.0 if rows <= cap else cap / rows
        sampled = sampled or share < 1.0
        chosen = fold_estimators(estimators, members, fit_counts, n, random_state)
        fold_models = []
        for e in chosen:
            member = next((i for i, m in enumerate(estimators) if m is e), -1)
            view = split_view(members[member])[1] if members and member >= 0 else None
            parts = [delayed(_training_rows)(part[0], part[1], part[2], part[3] if exclude is not None else None, fold,
                                             lost, share, int(start), random_state + fold, view, plan.geometry)
                     for part, start in zip(blocks.parts, blocks.starts)]
            fold_models.append((member, delayed(_fit)(e, parts), view))
        models.append(fold_models)
    if say:
        say(f"probe {plan.name}: pass {number}, fitting {sum(len(f) for f in models)} models on the cluster")
    fitted = dask.persist(*[m for fold in models for _, m, _ in fold])
    it = iter(fitted)
    models = [[(member, next(it), view) for member, _, view in fold] for fold in models]
    n_members = len(estimators)
    wanted_views = tuple(dict.fromkeys(v for fold in models for _, _, v in fold if v))
    packed = DaskBlocks(X, labels, folds).map_rows(_predict, models, k, n_members, plan.geometry, wanted_views,
                                                   dtype=np.float64, width=k + n_members * k + n_members)
    packed = packed.persist()
    prior = counts / n
    gated = plan.gate and members == plan.members
    kept = None
    info: dict[str, Any] = {}
    if sampled:  # a stratified seeded sample of each fold's training rows (the cap: module notes)
        info["fit_rows_at_most"] = int(min(TRAIN_ROWS, fit_bytes(worker_memory) // max(4 * width, 1)))
    if gated:
        # kept_members' rule, on accuracies summed over the blocks.
        acc = DaskBlocks(labels, packed, folds).reduce(_accuracy_counts, np.add, k, n_members)
        accuracy = acc[0] / np.maximum(acc[1], 1)
        kept_mask = accuracy >= accuracy.max() - MEMBER_GAP
        if not kept_mask.all():
            kept = np.flatnonzero(kept_mask)
            info["members_left_out"] = [m for m, keep in zip(members, kept_mask) if not keep]
    trio = DaskBlocks(packed, labels, folds)
    probs = trio.map_rows(_unpack, prior, kept, k, n_members, dtype=np.float64, width=k).persist()
    flag_probs = probs if kept is None else trio.map_rows(_unpack, prior, None, k, n_members, dtype=np.float64,
                                                          width=k).persist()
    return probs, flag_probs, info


def out_of_fold(X, labels, plan: ProbePlan, *, n_classes: int, counts: np.ndarray, random_state: int,
                say: Callable[[str], None] | None = None, worker_memory: int | None = None) -> tuple[Any, Any, dict]:
    """The plan's passes on the cluster: ``(probs, loss, info)`` (Dask arrays, persisted);
    ``worker_memory``: the smallest worker's memory limit in bytes, which caps each fit's rows."""
    k = n_classes
    singletons = np.flatnonzero(counts == 1)
    per_block = DaskBlocks(labels).map(lambda lab: np.bincount(lab, minlength=k))
    before = np.cumsum([np.zeros(k, np.int64)] + per_block[:-1], axis=0)
    folds = DaskBlocks(labels).map_rows(block_folds, plan.n_folds, random_state, singletons,
                                        per_block=list(before), dtype=np.int64).persist()
    if plan.n_folds == 0:
        raise ValueError("no class can be cross-validated")
    result, flag_probs, info = run_pass(X, labels, folds, plan, n_classes=k, counts=counts, number=1, exclude=None,
                                        random_state=random_state, say=say, worker_memory=worker_memory)
    previous = None
    done = 1
    excluded = 0
    while done < plan.passes:
        flagged = find_issues_merged(DaskBlocks(labels, flag_probs), k).persist()
        n_flagged = int(flagged.sum().compute())
        if n_flagged / counts.sum() < plan.refit_min_flagged:
            break
        if say:
            say(f"probe pass {done + 1}/{plan.passes}: refitting without the {n_flagged} samples flagged so far")
        previous = result
        result, flag_probs, info = run_pass(X, labels, folds, plan, n_classes=k, counts=counts, number=done + 1,
                                            exclude=flagged, random_state=random_state, say=say,
                                            worker_memory=worker_memory)
        excluded = n_flagged
        done += 1
    if done >= 3:
        result = ((previous + result) / 2).persist()
        info["averaged_last_passes"] = 2
    loss = DaskBlocks(result, labels).map_rows(cross_entropy, dtype=np.float64).persist()
    right = DaskBlocks(result, labels).reduce(lambda p, y: np.array([(p.argmax(axis=1) == y).sum()]), np.add)
    uncrossvalidated = []
    if len(singletons):
        found = DaskBlocks(labels).map(lambda lab: np.flatnonzero(np.isin(lab, singletons)))
        starts = DaskBlocks(labels).starts
        uncrossvalidated = [int(i) for s, f in zip(starts, found) for i in s + f][:MAX_UNCROSSVALIDATED_LISTED]
    info = {"model": plan.name, "n_folds": plan.n_folds,
            "out_of_sample_accuracy": round(float(right[0] / counts.sum()), 6),
            "uncrossvalidated": uncrossvalidated, **info, "passes": done}
    if excluded:
        info["excluded_from_training"] = excluded
    if done > 1 and plan.refit_members is not None:
        info["refit_members"] = list(plan.refit_members)
    if plan.stronger_advice:
        info["stronger_probe_advice"] = plan.stronger_advice
    return result, loss, info


__all__ = ["out_of_fold", "run_pass", "TRAIN_ROWS"]
