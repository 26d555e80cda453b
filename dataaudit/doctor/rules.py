"""Cause rules: a symptom found in the curves, plus the per-row evidence, gives its cause.

Each rule returns a :class:`Symptom` whose ``facts`` hold what the advice text needs (numbers,
epochs, counts); the words are written by :mod:`dataaudit.doctor.advice`. Rules speak of outputs,
losses and learning rates, not of a framework.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..checks.base import SEVERITY_ORDER, severity
from ..dynamics import is_right, never_learned
from ..lint import USUAL_LR_TOP
from ..utils import json_value
from .curves import (
    Curve, curves, ended_at, find_collapse, find_fall_together, find_plateau, find_rise, smooth,
)
from .evidence import CAUSE_OF_FLAG, RowFlags, carriers, data_floor, forgetting_by_step, one_class_share, pull, row_losses
from .kinds import Cause, Pattern
from .thresholds import (
    CEILING_CONFIDENCE, CEILING_FIT, DIRTY_SHARE, FALL_ACC, FLAGGED_MAJORITY, MASS_FORGETTING,
    MOSTLY_UNLEARNED, ONE_CLASS_LABEL_SHARE, ONE_CLASS_SHARE, PULL_RATIO, PULL_SHARE, ROSE, ROWS_LISTED, SEVERITY,
)

_TINY = 1e-7
#: The lint rule on the learning rate: a set-up "problem" that is the learning rate itself.
LEARNING_RATE_RULE = "learning_rate_far_too_high"


@dataclass
class Symptom:
    """One pattern in a run, its cause and what the report says about it."""

    pattern: Pattern
    split: str
    first_epoch: int  # 0-based
    last_epoch: int
    cause: Cause
    severity: str
    count: int
    message: str = ""
    advice: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; epochs 1-based, as training logs print them."""
        return {"pattern": self.pattern.value, "split": self.split, "epochs": [self.first_epoch + 1, self.last_epoch + 1],
                "cause": self.cause.value, "severity": self.severity, "count": int(self.count),
                **{k: json_value(v, digits=6) for k, v in self.details.items()}}


@dataclass
class Run:
    """What the rules read, gathered once."""

    logp_given: np.ndarray
    margin: np.ndarray
    other: np.ndarray | None
    labels: np.ndarray
    in_training: np.ndarray
    epochs: np.ndarray  # recorded epochs, 0-based
    history: Mapping[str, np.ndarray]
    setup: Mapping[str, Any]
    flags: RowFlags
    n_classes: int
    setup_problems: list[tuple[str, str, str, str]]  # (code, severity, message, advice)
    norms: np.ndarray | None = None  # per recorded row, input_norms

    def __post_init__(self):
        self.losses = row_losses(self.logp_given)
        self.right = is_right(self.margin)
        self.p_given = np.exp(-self.losses)

    def step(self, epoch: int, *, after: bool) -> int:
        """The recorded column nearest an epoch: at or before it (window starts), at or after it (ends)."""
        e = np.asarray(self.epochs)
        pick = np.flatnonzero(e >= epoch) if after else np.flatnonzero(e <= epoch)
        if len(pick):
            return int(pick[0] if after else pick[-1])
        return int(np.argmin(np.abs(e - epoch)))

    def rows(self, split: str) -> np.ndarray:
        return self.in_training if split == "training" else ~self.in_training

    def flagged_share(self, mask: np.ndarray) -> float | None:
        flagged = self.flags.any()
        return None if flagged is None or not mask.any() else float(flagged[mask].mean())

    def predicted(self, column: int) -> np.ndarray | None:
        """The network's answer per recorded row at a recorded column (None without ``other``)."""
        if self.other is None:
            return None
        return np.where(self.right[:, column], self.labels, np.maximum(self.other[:, column], 0))


def grade(value: float, key: str) -> str:
    """A symptom's severity by its cut-offs in :data:`SEVERITY`."""
    return severity(value, **SEVERITY[key])


