"""Out-of-sample predicted probabilities from a probe model.

- :mod:`~dataaudit.probe.plan`: what a ``model`` means for the data at hand (:func:`make_plan`);
- :mod:`~dataaudit.probe.models`: the built-in members;
- :mod:`~dataaudit.probe.images`: whether rows are pictures, and the views a picture gives;
- :mod:`~dataaudit.probe.folds`: the fold loop that executes a plan, pass by pass;
- :mod:`~dataaudit.probe.executor`: who runs the fold fits (this process today).
"""

from __future__ import annotations

from ..probabilities import ProbeResult, average, cross_entropy, from_pred_probs
from .executor import Executor, FoldTask, LocalExecutor
from .folds import fit_out_of_sample, kept_members, run_pass, run_probe
from .models import BUILTIN, WIDE_FEATURES, build_member, is_keras_file, is_keras_model
from .plan import AUTO, IMAGE_ENSEMBLE, LARGE_N, SMALL_N, ProbePlan, default_passes, make_plan, model_given, n_folds_for

__all__ = ["AUTO", "BUILTIN", "IMAGE_ENSEMBLE", "Executor", "FoldTask", "LARGE_N", "LocalExecutor", "ProbePlan", "ProbeResult",
           "SMALL_N", "WIDE_FEATURES", "average", "build_member", "cross_entropy", "default_passes",
           "fit_out_of_sample", "from_pred_probs", "is_keras_file", "is_keras_model", "kept_members", "make_plan",
           "model_given", "n_folds_for", "run_pass", "run_probe"]
