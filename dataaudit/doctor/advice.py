"""The words: a symptom's message and advice, keyed by its pattern, its cause and the framework
the run was trained with (Keras names the callbacks and arguments to change; any other loop
gets the same advice in plain terms)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..utils import plural
from .evidence import FLAG_NAMES, FLAG_SINGULAR
from .kinds import DATA_CAUSES, Cause, Pattern
from .rules import Symptom
from .thresholds import CEILING_CONFIDENCE, DEGRADE_DROP, DIRTY_SHARE

#: Framework-specific phrases; "any" is the plain wording for a loop of the user's own.
PHRASES: dict[str, dict[str, str]] = {
    "keras": {
        "schedule": "keras.callbacks.ReduceLROnPlateau",
        "clip": "add clipnorm=1.0 to the optimizer",
        "clip_limits": "clipnorm=1.0 in the optimizer limits how hard one row can pull",
        "keep_best": "keras.callbacks.EarlyStopping(restore_best_weights=True) or ModelCheckpoint(save_best_only=True)",
        "keep_best_short": "EarlyStopping(restore_best_weights=True)",
        "stop_on_val": "keras.callbacks.EarlyStopping(monitor='val_loss', restore_best_weights=True)",
        "stop_on_val_patience": "keras.callbacks.EarlyStopping(monitor='val_loss', patience=3, restore_best_weights=True)",
        "penalty": "the weight penalty (kernel_regularizer) or the Dropout noise",
        "dropout": "Dropout",
        "record_more": "record more epochs (AuditCallback records up to 100)",
        "class_weight": "class_weight",
    },
    "any": {
        "schedule": "a scheduler that lowers it when the loss stops falling",
        "clip": "clip the gradients' norm at 1.0",
        "clip_limits": "clipping the gradients' norm at 1.0 limits how hard one row can pull",
        "keep_best": "early stopping that restores the best epoch's weights",
        "keep_best_short": "early stopping that restores the best weights",
        "stop_on_val": "early stopping on the validation loss, restoring the best weights",
        "stop_on_val_patience": "early stopping on the validation loss (patience 3), restoring the best weights",
        "penalty": "the weight penalty (weight decay) or the dropout noise",
        "dropout": "dropout",
        "record_more": "log more epochs to the recorder",
        "class_weight": "class weights",
    },
}

_FIX_ROWS = ("samples.csv: is_label_issue, suggested_label, is_outlier, is_conflicting_duplicate; "
             "fit(..., sample_weight=report.sample_weight()) or report.clean_data(X, y, relabel=True)")


def pct(x: float) -> str:
    return f"{x:.1%}" if np.isfinite(x) else "n/a"


def num(x: float) -> str:
    return f"{x:.3g}" if np.isfinite(x) else "NaN"


def flag_summary(counts: Mapping[str, int]) -> str:
    """``"29 label issues, 3 outliers"`` (zero counts left out), ``"none flagged"``, or
    ``"no data check ran"``."""
    if not counts:
        return "no data check ran"
    return ", ".join(plural(counts[k], FLAG_SINGULAR[k], FLAG_NAMES[k]) for k in counts if counts[k]) or "none flagged"


def _lost(floor: Mapping[str, Any]) -> str:
    """What the ceiling is made of, in words."""
    parts = []
    if floor["lost_to_conflicts"]:
        parts.append(f"{plural(floor['lost_to_conflicts'], 'row')} lost to conflicting duplicates")
    if floor["lost_to_label_issues"]:
        parts.append(f"{plural(floor['lost_to_label_issues'], 'row')} flagged as label issues")
    return ", ".join(parts) or "nothing flagged"


def _learning_rate(lr: Mapping[str, Any]) -> str:
    if lr["learning_rate"] is None:
        return "the learning rate"
    parts = [f"the learning rate was {lr['learning_rate']:g}"]
    if lr["rose_from"] is not None:
        parts.append(f"(it rose from {lr['rose_from']:g} at epoch 1)")
    if lr["usual_top"] is not None and lr["learning_rate"] > lr["usual_top"]:
        parts.append(f"above {lr['optimizer']}'s usual range (up to about {lr['usual_top']:g})")
    return " ".join(parts)


def _collapse(s: Symptom, w: Mapping[str, str]) -> tuple[str, str]:
    f = s.facts
    e, p = f["epoch"], f["best_epoch"]
    (best, at, end), (low, jumped, end_loss) = f["accuracy"], f["loss"]
    name = f["accuracy_name"]
    kind = f["kind"]
    if kind == "divergence":
        message = f"training diverged at epoch {e + 1}: the loss became NaN/infinite after reaching {num(low)}"
    elif kind in ("one_class", "unlearned"):
        message = f"training collapsed at epoch {e + 1}: {name} fell from {pct(best)} (epoch {p + 1}) to {pct(at)}"
        if kind == "one_class":
            message += (f" and the network answers one class for {pct(f['one_class_share'])} of the training rows, "
                        f"which the labels give to {pct(f['one_class_label_share'])}")
        else:
            message += f" and it never learned {pct(f['unlearned_share'])} of its training rows"
        message += f"; the loss went from {num(low)} to {num(end_loss)}"
    elif kind == "collapse":
        message = (f"training collapsed at epoch {e + 1}: {name} fell from {pct(best)} (epoch {p + 1}) "
                   f"to {pct(at)} and the loss jumped from {num(low)} to {num(jumped)}")
        if end < best - DEGRADE_DROP:
            message += f"; it ended at {pct(end)}, loss {num(end_loss)}"
    else:
        message = (f"training got worse from epoch {e + 1}: {name} fell from {pct(best)} (epoch {p + 1}) "
                   f"to {pct(end)} at the end while the loss rose from {num(low)} to {num(end_loss)}")
    if f["forgotten"] and np.isfinite(f["forgotten_share"]):
        message += (f"; {plural(f['forgotten'], 'training row')} ({f['forgotten_share']:.0%} of those it had right) were "
                    f"forgotten between recorded epochs {f['from_epoch'] + 1} and {f['to_epoch'] + 1}")
    lr_note = _learning_rate(f["lr"])
    problems = f["problems"]
    advice = ["Not the data: the rows were the same in every epoch, the weights changed."]
    if s.cause is Cause.SETUP:
        advice.append("Your set-up has " + ("a problem" if len(problems) == 1 else f"{len(problems)} problems")
                      + " (setup check): " + "; ".join(f"{m} ({a.rstrip('.')})" for _, _, m, a in problems) + ".")
        advice.append(f"Then the learning rate: {lr_note}.")
    else:
        advice.append(f"The learning rate or the optimiser: {lr_note}"
                      + (": too high for this model." if f["lr"]["high"] else ": too high for this model at this point of training."))
    if f.get("weighted"):
        advice.append(f"The class weights amplified it: answering the rare class everywhere lowers only a loss that "
                      f"weights that class up ({w['class_weight']}, sample_weight); with a sound learning rate keep "
                      "them, or use the weights the class_balance check suggests.")
    advice.append(f"Lower it about 10x (or schedule it down: {w['schedule']}), {w['clip']}, and keep the best epoch's "
                  f"weights ({w['keep_best']}). This run's label verdicts average in the broken epochs: rescan a run "
                  "that trains cleanly before acting on them.")
    return message, " ".join(advice)


def _rise(s: Symptom, w: Mapping[str, str]) -> tuple[str, str]:
    f = s.facts
    split, a, b = s.split, s.first_epoch, s.last_epoch
    message = f"{split} loss rose from {num(f['low'])} (epoch {a + 1}) to {num(f['end'])} (epoch {b + 1}, +{f['rel']:.0%})"
    if f["accuracy"] is not None:
        acc_split, acc_name, start_acc, end_acc, rose = f["accuracy"]
        name = ("validation " if acc_split == "validation" else "training ") + acc_name
        message += f" while {name} {'rose' if rose else 'held'} from {pct(start_acc)} to {pct(end_acc)}"
    if f["train_loss"] is not None:
        message += f", and the training loss fell from {num(f['train_loss'][0])} to {num(f['train_loss'][1])}"
    carry = f["carried"]
    if carry is not None and carry["n"]:
        one = carry["n"] == 1
        message += (f": {plural(carry['n'], split + ' row')} ({carry['share_of_rows']:.0%}) "
                    f"{'carries' if one else 'carry'} the whole rise and {'holds' if one else 'hold'} "
                    f"{carry['share_of_loss']:.0%} of the {split} loss at epoch {carry['to_epoch'] + 1}")
        if carry["flags"]:
            message += f" ({flag_summary(carry['flags'])})"
    story, train_share, n_train = f["story"], f["train_share"], f["n_train"]
    if story == "unrecorded":
        advice = ("The per-sample record has no two recorded epochs in this window to split the rise by rows; "
                  f"{w['record_more']} to tell the data from the set-up.")
    elif story == "penalty":
        advice = (f"Your rows' own losses did not rise (recorded per-sample loss {carry['net_change']:+.3g} per row "
                  f"over these epochs): what rose is the part of the reported loss that is not the rows' -- {w['penalty']}, "
                  "which grow as the weights grow. Not the data. Lower the regularisation, or judge the run by the "
                  "validation loss.")
    elif story == "carriers_flagged":
        advice = ("The data: the rows whose loss rose are flagged rows whose labels contradict what the other rows "
                  "teach; as the network grows more confident in that, it grows more confidently wrong on them, and "
                  "their loss outgrows what the rest gain while accuracy still rises. Not the optimiser. Fix or "
                  f"down-weight those rows ({_FIX_ROWS}).")
    elif story == "memorising":
        advice = (f"The data: the network is learning {plural(f['n_flagged_train'], 'flagged training row')} by heart "
                  f"({flag_summary(f['train_flags'])} among the {n_train:,} training rows); accuracy keeps climbing as it "
                  "memorises them, while on the rows whose labels disagree with what it learned it grows ever more "
                  f"confidently wrong, and the loss rises. Not the optimiser. Fix or down-weight those rows ({_FIX_ROWS}); "
                  f"until then stop at epoch {a + 1} ({w['stop_on_val']}).")
    elif story in ("parting", "parting_unknown"):
        if story == "parting_unknown":
            advice = ("Overfitting or bad labels: without the label_issues, duplicates and outliers checks the report "
                      "cannot tell whether the training data is clean; run them (the default). ")
        elif train_share < DIRTY_SHARE:
            advice = (f"Overfitting, not the data: the training data looks clean ({train_share:.1%} of the "
                      f"{n_train:,} training rows flagged), the network fits it ever more closely and what it "
                      "learns there stops carrying over to new rows")
        else:
            advice = (f"Overfitting: {train_share:.1%} of the {n_train:,} training rows are flagged, but the rows "
                      "carrying the rise are mostly not; the network fits its training rows ever more closely and "
                      "what it learns there stops carrying over to new rows")
        if story == "parting":
            if carry is not None and carry["n"]:
                advice += "; the validation rows it gets wrong, it gets wrong ever more confidently"
            advice += ". "
        advice += (f"Stop at epoch {a + 1} ({w['stop_on_val_patience']}), and regularise: more training data or "
                   f"augmentation, {w['dropout']}, weight decay, a smaller network.")
        message = message.replace(f"{split} loss rose", "training and validation part: validation loss rose", 1)
    else:
        advice = ("The rows carrying the rise are mostly not flagged: the network grows confidently wrong on rows it "
                  f"had right, usually a learning rate too high for this point of training; lower it ({w['schedule']}) "
                  f"and keep the best epoch ({w['keep_best_short']}).")
    return message, advice


def _fall(s: Symptom, w: Mapping[str, str]) -> tuple[str, str]:
    f = s.facts
    p, b, split, name = s.first_epoch, s.last_epoch, s.split, f["accuracy_name"]
    message = (f"{split} loss and {name} fall together: from epoch {p + 1} to {b + 1} the loss fell from "
               f"{num(f['loss_peak'])} to {num(f['loss_end'])} while {name} fell from {pct(f['acc_peak'])} to "
               f"{pct(f['acc_end'])}")
    carry, behind = f["carried"], f["behind"]
    if carry is not None and carry["n"]:
        message += (f": {plural(carry['n'], split + ' row')} ({carry['share_of_rows']:.0%}) "
                    f"{'carries' if carry['n'] == 1 else 'carry'} the loss's fall"
                    + (f" ({flag_summary(carry['flags'])})" if carry["flags"] else "")
                    + f", while {plural(carry['turned_wrong'], 'row')} it had right turned wrong")
    if behind is not None:
        message += (f"; {plural(behind['n'], 'flagged training row')} ({behind['share_of_rows']:.1%} of them; "
                    f"{flag_summary(behind['flags'])}) exert {behind['share_of_pull']:.0%} of the pull on the weights")
    witness = f.get("witness")
    if witness is not None:
        message += (f"; on the validation rows too (epochs {witness.first_epoch + 1}-{witness.last_epoch + 1}: "
                    f"{pct(witness.details['accuracy_from'])} to {pct(witness.details['accuracy_to'])})")
    if s.cause in DATA_CAUSES:
        advice = ("The data: a few rows pull on the weights far harder than their number -- far-out inputs "
                  "(outliers) and identical inputs with different labels (conflicting duplicates), which no prediction "
                  "can settle. To quiet them the network gives up part of what the ordinary rows taught it: the loss "
                  "keeps falling (the rows it still fits grow more confident) while accuracy falls. Fix or remove "
                  "those rows (samples.csv: is_outlier, is_conflicting_duplicate; report.clean_data(X, y)), or "
                  "down-weight them (fit(..., sample_weight=report.sample_weight())); scale your inputs "
                  f"(RobustScaler), and {w['clip_limits']}.")
    else:
        advice = ("The rows carrying the loss's fall are not flagged by the data checks. Loss and accuracy part when "
                  f"the loss is weighted and accuracy is not ({w['class_weight']}, sample_weight: the loss favours the "
                  "weighted rows), or when a regulariser's share of the loss falls; check those, and compare with "
                  "an unweighted run.")
    return message, advice


def _plateau(s: Symptom, w: Mapping[str, str]) -> tuple[str, str]:
    f = s.facts
    floor = f["floor"]
    message = (f"the training loss stopped falling from epoch {s.first_epoch + 1}: {num(f['end_loss'])} at epoch "
               f"{s.last_epoch + 1}" + (f", {f['accuracy_name']} {pct(f['acc_end'])}" if np.isfinite(f["acc_end"]) else ""))
    if s.cause is Cause.UNKNOWN:
        message += "; without the label_issues and duplicates checks the data's ceiling is unknown"
        advice = ("Run the label_issues and duplicates checks (the default) to tell whether the model is at the data's "
                  "ceiling or short of it (capacity or optimisation).")
        return message, advice
    if s.cause is Cause.DATA_CEILING:
        message += (f"; these labels allow at most {pct(floor['accuracy'])} accuracy and a loss of "
                    f"{num(floor['loss'])} ({_lost(floor)}), and the run ends at "
                    f"{pct(f['rec_acc'])}, loss {num(f['rec_loss'])} (recorded rows)")
        advice = (f"Your model is at the data's ceiling: it answers {pct(f['fit_clean'])} of the rows whose labels look "
                  f"right correctly; what is left is the {plural(f['n_flagged'], 'flagged row')}, which a model can only "
                  "learn by heart. More capacity, more epochs or another optimiser will not move this loss; fixing the "
                  "data will (samples.csv: is_label_issue, suggested_label, is_conflicting_duplicate; "
                  "report.clean_data(X, y, relabel=True), or fit(..., sample_weight=report.sample_weight())).")
        return message, advice
    message += f"; the run ends at {pct(f['rec_acc'])}, loss {num(f['rec_loss'])} (recorded rows)"
    advice = ("Not the data's ceiling: capacity or optimisation. The model has not learned what the labels "
              f"agree on: a larger model (more units or layers), a learning-rate schedule ({w['schedule']}) or a lower "
              "learning rate for more epochs; check that the inputs are scaled.")
    if f["conf_clean"] < CEILING_CONFIDENCE:
        message += (f", unsure even of the rows whose labels look right (mean probability of their label "
                    f"{f['conf_clean']:.2f})")
        advice += (" The label verdicts of a run that underfits flag the rows it cannot fit, not necessarily "
                   "wrong labels: judge the labels with a probe too (dataaudit.scan(X, y, dynamics=..., "
                   "model='ensemble')).")
    else:
        message += (f", short of what these labels allow ({pct(floor['accuracy'])}): it answers only "
                    f"{pct(f['fit_clean'])} of the rows whose labels look right correctly")
    return message, advice


WRITERS = {Pattern.COLLAPSE: _collapse, Pattern.LOSS_UP_ACCURACY_UP: _rise, Pattern.TRAIN_VAL_PARTING: _rise,
           Pattern.LOSS_AND_ACCURACY_FALL: _fall, Pattern.PLATEAU: _plateau}


def write(symptom: Symptom, framework: str = "any") -> Symptom:
    """Fill in the symptom's message and advice, in the framework's words."""
    words = PHRASES.get(framework, PHRASES["any"])
    symptom.message, symptom.advice = WRITERS[symptom.pattern](symptom, words)
    return symptom


__all__ = ["PHRASES", "flag_summary", "write"]