def dominant(counts: Mapping[str, int]) -> Cause | None:
    """The cause of the flag that marks the most rows."""
    if not counts or max(counts.values()) == 0:
        return None
    return Cause(CAUSE_OF_FLAG[max(counts, key=lambda k: counts[k])].value)


def learning_rate_facts(run: Run, epoch: int) -> dict[str, Any]:
    """The learning rate at ``epoch``, where it started, the optimiser's usual top, and whether
    it is above that range or rose during the run."""
    lrs = np.asarray(run.history.get("learning_rate", []), float)
    lr = float(lrs[min(epoch, len(lrs) - 1)]) if len(lrs) and np.isfinite(lrs).any() else run.setup.get("learning_rate")
    name = str(run.setup.get("optimizer") or "")
    top = USUAL_LR_TOP.get(name.lower())
    facts: dict[str, Any] = {"learning_rate": None, "optimizer": name, "usual_top": top, "rose_from": None, "high": False}
    if lr is None or not np.isfinite(lr):
        return facts
    facts["learning_rate"] = float(lr)
    if len(lrs) and np.isfinite(lrs[0]) and lr > 2 * lrs[0]:
        facts["rose_from"], facts["high"] = float(lrs[0]), True
    if top is not None and lr > top:
        facts["high"] = True
    return facts


def _one_class_collapse(run: Run, train: Curve) -> dict[str, Any] | None:
    """A run that ends answering one class for nearly every training row while the labels do not
    (or that never learned most of its training rows): a collapse, whatever its loss did.
    The epoch is the first recorded one from which the answers stay that way."""
    rows = run.in_training
    if not rows.any() or run.right.shape[1] < 2:
        return None
    last = run.right.shape[1] - 1
    predicted = run.predicted(last)
    unlearned = float(never_learned(run.margin[rows], np.ones(int(rows.sum()), bool)).mean())
    share, top, label_share = one_class_share(predicted[rows], run.labels[rows], run.n_classes) \
        if predicted is not None else (0.0, -1, 1.0)
    one_class = share >= ONE_CLASS_SHARE and label_share <= ONE_CLASS_LABEL_SHARE
    if not one_class and unlearned < MOSTLY_UNLEARNED:
        return None
    if one_class:
        stays = [one_class_share(run.predicted(c)[rows], run.labels[rows], run.n_classes)[0] >= ONE_CLASS_SHARE
                 for c in range(last + 1)]
    else:
        stays = list(run.right[rows].mean(axis=0) < 1 - MOSTLY_UNLEARNED)
    start = last
    while start > 0 and stays[start - 1]:
        start -= 1
    e = int(run.epochs[start])
    acc = train.accuracy
    if acc is not None and np.isfinite(acc[:max(e, 1)]).any():
        p = int(np.nanargmax(acc[:max(e, 1)]))
        best = float(acc[p])
    else:
        recorded = run.right[rows].mean(axis=0)
        p = int(run.epochs[int(np.argmax(recorded[:max(start, 1)]))])
        best = float(recorded[:max(start, 1)].max())
    at = float(acc[e]) if acc is not None and np.isfinite(acc[e]) else float(run.right[rows, start].mean())
    loss = train.loss
    low = float(np.nanmin(loss[:max(e, 1)])) if np.isfinite(loss[:max(e, 1)]).any() else float("nan")
    return {"kind": "one_class" if one_class else "unlearned", "epoch": e, "best_epoch": min(p, e),
            "drop": max(best - at, 0.0), "accuracy": (best, at, ended_at(acc) if acc is not None else float("nan")),
            "loss": (low, float(loss[e]), ended_at(loss)), "one_class_share": share, "one_class": top,
            "one_class_label_share": label_share, "unlearned_share": unlearned}


