"""The fold loop: execute a :class:`~dataaudit.probe.plan.ProbePlan`, pass by pass.

Every probability a sample gets comes from a model that did not see that sample (stratified
K-fold, dealt by :func:`dataaudit.rowfolds.deal_folds`); confident learning and the loss check
are only meaningful on such probabilities. A class with a single member cannot be
cross-validated: that sample gets the class frequencies of the others
(``info["uncrossvalidated"]``).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..probabilities import ProbeResult, average, cross_entropy, row_normalised
from ..rowfolds import deal_folds
from .executor import Executor, FoldTask, LocalExecutor
from .images import views
from .models import split_view
from .plan import MEMBER_GAP, ProbePlan, fold_estimators, make_plan

#: Rows named in ``info["uncrossvalidated"]``.
MAX_UNCROSSVALIDATED_LISTED = 50


def kept_members(member_probs: np.ndarray, member_has: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Which members go into the gated mean: those whose out-of-fold accuracy on the given
    labels is within ``MEMBER_GAP`` of the best member's. Noisy labels lower every member's
    accuracy by about the same amount, so the gap still ranks them; an equal mean is only as
    good as its worst member allows.

    Examples
    --------
    >>> p = np.array([[[0.9, 0.1], [0.2, 0.8], [0.8, 0.2]], [[0.6, 0.4], [0.6, 0.4], [0.6, 0.4]]])
    >>> kept_members(p, np.ones((2, 3), bool), np.array([0, 1, 0])).tolist()
    [True, False]
    """
    right = member_probs.argmax(axis=2) == labels[None, :]
    accuracy = (right & member_has).sum(axis=1) / np.maximum(member_has.sum(axis=1), 1)
    return accuracy >= accuracy.max() - MEMBER_GAP


