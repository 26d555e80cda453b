"""A self-contained HTML view of a report: no network, images embedded as base64 PNG.

Rendering only: every number comes from ``report.summary`` or ``report.samples``, and the rows
listed per check are ``report.listed(check)`` (the check's flagged rows, worst first). Each
check gets a generic section (its title, its flagged rows with the columns its verdict names);
a check with something special to show has a hook in :data:`PLOTS` (figures for the
"Distributions" section) or :data:`SECTIONS` (its own section instead of the generic one).
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any, Callable

import numpy as np

from .. import doctor
from ..checks.base import MAX_LISTED as MAX_ROWS
from ..utils import plural
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c8cede}main{max-width:1180px;margin:0 auto;padding:16px 32px 48px}
section{background:#fff;border:1px solid #e3e6eb;border-radius:8px;padding:16px 20px;margin:16px 0}
h2{font-size:18px;margin:0 0 10px}table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #eceef2;padding:5px 8px;text-align:left;vertical-align:middle}
th{background:#f0f2f5;cursor:pointer;user-select:none}td.num,th.num{text-align:right}
.sev{font-weight:600;border-radius:4px;padding:2px 6px;font-size:12px}
.critical{background:#fde2e1;color:#a4161a}.warning{background:#fff3cd;color:#8a6100}.info{background:#e1f0fb;color:#0b5c8e}
.advice{color:#4a5263;font-size:13px;margin-top:3px}.grid{display:flex;flex-wrap:wrap;gap:16px}
.grid>div{flex:1 1 420px}.kpi{display:inline-block;margin:0 24px 8px 0}.kpi b{display:block;font-size:20px}
img.thumb{image-rendering:pixelated;width:48px;height:48px;border:1px solid #ccd}
img.plot{max-width:100%}.muted{color:#7a8294}
"""
_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th){th.addEventListener('click',function(){
var t=th.closest('table'),i=Array.prototype.indexOf.call(th.parentNode.children,th),b=t.tBodies[0],
r=Array.from(b.rows),asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
r.sort(function(a,c){var x=a.cells[i].dataset.v||a.cells[i].textContent,y=c.cells[i].dataset.v||c.cells[i].textContent,
nx=parseFloat(x),ny=parseFloat(y);var v=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return asc?v:-v;});
r.forEach(function(x){b.appendChild(x);});});});
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(width=6.0, height=3.0, ncols=1):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=(width, height))


def _class_chart(summary) -> str | None:
    """Samples per class (from the dataset summary, whichever checks ran)."""
    classes = summary["dataset"]["classes"][:40]
    if not classes:
        return None
    fig, ax = _figure(6, 2.6 + 0.0 * len(classes))
    names = [str(c["label"]) for c in classes]
    ax.bar(range(len(names)), [c["count"] for c in classes], color="#4a7bd0")
    ax.set_xticks(range(len(names)), names, rotation=45 if len(names) > 8 else 0, ha="right" if len(names) > 8 else "center")
    ax.set_ylabel("samples")
    ax.set_title("Samples per class")
    return _png(fig)


def _loss_chart(report) -> str | None:
    hl = report.summary["high_loss"]
    edges = np.asarray(hl["histogram"]["edges"])
    counts = np.asarray(hl["histogram"]["counts"])
    fig, ax = _figure(6, 2.6)
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color="#7a8294")
    ax.axvline(hl["threshold"], color="#c0392b", linestyle="--", label=f"high-loss cut {hl['threshold']:.2f}")
    ax.set_yscale("log")
    ax.set_xlabel("out-of-sample cross-entropy of the given label")
    ax.set_ylabel("samples (log)")
    ax.set_title("Per-sample loss")
    ax.legend()
    return _png(fig)