def collapse(run: Run, train: Curve) -> Symptom | None:
    """Training broke: divergence, collapse, degradation, or answers all one class. Never the
    data (the rows were the same every epoch): the set-up when it has a problem besides the
    learning rate, else the learning rate."""
    found = find_collapse(train.loss, train.accuracy)
    if found is None and train.accuracy is None and run.in_training.any() and len(run.epochs) >= 2:
        # No accuracy in the history: judge the recorded epochs (inference-mode accuracy of the rows).
        rec = curves({}, run.logp_given, run.margin, run.in_training, run.epochs)["training"]
        e = np.asarray(run.epochs)
        found = find_collapse(rec.loss[e], rec.accuracy[e])
        if found is not None:
            found["epoch"], found["best_epoch"] = int(e[found["epoch"]]), int(e[found["best_epoch"]])
    if found is None:
        found = _one_class_collapse(run, train)
    if found is None:
        return None
    steps = forgetting_by_step(run.margin[run.in_training]) \
        if run.in_training.any() and run.margin.shape[1] >= 2 else np.zeros(0)
    e, p = found["epoch"], found["best_epoch"]
    (best, at, end), (low, jumped, end_loss) = found["accuracy"], found["loss"]
    j = run.step(e, after=True)
    forgotten_share = float(steps[j - 1]) if 0 < j <= len(steps) else float("nan")
    if found["kind"] == "degradation" and forgotten_share >= MASS_FORGETTING:
        found["kind"] = "collapse"  # many rows forgotten at once: a collapse, however far accuracy fell
    train_rows = run.in_training
    forgotten = 0
    if 1 <= j < run.right.shape[1]:
        forgotten = int((run.right[train_rows, j - 1] & ~run.right[train_rows, j]).sum())
    if "one_class_share" not in found:
        last = run.right.shape[1] - 1
        predicted = run.predicted(last)
        if predicted is not None and train_rows.any():
            share, top, label_share = one_class_share(predicted[train_rows], run.labels[train_rows], run.n_classes)
            if share >= ONE_CLASS_SHARE and label_share <= ONE_CLASS_LABEL_SHARE:
                found.update(one_class_share=share, one_class=top, one_class_label_share=label_share)
    lr = learning_rate_facts(run, e)
    problems = [pr for pr in run.setup_problems if pr[1] in ("warning", "critical") and pr[0] != LEARNING_RATE_RULE]
    lr_flagged = any(pr[0] == LEARNING_RATE_RULE for pr in run.setup_problems)
    cause = Cause.SETUP if problems else Cause.LEARNING_RATE
    broken = found["kind"] in ("collapse", "divergence", "one_class", "unlearned")
    sev = "critical" if broken else grade(found["drop"], "collapse")
    # Answering a minority class everywhere only lowers a loss that weights that class up.
    weighted = "one_class_share" in found and found["one_class_label_share"] < ONE_CLASS_LABEL_SHARE
    details = {"kind": found["kind"], "accuracy_best": best, "accuracy_at": at, "accuracy_end": end,
               "loss_before": low, "loss_at": jumped, "loss_end": end_loss, "forgotten_rows": forgotten,
               "forgotten_share": forgotten_share, "setup_problems": len(problems)}
    if "one_class_share" in found:
        details.update({"one_class_share": found["one_class_share"], "one_class_label_share": found["one_class_label_share"]})
    facts = {**found, "forgotten": forgotten, "forgotten_share": forgotten_share, "problems": problems,
             "lr": lr, "lr_flagged": lr_flagged, "weighted": weighted, "accuracy_name": train.accuracy_name,
             "from_epoch": int(run.epochs[j - 1]) if j >= 1 else None, "to_epoch": int(run.epochs[j])}
    first = p if found["kind"] != "divergence" else e
    return Symptom(Pattern.COLLAPSE, "training", first, e, cause, sev, max(forgotten, 1), details=details, facts=facts)


