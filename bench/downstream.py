"""Downstream: does training on dataaudit's output beat training on the noisy labels?

The setting of the forum thread (seeds/002): a 60k x 64 binary set (make_classification),
50k for training with 20% of the training labels flipped, 10k clean test samples. The
thread's network ``Dense(16, relu) - Dense(16, relu) - Dense(1, sigmoid)``, Adam lr 0.01,
binary cross-entropy, batch 200, a fixed number of epochs, trained:

(a) on the noisy labels; (b) on the noisy labels with ``report.sample_weight()``;
(c) on ``report.clean_data()`` (flagged rows dropped); (d) on the true labels;
(b) and (c) once with the default probe (``model="auto"``: boosting + three small networks,
one pass) and once with the stronger, slower ``model="ensemble"`` (the same members, four
passes, the last two averaged); and, in the same run, cleanlab's recipe: drop what ``find_label_issues`` flags on
cross-validated LogisticRegression probabilities. "Gap recovered" = (x - a) / (d - a).
A scikit-learn model (HistGradientBoosting) is trained the same ways as a second witness,
and the same pipeline on 0% noise checks that the weights do no harm on clean data.
"""

from __future__ import annotations

import os
import time

import numpy as np

from .common import cv_logistic_pred_probs, flip_labels, md_table
from .dynamics import forum_data, forum_net

TITLE = "Downstream: training with dataaudit's weights and cleaned data"


def keras_accuracy(X_tr, y_tr, X_te, y_te, weights=None, *, epochs, seed):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    keras.utils.set_random_seed(seed)
    model = forum_net(X_tr.shape[1])
    model.fit(X_tr, y_tr, sample_weight=weights, epochs=epochs, batch_size=200, shuffle=True, verbose=0)
    return float(((model.predict(X_te, batch_size=4096, verbose=0)[:, 0] > 0.5) == y_te).mean())


def sklearn_accuracy(X_tr, y_tr, X_te, y_te, weights=None, *, seed):
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=200, random_state=seed)
    model.fit(X_tr, y_tr, sample_weight=weights)
    return float((model.predict(X_te) == y_te).mean())


def one_setting(noise: float, *, n_train: int, epochs: int, seed: int):
    import dataaudit
    from cleanlab.filter import find_label_issues

    X_tr, y_true, X_te, y_te = forum_data(n_train)
    y_noisy, flipped = flip_labels(y_true, noise, "symmetric", seed) if noise else (y_true.copy(), np.zeros(n_train, bool))

    t0 = time.perf_counter()
    report = dataaudit.scan(X_tr, y_noisy, random_state=seed)
    scan_s = time.perf_counter() - t0
    w = report.sample_weight()
    X_clean, y_clean = report.clean_data(X_tr, y_noisy)
    t0 = time.perf_counter()
    strong = dataaudit.scan(X_tr, y_noisy, model="ensemble", random_state=seed)
    strong_s = time.perf_counter() - t0
    w_strong = strong.sample_weight()
    X_strong, y_strong = strong.clean_data(X_tr, y_noisy)
    issues = find_label_issues(y_noisy, cv_logistic_pred_probs(X_tr, y_noisy, seed))
    keep_ref = ~issues

    runs = {
        "(a) noisy labels": (X_tr, y_noisy, None),
        "(b) noisy + dataaudit sample_weight": (X_tr, y_noisy, w),
        "(c) dataaudit clean_data": (X_clean, y_clean, None),
        '(b) noisy + sample_weight, model="ensemble"': (X_tr, y_noisy, w_strong),
        '(c) clean_data, model="ensemble"': (X_strong, y_strong, None),
        "cleanlab: drop find_label_issues (CV logistic)": (X_tr[keep_ref], y_noisy[keep_ref], None),
        "(d) true labels": (X_tr, y_true, None),
    }
    acc_k = {k: keras_accuracy(a, b, X_te, y_te, c, epochs=epochs, seed=seed) for k, (a, b, c) in runs.items()}
    acc_s = {k: sklearn_accuracy(a, b, X_te, y_te, c, seed=seed) for k, (a, b, c) in runs.items()}
    info = {
        "scan_seconds": scan_s,
        "strong_seconds": strong_s,
        "flagged": int(report.samples["is_label_issue"].sum()),
        "strong_flagged": int(strong.samples["is_label_issue"].sum()),
        "probe_vs_true": float((report.samples["predicted_label"].to_numpy() == y_true).mean()),
        "strong_vs_true": float((strong.samples["predicted_label"].to_numpy() == y_true).mean()),
        "flipped": int(flipped.sum()),
        "w_flipped": float(w[flipped].mean()) if flipped.any() else None,
        "w_clean": float(w[~flipped].mean()),
        "ref_dropped": int(issues.sum()),
    }
    return acc_k, acc_s, info


def run(quick: bool = False) -> str:
    n_train, epochs, seeds = (3_000, 3, [0]) if quick else (50_000, 30, [0, 1])
    rows = []
    notes = []
    for noise in (0.2, 0.0):
        per_seed = [one_setting(noise, n_train=n_train, epochs=epochs, seed=s) for s in seeds]
        for model_name, idx in (("Keras 16-16-1", 0), ("HistGradientBoosting", 1)):
            keys = list(per_seed[0][idx])
            mean = {k: float(np.mean([r[idx][k] for r in per_seed])) for k in keys}
            a, d = mean["(a) noisy labels"], mean["(d) true labels"]
            for k in keys:
                gap = (mean[k] - a) / (d - a) if noise and d - a > 1e-9 else None
                rows.append([f"{noise:.0%}", model_name, k, mean[k], f"{gap:.0%}" if gap is not None else "—"])
        for s, (_, _, info) in zip(seeds, per_seed):
            notes.append(
                f"- noise {noise:.0%}, seed {s}: scan {info['scan_seconds']:.1f} s; {info['flagged']} flagged "
                f"({info['flipped']} flipped); mean weight on flipped rows {info['w_flipped'] if info['w_flipped'] is None else round(info['w_flipped'], 3)}, "
                f"on clean rows {info['w_clean']:.3f}; cleanlab reference dropped {info['ref_dropped']}; "
                f'with model="ensemble": scan {info["strong_seconds"]:.1f} s, {info["strong_flagged"]} flagged; '
                f"the probe's predictions agree with the true labels on {info['probe_vs_true']:.4f} (auto) / "
                f"{info['strong_vs_true']:.4f} (ensemble) of the training rows"
            )
    table = md_table(["training noise", "model", "trained on", "clean test accuracy", "gap recovered"], rows)
    setting = f"{n_train} training rows, {epochs} epochs, seeds {seeds} (accuracies are means over seeds)"
    return f"## {TITLE}\n\n{__doc__.strip()}\n\nSetting: {setting}.\n\n{table}\n\n" + "\n".join(notes) + "\n"
