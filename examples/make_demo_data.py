"""Write a demo dataset with planted problems: scikit-learn's digits (8x8 images).

    python examples/make_demo_data.py demo      # writes demo/X.npy, demo/y.npy, demo/X_test.npy, ...

Planted, and recorded in demo/truth.npz so you can check what dataaudit finds:
- 6% of the training labels flipped to another digit (``flipped``);
- 20 exact duplicates of training images, half of them with a different label (``duplicated``);
- 20 near duplicates (the same image plus faint noise) with a different label;
- 8 corrupt images: random 8-bit noise (0-255), as when a batch skips its scaling to 0-16 (``outliers``);
- 30 test images that are copies of training images (leakage).
"""

from __future__ import annotations

import os
import sys

import numpy as np
from sklearn.datasets import load_digits


def make(out_dir: str, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    digits = load_digits()
    images = digits.images.astype(np.float32)  # (1797, 8, 8), values 0..16
    labels = digits.target.astype(np.int64)
    order = rng.permutation(len(labels))
    test_idx, train_idx = order[:300], order[300:]
    X, y = images[train_idx], labels[train_idx].copy()
    X_test, y_test = images[test_idx], labels[test_idx].copy()

    n = len(y)
    flipped = np.zeros(n, bool)
    pick = rng.choice(n, size=int(0.06 * n), replace=False)
    y[pick] = (y[pick] + rng.integers(1, 10, size=len(pick))) % 10
    flipped[pick] = True

    src = rng.choice(np.flatnonzero(~flipped), size=40, replace=False)
    exact_src, near_src = src[:20], src[20:]
    dup_X = [X[exact_src], X[near_src] + rng.normal(0, 0.05, size=X[near_src].shape).astype(np.float32)]
    dup_y = [y[exact_src].copy(), (y[near_src] + 1) % 10]
    dup_y[0][:10] = (dup_y[0][:10] + 3) % 10  # half of the exact copies disagree
    outliers_X = rng.uniform(0, 255, size=(8, 8, 8)).astype(np.float32)
    outliers_y = rng.integers(0, 10, size=8)

    X_all = np.concatenate([X, *dup_X, outliers_X])
    y_all = np.concatenate([y, *dup_y, outliers_y])
    m = len(y_all)
    truth_flipped = np.r_[flipped, np.zeros(m - n, bool)]
    truth_dup = np.zeros(m, bool)
    truth_dup[np.r_[exact_src, near_src]] = True
    truth_dup[n : n + 40] = True
    truth_out = np.zeros(m, bool)
    truth_out[-8:] = True

    # Leakage: 30 test images replaced by copies of training images.
    leak_src = rng.choice(n, size=30, replace=False)
    X_test[:30] = X[leak_src]
    y_test[:30] = labels[train_idx][leak_src]

    os.makedirs(out_dir, exist_ok=True)
    np.save(os.path.join(out_dir, "X.npy"), X_all)
    np.save(os.path.join(out_dir, "y.npy"), y_all)
    np.save(os.path.join(out_dir, "X_test.npy"), X_test)
    np.save(os.path.join(out_dir, "y_test.npy"), y_test)
    np.savez(
        os.path.join(out_dir, "truth.npz"),
        flipped=truth_flipped,
        duplicated=truth_dup,
        outliers=truth_out,
        leaked_test=np.arange(30),
    )
    print(
        f"wrote {out_dir}/X.npy {X_all.shape}, y.npy, X_test.npy {X_test.shape}, y_test.npy and truth.npz "
        f"({truth_flipped.sum()} flipped labels, 40 duplicates with 30 label conflicts, 8 outliers, 30 leaked test images)"
    )


if __name__ == "__main__":
    make(sys.argv[1] if len(sys.argv) > 1 else "demo")