def _confusion_chart(report) -> str | None:
    conf = report.summary["label_issues"].get("confusion") or {}
    matrix = conf.get("given_vs_suggested")
    if not matrix or not np.asarray(matrix).sum():
        return None
    m = np.asarray(matrix)
    labels = [str(x) for x in conf["labels"]]
    size = max(3.0, 0.35 * len(labels) + 1.5)
    fig, ax = _figure(size + 1, size)
    im = ax.imshow(m, cmap="Reds")
    ax.set_xticks(range(len(labels)), labels, rotation=90 if len(labels) > 6 else 0)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("suggested label")
    ax.set_ylabel("given label")
    ax.set_title("Label issues: given vs suggested")
    if len(labels) <= 12:
        for (i, j), v in np.ndenumerate(m):
            if v:
                ax.text(j, i, str(v), ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return _png(fig)


class _Thumbs:
    """Small PNG thumbnails of image samples (min-max scaled per image): samples given as images,
    or rows the probe read as pictures (``summary["probe"]["picture_shape"]``: images given
    flattened, or channels first)."""

    def __init__(self, raw, sample_shape, probe: dict | None = None):
        self.raw = raw
        self.shape = tuple(sample_shape)
        self.channels_first = False
        if probe and probe.get("picture_shape"):
            h, w, c = probe["picture_shape"]
            self.channels_first = bool(probe.get("channels_first"))
            self.shape = (c, h, w) if self.channels_first else (h, w, c)
        channels = self.shape[0] if self.channels_first else self.shape[-1]
        self.ok = raw is not None and len(self.shape) in (2, 3) and (len(self.shape) == 2 or channels in (1, 3, 4))

    def __call__(self, index: int) -> str:
        if not self.ok:
            return ""
        import matplotlib.image as mpimg

        img = np.asarray(self.raw[int(index)], dtype=np.float64).reshape(self.shape)
        if self.channels_first:
            img = np.moveaxis(img, 0, -1)
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        lo, hi = np.nanmin(img), np.nanmax(img)
        img = np.nan_to_num((img - lo) / (hi - lo) if hi > lo else np.zeros_like(img))
        buf = io.BytesIO()
        mpimg.imsave(buf, img, cmap="gray_r" if img.ndim == 2 else None, format="png", metadata={"Software": None})
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        return f'<img class="thumb" alt="sample {int(index)}" src="data:image/png;base64,{data}">'


def _table(headers: list[str], rows: list[list[Any]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f'<th class="{"num" if i in numeric else ""}">{_e(h)}</th>' for i, h in enumerate(headers))
    body = []
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            if isinstance(v, tuple):  # (html, sort value)
                cells.append(f'<td data-v="{_e(v[1])}">{v[0]}</td>')
            elif isinstance(v, float):
                cells.append(f'<td class="num">{v:.4g}</td>')
            else:
                cells.append(f'<td class="{"num" if i in numeric else ""}">{_e(v)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _cell(value: Any) -> Any:
    """A samples-table value as a table cell (floats numeric, booleans as yes/blank)."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else ""
    if isinstance(value, (float, np.floating)):
        return float(value)
    return value.item() if isinstance(value, np.generic) else value


def _rows_table(report, indices, columns: list[str], thumb: _Thumbs) -> str:
    """A table of samples: index, thumbnail (images), then ``columns`` of ``report.samples``."""
    samples = report.samples
    head = ["index", *(["image"] if thumb.ok else []), *[c.replace("_", " ") for c in columns]]
    rows = []
    for i in indices:
        cells = [(str(int(i)), int(i))] + ([(thumb(i), int(i))] if thumb.ok else [])
        rows.append(cells + [_cell(samples[c].at[int(i)]) for c in columns])
    return _table(head, rows)


def _generic_section(report, name: str, thumb: _Thumbs) -> str:
    """A check's flagged rows, worst first, with the columns its verdict names."""
    idx = report.listed(name, MAX_ROWS)
    columns = [c for c in report.verdicts[name].shown if c in report.samples.columns]
    n_flagged = report.flag_count(name)
    body = _rows_table(report, idx, columns, thumb) if len(idx) else "<p>None.</p>"
    more = f'<p class="muted">The {len(idx)} worst shown; samples.csv has all {n_flagged}.</p>' if n_flagged > len(idx) else ""
    return f"<section><h2>{_e(report.titles.get(name, name))} ({n_flagged})</h2>{body}{more}</section>"


def _duplicates_section(report, name: str, thumb: _Thumbs) -> str | None:
    dup = report.summary[name]
    if not dup.get("conflicting_groups"):
        return None
    samples = report.samples
    rows = []
    for g in dup["conflicting_groups"][:MAX_ROWS]:
        members = g["indices"][:6]
        if thumb.ok:
            pics = "".join(
                f'<span style="display:inline-block;text-align:center;margin-right:6px">{thumb(i)}<br>'
                f'<small>#{int(i)}: {_e(samples["label"].at[int(i)])}</small></span>' for i in members)
        else:
            pics = ", ".join(f"#{int(i)}: {_e(samples['label'].at[int(i)])}" for i in members)
        counts = ", ".join(f"{_e(k)} x{v}" for k, v in g["label_counts"].items())
        rows.append([(str(g["group"]), g["group"]), (str(g["size"]), g["size"]), (pics, g["size"]), counts, g["majority_label"],
                     "exact" if g.get("exact") else "near"])
    return (f"<section><h2>{_e(report.titles.get(name, name))} ({dup['n_conflicting_groups']} groups; "
            f"accuracy ceiling {dup['accuracy_ceiling']:.2%})</h2>"
            + _table(["group", "size", "members (label)", "labels", "majority", "kind"], rows) + "</section>")


def _leakage_section(report, name: str, thumb: _Thumbs) -> str:
    lk = report.summary[name]
    rows = []
    for p in lk["pairs"][:MAX_ROWS]:
        rows.append([p["test_index"], (thumb(p["train_index"]) if thumb.ok else "", p["train_index"]), p["train_index"],
                     p["train_label"], p["test_label"], "exact" if p["exact"] else "near", "yes" if p["conflict"] else ""])
    return (f"<section><h2>{_e(report.titles.get(name, name))}: {lk['n_leaked']} of {lk['n_test_samples']} test samples "
            "duplicate training samples</h2>"
            + (_table(["test index", "training image" if thumb.ok else "", "training index", "training label", "test label",
                       "kind", "labels differ"], rows) if rows else "<p>None.</p>") + "</section>")


def _classes_section(report, name: str, thumb: _Thumbs) -> str:
    cb = report.summary[name]
    rows = [[str(c["label"]), (str(c["count"]), c["count"]), f"{c['fraction']:.2%}", c["weight_balanced"], c["weight_effective_number"],
             "rare" if c["is_rare"] else ""] for c in cb["classes"][:200]]
    return (f"<section><h2>{_e(report.titles.get(name, name))}</h2>"
            + _table(["label", "count", "fraction", "class_weight (balanced)", "effective-number", ""], rows) + "</section>")


def _training_charts(report) -> list[str]:
    """The run's per-epoch curves, the symptoms the training check found shaded over the epochs
    they span (named by pattern and cause), and its data map (confidence vs variability), flagged
    rows marked: two figures, each as wide as the report's other plots."""
    tr = report.summary["training"]
    history = {k: np.asarray([np.nan if v is None else v for v in vals], float) for k, vals in tr["history"].items()}
    fig, curves = _figure(6.4, 3.6)
    epochs = np.arange(1, max((len(v) for v in history.values()), default=0) + 1)
    for key, style in (("loss", "-"), ("val_loss", "--")):
        if key in history:
            curves.plot(epochs[:len(history[key])], history[key], style, color="#c0392b", label=key)
    curves.set_xlabel("epoch")
    curves.set_ylabel("loss", color="#c0392b")
    accuracy = curves.twinx()
    name = doctor.accuracy_key(history)
    for key, style in ((name, "-"), (f"val_{name}", "--")):
        if key in history:
            accuracy.plot(epochs[:len(history[key])], history[key], style, color="#2c6fbb", label=key)
    accuracy.set_ylabel("accuracy", color="#2c6fbb")
    shades = {"critical": "#c0392b", "warning": "#e69b00", "info": "#7a8294"}
    labels = {"collapse": "collapse", "loss_up_accuracy_up": "loss up, accuracy up",
              "train_val_parting": "train/val parting", "loss_and_accuracy_fall": "loss and accuracy fall",
              "plateau": "plateau"}
    for i, symptom in enumerate(tr.get("symptoms", [])):
        first, last = symptom["epochs"]
        color = shades.get(symptom["severity"], "#7a8294")
        curves.axvspan(first - 0.5, last + 0.5, color=color, alpha=0.12, lw=0)
        curves.axvline(first, color=color, lw=0.8, ls=":")
        curves.text(first, 0.97 - 0.09 * i, f" {labels.get(symptom['pattern'], symptom['pattern'])}: "
                    f"{str(symptom['cause']).replace('_', ' ')} ({symptom['split']})",
                    transform=curves.get_xaxis_transform(), fontsize=7.5, va="top", color=color)
    curves.set_title("Your run, per epoch" + (" (shaded: what went wrong)" if tr.get("symptoms") else ""))
    handles = curves.get_legend_handles_labels()[0] + accuracy.get_legend_handles_labels()[0]
    if handles:
        # Below the axes, never over the lines.
        curves.legend(handles, [h.get_label() for h in handles], fontsize=8, loc="upper center",
                      bbox_to_anchor=(0.5, -0.2), ncol=len(handles), frameon=False)
    charts = [_png(fig)]
    fig, data_map = _figure(6.4, 3.6)
    rows = np.asarray(tr["data_map"]["sample_rows"], int)
    s = report.samples
    conf, var = s["confidence"].to_numpy()[rows], s["variability"].to_numpy()[rows]
    flagged = s["is_label_issue"].to_numpy()[rows] if "is_label_issue" in s else np.zeros(len(rows), bool)
    data_map.scatter(var[~flagged], conf[~flagged], s=4, alpha=0.35, color="#7a8294", label="label looks right")
    data_map.scatter(var[flagged], conf[flagged], s=8, alpha=0.8, color="#c0392b", label="flagged: likely mislabeled")
    data_map.set_xlabel("variability (std of the label's probability over epochs)")
    data_map.set_ylabel("confidence (mean probability)")
    data_map.set_title("Data map: easy (top), ambiguous (right), hard to learn (bottom left)", fontsize=10)
    data_map.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False)
    charts.append(_png(fig))
    return charts


#: Checks with figures of their own, drawn in the "Distributions" section (one or several each).
PLOTS: dict[str, Callable[[Any], str | list[str] | None]] = {
    "high_loss": _loss_chart,
    "label_issues": _confusion_chart,
    "training": _training_charts,
}
#: Checks whose section is drawn by a hook instead of the generic list of flagged rows
#: (a hook returning None draws nothing).
SECTIONS: dict[str, Callable[[Any, str, _Thumbs], str | None]] = {
    "class_balance": _classes_section,
    "duplicates": _duplicates_section,
    "leakage": _leakage_section,
}
#: Headline metrics shown in the overview, when their check ran: label and format.
KPIS = (("label_issues", "label issues", "{:.1%}"), ("conflicting_duplicates", "in conflicting duplicates", "{:.1%}"),
        ("accuracy_ceiling", "accuracy ceiling", "{:.2%}"), ("majority_baseline", "majority baseline", "{:.1%}"),
        ("outliers", "outliers", "{:.2%}"), ("leakage", "test leaked", "{:.1%}"))


def render(report) -> str:
    """The report as one self-contained HTML page."""
    s = report.summary
    d = s["dataset"]
    thumb = _Thumbs(report.raw, report.sample_shape, s.get("probe"))
    parts: list[str] = []

    # Overview and findings.
    kpis = [("samples", f"{d['n_samples']:,}"), ("features", f"{d['n_features']:,}"), ("classes", d["n_classes"])]
    kpis += [(label, fmt.format(s["metrics"][key])) for key, label, fmt in KPIS if key in s.get("metrics", {})]
    kpi_html = "".join(f'<span class="kpi"><b>{_e(v)}</b>{_e(k)}</span>' for k, v in kpis)
    probe = s.get("probe")
    probe_html = ""
    if probe:
        acc = probe.get("out_of_sample_accuracy")
        probe_html = f'<p class="muted">Probe: {_e(probe.get("model"))}' + (
            f", {probe['n_folds']}-fold out-of-sample, accuracy {acc:.1%}" if probe.get("n_folds") and acc is not None else "") + "</p>"
    parts.append(f"<section><h2>Overview</h2>{kpi_html}{probe_html}</section>")
    rows = []
    for f in s["findings"]:
        rows.append(
            f'<tr><td><span class="sev {_e(f["severity"])}">{_e(f["severity"])}</span></td><td>{_e(f["check"])}</td>'
            f'<td class="num">{int(f["count"])}</td><td>{_e(f["message"])}<div class="advice">{_e(f["advice"])}</div></td></tr>'
        )
    findings = ("<table><thead><tr><th>severity</th><th>check</th><th class=num>count</th><th>what, and what to do</th></tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table>") if rows else "<p>No problems found.</p>"
    parts.append(f"<section><h2>Findings</h2>{findings}</section>")

    plots = [_class_chart(s)]
    for name in report.verdicts:
        drawn = PLOTS[name](report) if name in PLOTS else None
        plots += drawn if isinstance(drawn, list) else [drawn]
    plots = [p for p in plots if p]
    if plots:
        parts.append("<section><h2>Distributions</h2><div class=grid>" + "".join(
            f'<div><img class="plot" alt="plot" src="{p}"></div>' for p in plots) + "</div></section>")
    for name in report.verdicts:
        section = SECTIONS.get(name, _generic_section)(report, name, thumb)
        if section:
            parts.append(section)

    title = f"dataaudit report: {plural(d['n_samples'], 'sample')}, {plural(d['n_classes'], 'class', 'classes')}"
    checks = ", ".join(s.get("checks_run", []))
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><title>{_e(title)}</title><style>{_CSS}</style></head>"
        f"<body><header><h1>{_e(title)}</h1><p>checks: {_e(checks)} · schema {_e(s['schema_version'])}</p></header>"
        f"<main>{''.join(parts)}</main><script>{_JS}</script></body></html>\n"
    )
