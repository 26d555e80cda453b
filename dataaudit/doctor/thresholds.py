"""The doctor's thresholds, named once: what counts as a collapse, a rise, a fall, a plateau, and
which rows carry a change."""

from __future__ import annotations

#: Rolling-median window over epochs: Keras's training accuracy is a running mean over the epoch's
#: batches, so one epoch can move by a batch's luck; a window of 3 ignores a one-epoch blip.
SMOOTH = 3
#: Epochs at the end of the run whose median is where the run ended.
TAIL = 3
#: Collapse: accuracy this far (absolute) below its best so far, at one epoch, is a collapse...
COLLAPSE_DROP = 0.10
#: ...and from this far, when it lasts to the end of the run, a degradation (the forum's "after
#: some epoch the training loss rose and accuracy fell").
DEGRADE_DROP = 0.03
#: In both, the loss is at least this many times its lowest so far, and this much above it
#: (a loss of 0.003 that becomes 0.009 is noise, not a jump).
COLLAPSE_JUMP = 1.5
COLLAPSE_ABS = 0.05
#: Per-sample: a recorded epoch in which this share of the rows the network had right turn wrong
#: is a mass forgetting (a healthy run forgets a few percent per epoch).
MASS_FORGETTING = 0.20
#: A loss rise: the run ends this far above its lowest (smoothed) loss, relative and absolute...
RISE_REL = 0.10
RISE_ABS = 0.02
#: ...and a rise of this relative size or more is a warning (below: info).
RISE_WARNING = 0.25
#: Loss and accuracy falling together: accuracy ends this far below its peak (absolute) while
#: the loss ends this much (relative) below its value at the peak.
FALL_ACC = 0.02
FALL_LOSS = 0.03
#: A plateau: over the last half of the run training accuracy gained less than PLATEAU_ACC and
#: over its last quarter (at least 3 epochs) the loss fell less than PLATEAU_LOSS (relative: a
#: loss that creeps down while accuracy stands still is the forum's "stops falling"); with no
#: accuracy in the history, the loss fell less than PLATEAU_REL. The loss must still be above
#: PLATEAU_MIN_LOSS and training accuracy under PLATEAU_MAX_ACC (a loss near 0 has nowhere to go).
PLATEAU_ACC = 0.01
PLATEAU_LOSS = 0.15
PLATEAU_REL = 0.05
PLATEAU_MIN_LOSS = 0.05
PLATEAU_MAX_ACC = 0.99
#: Runs shorter than this are not judged for a plateau.
PLATEAU_MIN_EPOCHS = 6
#: At the data's ceiling: the model gets this share of the rows whose labels look right right
#: (what is left wrong is the flagged rows), with at least this mean probability of their label
#: (a model that underfits is unsure everywhere, and the label verdicts of its own run then flag
#: the rows it cannot fit: it must not pass for one at the ceiling)...
CEILING_FIT = 0.97
CEILING_CONFIDENCE = 0.75
#: ...and a plateau at the ceiling is a warning when the flagged rows cost this much accuracy (below it,
#: a plateau at the ceiling is how training ends on real data: info).
CEILING_WARNING = 0.05
#: The rows behind a change: flagged rows that exert at least this share of the pull on the
#: weights (see :func:`pull`) and PULL_RATIO times their share of the rows.
PULL_SHARE = 0.15
PULL_RATIO = 3.0
#: Rows sampled to standardise the inputs for :func:`input_norms`.
NORM_SAMPLE = 20_000
#: Training data is "not clean" from this share of flagged training rows (label issues,
#: conflicting duplicates, outliers)...
DIRTY_SHARE = 0.02
#: ...and a change is carried by the data when at least this share of its carriers is flagged.
FLAGGED_MAJORITY = 0.5

#: The severity of each symptom (graded by :func:`dataaudit.checks.base.severity`); values are the
#: accuracy drop (collapse), the relative loss rise, the accuracy fall, and the accuracy the data
#: costs (plateau at the ceiling).
SEVERITY = {
    "collapse": {"warning": DEGRADE_DROP, "critical": COLLAPSE_DROP},
    "loss_rise": {"warning": RISE_WARNING},
    "loss_and_accuracy_fall": {"warning": FALL_ACC},
    "plateau_at_ceiling": {"warning": CEILING_WARNING},
    "plateau_short_of_ceiling": {"warning": 0.0},
}
#: Collapse: at the end of the run, the network's answers are this share one class...
ONE_CLASS_SHARE = 0.95
#: ...while the labels give that class at most this share of the rows; or this share of the
#: training rows is never learned (a run that learned nothing of most rows did not find most
#: labels wrong).
ONE_CLASS_LABEL_SHARE = 0.5
MOSTLY_UNLEARNED = 0.5
#: An accuracy counts as rising when it ends this much (absolute) above where a window started.
ROSE = 0.005
#: Rows named in a symptom's figures (the samples table has them all).
ROWS_LISTED = 20