def _without(train: np.ndarray, exclude: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``train`` minus the excluded rows, except for classes that would lose every member."""
    kept = train[~exclude[train]]
    lost = np.setdiff1d(labels[train], labels[kept])
    if len(lost):
        kept = np.sort(np.concatenate([kept, train[exclude[train] & np.isin(labels[train], lost)]]))
    return kept


def plan_inputs(features: np.ndarray, plan: ProbePlan,
                progress: Callable[[str], None] | None = None) -> dict[str | None, np.ndarray]:
    """The inputs the plan's members read, by view: the rows themselves (None) and each view
    (computed once for every fold and pass: nothing in a view is fitted)."""
    if not plan.views:
        return {None: features}
    if progress:
        progress(f"probe {plan.name}: computing the {', '.join(plan.views)} views of {len(features)} pictures")
    return {None: features, **views(plan.views, features, plan.geometry)}


def run_pass(features: np.ndarray, labels: np.ndarray, n_classes: int, plan: ProbePlan, *, number: int = 1,
             exclude: np.ndarray | None = None, random_state: int = 0,
             progress: Callable[[str], None] | None = None, executor: Executor | None = None,
             inputs: dict[str | None, np.ndarray] | None = None) -> ProbeResult:
    """One pass of ``plan``: out-of-fold probabilities of its members, averaged (gated when the
    plan says so), and per-sample losses. ``exclude`` rows are left out of every training part
    (they still get out-of-fold probabilities). ``inputs``: :func:`plan_inputs`, when made already."""
    executor = executor or LocalExecutor()
    if inputs is None:
        inputs = plan_inputs(features, plan, progress)
    n = len(labels)
    counts = np.bincount(labels, minlength=n_classes)
    singletons = np.flatnonzero(counts == 1)
    cv_mask = ~np.isin(labels, singletons)
    prior = counts / n
    probs = np.zeros((n, n_classes))
    estimators, members = plan.for_pass(number, n, random_state)
    gated = plan.gate and members == plan.members
    refit_probs = None
    left_out: list[str] = []
    if plan.n_folds == 0:
        probs[:] = prior
    else:
        idx = np.flatnonzero(cv_mask)
        # Dealt, not drawn: a Dask cluster holding the rows in partitions deals the same folds.
        fold_of = deal_folds(labels[idx], plan.n_folds, random_state, n_classes=n_classes)
        tasks = []
        for fold in range(plan.n_folds):
            train, test = idx[fold_of != fold], idx[fold_of == fold]
            if exclude is not None:
                train = _without(train, exclude, labels)
            chosen = fold_estimators(estimators, members, np.bincount(labels[train], minlength=n_classes), n,
                                     random_state)
            # A member's index in the pass (-1: a stand-in the fold rule put in its place).
            for e in chosen:
                member = next((i for i, m in enumerate(estimators) if m is e), -1)
                reads = split_view(members[member])[1] if members and member >= 0 else None
                tasks.append(FoldTask(fold, plan.n_folds, member, e, train, test, reads))
        outputs = executor.run(tasks, inputs, labels, n_classes, progress=progress, name=plan.name)
        member_probs = np.zeros((len(estimators), n, n_classes))
        member_has = np.zeros((len(estimators), n), dtype=bool)
        sums = np.zeros((n, n_classes))
        fits = np.zeros(n)
        for task, out in zip(tasks, outputs):
            sums[task.test] += out
            fits[task.test] += 1
            if task.member >= 0:
                member_probs[task.member, task.test], member_has[task.member, task.test] = out, True
        covered = fits > 0
        probs[covered] = sums[covered] / fits[covered, None]
        if len(singletons):
            probs[~cv_mask] = prior
        if gated:
            kept = kept_members(member_probs, member_has, labels)
            if not kept.all():
                refit_probs = row_normalised(probs)
                weight = member_has[kept].sum(axis=0)
                judged = cv_mask & (weight > 0)
                probs[judged] = member_probs[kept].sum(axis=0)[judged] / weight[judged][:, None]
                left_out = [m for m, k in zip(members, kept) if not k]
    probs = row_normalised(probs)
    info: dict[str, Any] = {
        "model": plan.name,
        "n_folds": plan.n_folds,
        "out_of_sample_accuracy": round(float((probs.argmax(axis=1) == labels).mean()), 6),
        "uncrossvalidated": [int(i) for i in np.flatnonzero(~cv_mask)[:MAX_UNCROSSVALIDATED_LISTED]],
    }
    if plan.geometry is not None:
        g = plan.geometry
        info["pictures"] = f"{g.height} x {g.width} x {g.channels}" + (" (channels first)" if g.channels_first else "")
        info["picture_shape"] = [g.height, g.width, g.channels]
        info["channels_first"] = g.channels_first
        info["members"] = list(members)
    if left_out:
        info["members_left_out"] = left_out
    if exclude is not None:
        info["excluded_from_training"] = int(exclude.sum())
    return ProbeResult(probs, cross_entropy(probs, labels), info, refit_probs=refit_probs)


def fit_out_of_sample(
    features: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    model: Any = "auto",
    *,
    flag: Callable[[np.ndarray, np.ndarray], np.ndarray],
    passes: int | None = None,
    random_state: int = 0,
    progress: Callable[[str], None] | None = None,
    sample_shape: tuple = (),
    epochs: int = 20,
    batch_size: int = 128,
    augment: float = 0.0,
    executor: Executor | None = None,
) -> ProbeResult:
    """Execute the plan's passes, each refit leaving out of training the samples
    ``flag(labels, pred_probs)`` marked on the pass before.

    A probe trained on noisy labels learns part of the noise; refitting without what confident
    learning flags gives cleaner probabilities. Refitting stops early when a pass flags under
    the plan's ``refit_min_flagged``; from the third pass on, the result is the mean of the last
    two passes (two refits on slightly different clean sets, averaged, vary less than either).
    """
    plan = make_plan(model, np.bincount(labels, minlength=n_classes), tuple(sample_shape) or tuple(features.shape[1:]),
                     random_state=random_state, passes=passes, epochs=epochs, batch_size=batch_size, augment=augment,
                     sample=features)

    inputs = plan_inputs(features, plan, progress)

    def one_pass(number: int, exclude: np.ndarray | None) -> ProbeResult:
        return run_pass(features, labels, n_classes, plan, number=number, exclude=exclude,
                        random_state=random_state, progress=progress, executor=executor, inputs=inputs)

    result = one_pass(1, None)
    previous = None
    done = 1
    while done < plan.passes:
        # The gated small ensemble chooses what a refit leaves out with all its members.
        flagged = flag(labels, result.pred_probs if result.refit_probs is None else result.refit_probs)
        if flagged.mean() < plan.refit_min_flagged:
            break
        if progress:
            progress(f"probe pass {done + 1}/{plan.passes}: refitting without the {int(flagged.sum())} samples flagged so far")
        previous, result = result, one_pass(done + 1, flagged)
        done += 1
    if done >= 3:
        result = average(previous, result, labels)
    result.info["passes"] = done
    if done > 1 and plan.refit_members is not None:
        result.info["refit_members"] = list(plan.refit_members)
    if plan.stronger_advice:
        result.info["stronger_probe_advice"] = plan.stronger_advice
    return result


def run_probe(features: np.ndarray, labels: np.ndarray, n_classes: int, model: Any = "auto", *,
              random_state: int = 0, epochs: int = 20, batch_size: int = 128,
              progress: Callable[[str], None] | None = None, exclude: np.ndarray | None = None,
              sample_shape: tuple = (), executor: Executor | None = None) -> ProbeResult:
    """One pass of ``model``'s plan (see :func:`run_pass`)."""
    plan = make_plan(model, np.bincount(labels, minlength=n_classes), tuple(sample_shape) or tuple(features.shape[1:]),
                     random_state=random_state, passes=1, epochs=epochs, batch_size=batch_size, sample=features)
    return run_pass(features, labels, n_classes, plan, exclude=exclude, random_state=random_state,
                    progress=progress, executor=executor)


__all__ = ["fit_out_of_sample", "kept_members", "plan_inputs", "run_pass", "run_probe"]
