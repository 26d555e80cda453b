"""Outliers of the kinds real data has: dataaudit vs the cleanlab reference, same data, same run.

Eight rows of one kind (or of every kind at once) are appended to a clean dataset; recall is
the share of them flagged, false flags the share of the original rows flagged, both pooled
over seeds. The kinds:
- far: every feature 8-12 standard deviations from its mean (as in the detection suite);
- glitch: a real row with one feature moved by 50 times its scale (its standard deviation,
  or for a feature that is mostly one value the typical size of its departures from it);
- unscaled: a real row in other units (x100);
- constant: every feature one value (half the rows all zero, the others -1 or the data's mean value);
- marginal: every feature drawn from its own column independently: each value plausible, the
  combination not (found only where the features are correlated; wine's barely are).

Datasets: scikit-learn's digits, breast_cancer and wine; make_classification with redundant
features (5,000 x 20: 6 informative, 6 redundant); two small tables with mixed scales (1e-3 to
1e4) and heavy tails (log-normal, Student-t(3), counts): 600 x 30 and 340 x 4 (an income, a
proportion, an age, a ratio), which also get their own F1 table with 2 rows each of far,
glitch, unscaled and all-zero.

Reference: cleanlab's Datalab outlier check, ``find_issues(features=X, issue_types={"outlier": {}})``,
fed the same features. dataaudit: ``scan(X, y, checks="outliers")``.
"""

from __future__ import annotations

import time

import numpy as np

from .common import md_table, sklearn_dataset

TITLE = "Outliers by kind"
KINDS = ("far", "glitch", "unscaled", "constant", "marginal")
PER_KIND = 8
SEEDS = 5
#: Seeds of the small-table F1 (2 rows of each of 4 kinds per seed).
SMALL_SEEDS = 10


def mixed_table_600(seed: int = 11) -> np.ndarray:
    """600 x 30 on scales 1e-3..1e4: 10 log-normal, 10 Gaussian (correlated through 3 latents),
    5 Student-t(3), 5 Poisson counts."""
    rng = np.random.default_rng(seed)
    n = 600
    scales = np.logspace(-3, 4, 30)
    rng.shuffle(scales)
    latent = rng.normal(size=(n, 3))
    cols = [np.exp(rng.normal(0, 1, n) + 0.5 * latent[:, j % 3]) for j in range(10)]
    cols += [latent[:, j % 3] + 0.5 * rng.normal(size=n) for j in range(10)]
    cols += [rng.standard_t(3, n) for _ in range(5)]
    cols += [rng.poisson(np.exp(0.5 * latent[:, j % 3] + 1.0)).astype(float) for j in range(5)]
    return np.column_stack(cols) * scales


def mixed_table_340(seed: int = 12) -> np.ndarray:
    """340 x 4: a log-normal income (~3e4), a proportion (x1e-3), an age (40 +- 12), a Student-t(3)
    ratio (x100)."""
    rng = np.random.default_rng(seed)
    n = 340
    z = rng.normal(size=n)
    income = 3e4 * np.exp(0.8 * rng.normal(size=n) + 0.4 * z)
    proportion = 1e-3 / (1 + np.exp(-(z + rng.normal(size=n))))
    age = 40 + 12 * (0.6 * z + 0.8 * rng.normal(size=n))
    ratio = 100 * rng.standard_t(3, n)
    return np.column_stack([income, proportion, age, ratio])


def datasets(quick: bool):
    """(name, X, y) of clean data."""
    if quick:
        yield "wine", *sklearn_dataset("wine")
        yield "mixed scales", mixed_table_340(), np.arange(340) % 2
        return
    for name in ("digits", "breast_cancer", "wine"):
        yield name, *sklearn_dataset(name)
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=5000, n_features=20, n_informative=6, n_redundant=6, n_classes=3,
                               n_clusters_per_class=2, flip_y=0.0, random_state=7)
    yield "make_classification 5k x 20, redundant", X, y
    yield "mixed scales", mixed_table_600(), np.arange(600) % 2
    yield "mixed scales", mixed_table_340(), np.arange(340) % 2