def carried(run: Run, split: str, a: int, b: int, *, falling: bool = False) -> dict[str, Any] | None:
    """The rows of a split that carry the change of its loss between epochs a and b."""
    mask = run.rows(split)
    ia, ib = run.step(a, after=False), run.step(b, after=True)
    if ia >= ib or not mask.any():
        return None
    idx = np.flatnonzero(mask)
    before, after = run.losses[idx, ia], run.losses[idx, ib]
    carry = carriers(after, before) if falling else carriers(before, after)
    total_after = float(after.sum())
    flagged = run.flags.any()
    return {
        "from_epoch": int(run.epochs[ia]), "to_epoch": int(run.epochs[ib]),
        "net_change": float((after - before).sum() / len(idx)),
        "rows": idx[carry], "n": int(len(carry)), "share_of_rows": len(carry) / len(idx),
        "share_of_loss": float(after[carry].sum() / total_after) if total_after > 0 else 0.0,
        "flags": run.flags.count(idx[carry]),
        "flagged": int(flagged[idx[carry]].sum()) if flagged is not None else None,
        "turned_wrong": int((run.right[idx, ia] & ~run.right[idx, ib]).sum()),
        "turned_right": int((~run.right[idx, ia] & run.right[idx, ib]).sum()),
    }


def rise(run: Run, curve: Curve, train: Curve | None) -> Symptom | None:
    """A loss that rises: the flagged rows memorised (the data), overfitting (validation parts
    from training on clean data), a penalty that grows (no row's loss rose), or optimisation."""
    found = find_rise(curve.loss)
    if found is None:
        return None
    a, b = found
    low, end = float(smooth(curve.loss)[a]), ended_at(curve.loss)
    rel = (end - low) / max(low, _TINY)
    split = curve.split
    accuracy = None  # (which accuracy, from, to, rose)
    for c in [curve] + ([train] if train is not None and train is not curve else []):
        if c.accuracy is None or not np.isfinite(c.accuracy[a]):
            continue
        start_acc, end_acc = float(smooth(c.accuracy)[a]), ended_at(c.accuracy)
        if end_acc >= start_acc + ROSE or (c is curve and end_acc >= start_acc - FALL_ACC):
            accuracy = (c.split, c.accuracy_name, start_acc, end_acc, end_acc >= start_acc + ROSE)
            break
    train_fell = False
    if split == "validation" and train is not None:
        t = smooth(train.loss)
        train_fell = bool(np.isfinite(t[a]) and ended_at(train.loss) <= t[a])
    if split == "validation" and not train_fell:
        return None  # both losses rise: a collapse or a degradation, judged on the training curve
    if split == "training" and accuracy is None:
        return None  # loss up, accuracy down: a collapse or a degradation
    carry = carried(run, split, a, b)
    train_share = run.flagged_share(run.in_training)
    flagged = run.flags.any()
    details: dict[str, Any] = {"loss_from": low, "loss_to": end, "relative_rise": rel}
    count = 0
    if carry is not None and carry["n"]:
        count = carry["n"]
        details.update({"carriers": carry["n"], "carriers_share_of_rows": carry["share_of_rows"],
                        "carriers_share_of_loss": carry["share_of_loss"], "carriers_flagged": carry["flags"],
                        "carriers_rows": [int(i) for i in carry["rows"][:ROWS_LISTED]]})
    flagged_majority = (carry is not None and carry.get("flagged") is not None and carry["n"] > 0
                        and carry["flagged"] >= FLAGGED_MAJORITY * carry["n"])
    details["training_rows_flagged"] = train_share
    pattern, cause, story = Pattern.LOSS_UP_ACCURACY_UP, Cause.UNKNOWN, "unrecorded"
    if split == "training" and carry is None:
        story = "unrecorded"
    elif split == "training" and carry["n"] == 0:
        cause, story = Cause.REGULARISATION, "penalty"
    elif flagged_majority and split == "training":
        cause, story = dominant(carry["flags"]) or Cause.LABEL_NOISE, "carriers_flagged"
    elif flagged_majority and train_share is not None and train_share >= DIRTY_SHARE:
        cause, story = dominant(carry["flags"]) or Cause.LABEL_NOISE, "memorising"
    elif split == "validation":
        pattern = Pattern.TRAIN_VAL_PARTING
        cause, story = (Cause.UNKNOWN, "parting_unknown") if train_share is None else (Cause.OVERFITTING, "parting")
    else:
        cause, story = Cause.OPTIMISATION, "optimisation"
    facts = {"low": low, "end": end, "rel": rel, "accuracy": accuracy, "train_fell": train_fell,
             "train_loss": (float(smooth(train.loss)[a]), ended_at(train.loss)) if train_fell else None,
             "carried": carry, "train_share": train_share, "story": story,
             "n_train": int(run.in_training.sum()),
             "n_flagged_train": 0 if flagged is None else int(flagged[run.in_training].sum()),
             "train_flags": run.flags.count(np.flatnonzero(run.in_training))}
    return Symptom(pattern, split, a, b, cause, grade(rel, "loss_rise"), count, details=details, facts=facts)


