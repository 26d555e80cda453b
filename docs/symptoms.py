"""The figures of docs/symptoms.md: each symptom reproduced, recorded, scanned and drawn.

    python docs/symptoms.py          # writes docs/symptoms/*.png, prints each run's training findings

Every run is a reproduction from bench/symptoms.py (a small real Keras run with a planted cause,
seed 0), recorded with AuditCallback and scanned with ``dataaudit.scan(X, y, dynamics=cb)``.
Each figure: on the left the run's curves as the HTML report draws them, the symptom's epochs
shaded; on the right the per-sample evidence the finding quotes.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

import dataaudit  # noqa: E402
from bench.symptoms import record_run  # noqa: E402
from dataaudit import doctor  # noqa: E402

OUT = os.path.join(ROOT, "docs", "symptoms")
#: Figure file (docs/symptoms/<name>.png) -> the reproduction it draws.
FIGURES = {
    "loss-up-accuracy-up": "loss rises while accuracy rises",
    "plateau-ceiling": "plateau at the data's ceiling",
    "plateau-capacity": "plateau short of the ceiling",
    "collapse": "collapse",
    "parting": "training and validation parting",
    "falling-together": "loss and accuracy both falling",
    "healthy": "healthy run",
}
RED, BLUE, GREY, AMBER = "#c0392b", "#2c6fbb", "#7a8294", "#e69b00"


def _curves(ax, summary):
    """The left panel: loss and accuracy per epoch, symptoms shaded (as report.html draws them)."""
    history = {k: np.asarray([np.nan if v is None else v for v in vals], float) for k, vals in summary["history"].items()}
    epochs = np.arange(1, len(history["loss"]) + 1)
    for key, style in (("loss", "-"), ("val_loss", "--")):
        if key in history:
            ax.plot(epochs, history[key], style, color=RED, label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss", color=RED)
    acc = ax.twinx()
    for key, style in (("accuracy", "-"), ("val_accuracy", "--")):
        if key in history:
            acc.plot(epochs, history[key], style, color=BLUE, label=key)
    acc.set_ylabel("accuracy", color=BLUE)
    for i, s in enumerate(summary["symptoms"]):
        first, last = s["epochs"]
        ax.axvspan(first - 0.5, last + 0.5, color=AMBER if s["severity"] != "critical" else RED, alpha=0.13, lw=0)
        ax.text(first, 0.97 - 0.09 * i, f" {s['pattern']}: {s['cause']}", transform=ax.get_xaxis_transform(),
                fontsize=7.5, va="top", color="#333")
    handles = ax.get_legend_handles_labels()[0] + acc.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], fontsize=7, loc="center right")


def _window(record, symptom):
    """Recorded columns at the start and end of a symptom's epochs."""
    e = np.asarray(record.epochs)
    first, last = symptom["epochs"][0] - 1, symptom["epochs"][1] - 1
    a = int(np.flatnonzero(e <= first)[-1]) if (e <= first).any() else 0
    b = int(np.flatnonzero(e >= last)[0]) if (e >= last).any() else len(e) - 1
    return a, b


def _start_end(ax, record, report, symptom, split):
    """Per row of a split: its loss at the window's start against its end; the carriers ringed."""
    a, b = _window(record, symptom)
    mask = record.in_training if split == "training" else ~record.in_training
    loss = -np.asarray(record.logp_given, np.float64)
    rows = record.rows[mask]
    flagged = report.samples["is_label_issue"].to_numpy(bool)[rows]
    x, y = loss[mask, a], loss[mask, b]
    ax.scatter(x[~flagged], y[~flagged], s=7, color=GREY, alpha=0.5, label="label looks right")
    ax.scatter(x[flagged], y[flagged], s=9, color=RED, alpha=0.8, label="flagged label issue")
    carried = np.isin(rows, symptom.get("carriers_rows", []))
    ax.scatter(x[carried], y[carried], s=40, facecolors="none", edgecolors="black", lw=0.7, label="carries the rise (first 20)")
    top = max(float(np.nanmax(y)), float(np.nanmax(x)), 1.0)
    ax.plot([0, top], [0, top], ":", color="#999", lw=0.8)
    ax.set_xlabel(f"{split} row's loss at epoch {int(record.epochs[a]) + 1}")
    ax.set_ylabel(f"at epoch {int(record.epochs[b]) + 1}")
    ax.set_title(f"{symptom.get('carriers', 0)} {split} rows carry the whole rise", fontsize=9)
    ax.legend(fontsize=7)