def plant_rows(X: np.ndarray, kind: str, m: int, rng: np.random.Generator) -> np.ndarray:
    """``m`` rows of one kind (see the module notes) for data ``X``."""
    n, d = X.shape
    mean, std = X.mean(axis=0), X.std(axis=0)
    if kind == "far":
        return mean + rng.choice([-1.0, 1.0], size=(m, d)) * rng.uniform(8, 12, size=(m, d)) * (std + 1e-12)
    if kind == "glitch":
        from dataaudit.neighbors import standardize_params

        _, scale = standardize_params(X.astype(np.float32))
        rows = X[rng.choice(n, m, replace=False)].copy()
        cols = rng.choice(np.flatnonzero(std > 0), m)
        rows[np.arange(m), cols] += rng.choice([-1.0, 1.0], m) * 50 * scale[cols]
        return rows
    if kind == "unscaled":
        return X[rng.choice(n, m, replace=False)] * 100.0
    if kind == "constant":
        rows = np.zeros((m, d))
        half = m // 2
        rows[half : half + (m - half) // 2] = -1.0
        rows[half + (m - half) // 2 :] = float(X.mean())
        return rows
    if kind == "marginal":
        return X[rng.integers(0, n, size=(m, d)), np.arange(d)]
    if kind == "zero":
        return np.zeros((m, d))
    raise ValueError(kind)


def plant(X, y, kinds, m, seed):
    """X and y with ``m`` rows of each kind appended (labels drawn at random); the kind of each row ('' = clean)."""
    rng = np.random.default_rng(seed)
    parts, labels, kind_of = [X], [y], [np.full(len(X), "", dtype=object)]
    for kind in kinds:
        parts.append(plant_rows(X, kind, m, rng))
        labels.append(rng.choice(np.unique(y), m))
        kind_of.append(np.full(m, kind, dtype=object))
    return np.concatenate(parts).astype(np.float32), np.concatenate(labels), np.concatenate(kind_of)


def flags_dataaudit(X, y, seed):
    import dataaudit

    return dataaudit.scan(X, y, checks="outliers", random_state=seed).samples["is_outlier"].to_numpy(bool)


def flags_reference(X, y, seed):
    from cleanlab import Datalab

    lab = Datalab(data={"y": y}, label_name="y", verbosity=0)
    lab.find_issues(features=X, issue_types={"outlier": {}})
    return lab.get_issues()["is_outlier_issue"].to_numpy(bool)


TOOLS = {"dataaudit": flags_dataaudit, "reference": flags_reference}


def tally(X, y, kinds, m, seeds):
    """Per tool: flagged / planted per kind, false flags / clean rows, and seconds, pooled over seeds."""
    out = {t: {"hit": dict.fromkeys(kinds, 0), "planted": dict.fromkeys(kinds, 0), "false": 0, "clean": 0, "s": 0.0}
           for t in TOOLS}
    for seed in seeds:
        Xa, ya, kind_of = plant(X, y, kinds, m, seed)
        for tool, fn in TOOLS.items():
            t0 = time.perf_counter()
            flag = fn(Xa, ya, seed)
            acc = out[tool]
            acc["s"] += (time.perf_counter() - t0) / len(seeds)
            acc["false"] += int(flag[kind_of == ""].sum())
            acc["clean"] += int((kind_of == "").sum())
            for kind in kinds:
                acc["hit"][kind] += int(flag[kind_of == kind].sum())
                acc["planted"][kind] += int((kind_of == kind).sum())
    return out


def scores(acc):
    """Precision, recall, false-flag rate and F1 of pooled counts."""
    hit, planted = sum(acc["hit"].values()), sum(acc["planted"].values())
    recall = hit / planted
    precision = hit / max(hit + acc["false"], 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, acc["false"] / acc["clean"], f1


def seeds_text(count: int) -> str:
    return f"{count} seed" + ("s" if count != 1 else "")


def pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def run(quick: bool = False) -> str:
    seeds = range(1 if quick else SEEDS)
    alone, together, small = [], [], []
    for name, X, y in datasets(quick):
        label = f"{name} ({len(X)} x {X.shape[1]})"
        for kind in KINDS:
            res = tally(X, y, (kind,), PER_KIND, seeds)
            _, a_rec, a_false, a_f1 = scores(res["dataaudit"])
            _, r_rec, r_false, r_f1 = scores(res["reference"])
            alone.append([label, kind, a_rec, pct(a_false), a_f1, r_rec, pct(r_false), r_f1])
        res = tally(X, y, KINDS, PER_KIND, seeds)
        for tool, acc in res.items():
            _, rec, false, f1 = scores(acc)
            per_kind = [acc["hit"][k] / acc["planted"][k] for k in KINDS]
            together.append([label if tool == "dataaudit" else f"{name}: reference", *per_kind, rec, pct(false), f1,
                             round(acc["s"], 2)])
        if name == "mixed scales":
            res = tally(X, y, ("far", "glitch", "unscaled", "zero"), 2, range(1 if quick else SMALL_SEEDS))
            for tool, acc in res.items():
                p, rec, _, f1 = scores(acc)
                small.append([label, tool, p, rec, f1, acc["false"]])
    t1 = md_table(["dataset", "planted kind (alone)", "dataaudit recall", "false flags", "F1",
                   "reference recall", "false flags", "F1"], alone)
    t2 = md_table(["dataset", *[f"{k} recall" for k in KINDS], "recall", "false flags", "F1", "s per scan"], together)
    t3 = md_table(["table", "", "P", "R", "F1", "false flags (all seeds)"], small)
    n_seeds = seeds_text(len(seeds))
    return (
        f"## {TITLE}\n\n{__doc__.strip()}\n\n"
        f"Each kind alone ({PER_KIND} rows, {n_seeds}; false flags: share of the clean rows flagged):\n\n{t1}\n\n"
        f"Every kind at once ({PER_KIND} rows each, {n_seeds}):\n\n{t2}\n\n"
        f"Small mixed-scale tables, 2 rows each of far, glitch, unscaled and all-zero "
        f"({seeds_text(1 if quick else SMALL_SEEDS)}, pooled):\n\n{t3}\n"
    )