def pulling(run: Run, a: int, b: int) -> dict[str, Any] | None:
    """Flagged training rows (outliers, conflicting duplicates) whose pull on the weights over
    epochs a..b is out of proportion: at least PULL_SHARE of it, and PULL_RATIO times their share
    of the rows. None when there are none (or no input norms, or no such flags)."""
    f = run.flags
    arrays = [x for x in (f.outlier, f.conflicting) if x is not None]
    if run.norms is None or not arrays:
        return None
    mask = run.in_training
    flagged = np.logical_or.reduce(arrays)[mask]
    if not flagged.any() or flagged.all():
        return None
    ia, ib = run.step(a, after=False), run.step(b, after=True)
    per_row = pull(run.p_given[mask, ia:ib + 1], run.norms[mask]).mean(axis=1)
    total = float(per_row.sum())
    if total <= 0:
        return None
    share = float(per_row[flagged].sum() / total)
    row_share = float(flagged.mean())
    if share < PULL_SHARE or share < PULL_RATIO * row_share:
        return None
    rows = np.flatnonzero(mask)[flagged]
    counts = {k: v for k, v in f.count(rows).items() if k in ("outlier", "conflicting")}
    return {"n": int(flagged.sum()), "share_of_rows": row_share, "share_of_pull": share, "flags": counts}


def fall(run: Run, curve: Curve) -> Symptom | None:
    """Loss and accuracy falling together: a few flagged rows pulling the weights (the data), or
    a weighted loss."""
    if curve.accuracy is None:
        return None
    found = find_fall_together(curve.loss, curve.accuracy)
    if found is None:
        return None
    p, b = found
    split = curve.split
    acc_peak, acc_end = float(smooth(curve.accuracy)[p]), ended_at(curve.accuracy)
    loss_peak, loss_end = float(smooth(curve.loss)[p]), ended_at(curve.loss)
    carry = carried(run, split, p, b, falling=True)
    details: dict[str, Any] = {"accuracy_from": acc_peak, "accuracy_to": acc_end, "loss_from": loss_peak,
                               "loss_to": loss_end}
    cause, count = Cause.UNKNOWN, 0
    if carry is not None and carry["n"]:
        count = carry["n"]
        details.update({"carriers": carry["n"], "carriers_flagged": carry["flags"],
                        "turned_wrong": carry["turned_wrong"], "turned_right": carry["turned_right"],
                        "carriers_rows": [int(i) for i in carry["rows"][:ROWS_LISTED]]})
        if carry.get("flagged") is not None and carry["flagged"] >= FLAGGED_MAJORITY * carry["n"]:
            counts = {k: v for k, v in carry["flags"].items() if k in ("outlier", "conflicting")} or carry["flags"]
            cause = dominant(counts) or dominant(carry["flags"]) or Cause.UNKNOWN
    behind = pulling(run, p, b)
    if behind is not None:
        details.update({"pulling_rows": behind["n"], "pulling_share_of_rows": behind["share_of_rows"],
                        "pulling_share_of_pull": behind["share_of_pull"], "pulling_flagged": behind["flags"]})
        if cause is Cause.UNKNOWN:
            cause = dominant(behind["flags"]) or Cause.UNKNOWN
            count = behind["n"]
    facts = {"acc_peak": acc_peak, "acc_end": acc_end, "loss_peak": loss_peak, "loss_end": loss_end,
             "carried": carry, "behind": behind, "accuracy_name": curve.accuracy_name}
    return Symptom(Pattern.LOSS_AND_ACCURACY_FALL, split, p, b, cause,
                   grade(acc_peak - acc_end, "loss_and_accuracy_fall"), count, details=details, facts=facts)