def _ceiling(ax, symptom):
    """Where the run stalled against what the labels allow."""
    names = ["run's accuracy", "labels allow", "on rows whose\nlabels look right"]
    values = [symptom["recorded_accuracy"], symptom["accuracy_ceiling"], symptom["accuracy_on_unflagged_rows"]]
    bars = ax.bar(names, values, color=[BLUE, GREY, BLUE if symptom["cause"] == "data_ceiling" else RED])
    for bar, v in zip(bars, values):
        ax.text(bar.get_x() + bar.get_width() / 2, v, f"{v:.1%}", ha="center", va="bottom", fontsize=8)
    ax.set_ylim(min(values) - 0.15, 1.04)
    ax.set_title(f"{symptom['cause'].replace('_', ' ')}: loss {symptom['recorded_loss']:.3f}, "
                 f"floor {symptom['loss_floor']:.3f}", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)


def _forgetting(ax, record, symptom):
    """Per step between recorded epochs: the share of the rows it had right that turned wrong."""
    steps = doctor.forgetting_by_step(np.asarray(record.margin, np.float32)[record.in_training])
    at = np.asarray(record.epochs[1:]) + 1
    colors = [RED if e == symptom["epochs"][1] else GREY for e in at]
    ax.bar(at, steps, color=colors)
    ax.set_xlabel("epoch")
    ax.set_ylabel("rows forgotten (of those right)")
    ax.set_title(f"{symptom['forgotten_rows']} training rows forgotten at epoch {symptom['epochs'][1]}", fontsize=9)


def _pull(ax, record, report, X, symptom):
    """Per training row: how far out its input lies and how hard it pulls on the weights."""
    mask = record.in_training
    rows = record.rows[mask]
    norms = doctor.input_norms(X)[rows]
    p = np.exp(np.asarray(record.logp_given, np.float64))[mask]
    pull = doctor.pull(p, norms).mean(axis=1)
    s = report.samples
    flagged = (s["is_outlier"].to_numpy(bool) | s["is_conflicting_duplicate"].to_numpy(bool))[rows]
    ax.scatter(norms[~flagged], pull[~flagged], s=6, color=GREY, alpha=0.5, label="ordinary rows")
    ax.scatter(norms[flagged], pull[flagged], s=14, color=RED, label="outliers / conflicting duplicates")
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("input length (robustly standardised)")
    ax.set_ylabel("pull on the weights, mean over epochs")
    ax.set_title(f"{flagged.sum()} flagged rows ({flagged.mean():.1%}) exert "
                 f"{symptom['pulling_share_of_pull']:.0%} of the pull", fontsize=9)
    ax.legend(fontsize=7)


def _data_map(ax, report):
    s = report.samples
    ax.scatter(s["variability"], s["confidence"], s=5, color=GREY, alpha=0.5)
    ax.set_xlabel("variability")
    ax.set_ylabel("confidence")
    ax.set_title("no symptom: every row learned early (top left)", fontsize=9)


def figure(name: str, reproduction: str) -> str:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    X, y, cb, _ = record_run(reproduction, seed=0)
    report = dataaudit.scan(X, y, dynamics=cb)
    record = cb.record()
    summary = report.summary["training"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 3.1), gridspec_kw={"width_ratios": [1.25, 1]})
    _curves(left, summary)
    left.set_title(reproduction, fontsize=9)
    symptom = summary["symptoms"][0] if summary["symptoms"] else None
    pattern = symptom["pattern"] if symptom else None
    if pattern in ("loss_up_accuracy_up", "train_val_parting"):
        _start_end(right, record, report, symptom, symptom["split"])
    elif pattern == "plateau":
        _ceiling(right, symptom)
    elif pattern == "collapse":
        _forgetting(right, record, symptom)
    elif pattern == "loss_and_accuracy_fall":
        _pull(right, record, report, X, symptom)
    else:
        _data_map(right, report)
    fig.tight_layout()
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, f"{name}.png")
    fig.savefig(path, dpi=72, metadata={"Software": None})
    plt.close(fig)
    print(f"\n## {reproduction} -> {os.path.relpath(path, ROOT)}")
    for f in report.findings:
        if f["check"] in ("training", "setup"):
            print(f"[{f['severity']}] {f['check']}: {f['message']}\n    advice: {f['advice']}")
    return path


def main() -> None:
    for name, reproduction in FIGURES.items():
        figure(name, reproduction)


if __name__ == "__main__":
    main()