def plateau(run: Run, train: Curve) -> Symptom | None:
    """The training loss stopped falling: at the data's ceiling (the flagged rows are what is
    left), short of it (capacity or optimisation), or unknown without the data checks."""
    found = find_plateau(train.loss, train.accuracy)
    if found is None:
        return None
    s, b = found
    mask = run.in_training
    if not mask.any():
        return None
    end_loss = ended_at(train.loss)
    acc_end = ended_at(train.accuracy) if train.accuracy is not None else float("nan")
    last = run.right.shape[1] - 1
    rec_right = run.right[mask, last]
    rec_acc = float(rec_right.mean())
    rec_loss = float(run.losses[mask, last].mean())
    f = run.flags
    have = f.label_issue is not None or (f.conflicting is not None and f.group is not None)
    floor = data_floor(run.labels[mask], run.n_classes,
                       label_issue=None if f.label_issue is None else f.label_issue[mask],
                       group=None if f.group is None else f.group[mask],
                       conflicting=None if f.conflicting is None else f.conflicting[mask])
    flagged = f.any()
    clean = ~flagged[mask] if flagged is not None else np.ones(int(mask.sum()), bool)
    fit_clean = float(rec_right[clean].mean()) if clean.any() else float("nan")
    conf_clean = float(np.asarray(run.p_given[mask][clean, last], float).mean()) if clean.any() else float("nan")
    details = {"loss_end": end_loss, "accuracy_end": acc_end, "recorded_accuracy": rec_acc, "recorded_loss": rec_loss,
               "accuracy_ceiling": floor["accuracy"], "loss_floor": floor["loss"],
               "accuracy_on_unflagged_rows": fit_clean}
    facts = {"end_loss": end_loss, "acc_end": acc_end, "rec_acc": rec_acc, "rec_loss": rec_loss, "floor": floor,
             "fit_clean": fit_clean, "conf_clean": conf_clean, "accuracy_name": train.accuracy_name,
             "n_flagged": int((~clean).sum())}
    if not have:
        return Symptom(Pattern.PLATEAU, "training", s, b, Cause.UNKNOWN, "info", 0, details=details, facts=facts)
    if fit_clean >= CEILING_FIT and conf_clean >= CEILING_CONFIDENCE:
        cause, sev, count = Cause.DATA_CEILING, grade(1.0 - floor["accuracy"], "plateau_at_ceiling"), facts["n_flagged"]
    else:
        cause, sev = Cause.CAPACITY_OR_OPTIMISATION, grade(1.0, "plateau_short_of_ceiling")
        count = int((~rec_right[clean]).sum())
    details["confidence_on_unflagged_rows"] = conf_clean
    return Symptom(Pattern.PLATEAU, "training", s, b, cause, sev, count, details=details, facts=facts)


def find_symptoms(run: Run) -> list[Symptom]:
    """Every symptom of a run with its cause, most serious first (no words yet)."""
    found = curves(run.history, run.logp_given, run.margin, run.in_training, run.epochs)
    train, val = found.get("training"), found.get("validation")
    symptoms: list[Symptom] = []
    broke = collapse(run, train) if train is not None else None
    if broke is not None:
        symptoms.append(broke)
    else:
        for curve in (val, train):
            if curve is None:
                continue
            symptom = rise(run, curve, train) or fall(run, curve)
            if symptom is not None:
                symptoms.append(symptom)
        falls = {s.split: s for s in symptoms if s.pattern is Pattern.LOSS_AND_ACCURACY_FALL}
        if len(falls) == 2:  # one story: told on the training rows, the validation rows as a witness
            falls["training"].facts["witness"] = falls["validation"]
            symptoms.remove(falls["validation"])
        if train is not None and not any(s.split == "training" for s in symptoms):
            flat = plateau(run, train)
            if flat is not None:
                symptoms.append(flat)
    symptoms.sort(key=lambda s: -SEVERITY_ORDER[s.severity])
    return symptoms


__all__ = ["LEARNING_RATE_RULE", "Run", "Symptom", "find_symptoms"]
