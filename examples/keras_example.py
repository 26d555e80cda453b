"""Train a small Keras network on noisy labels, with and without dataaudit's sample weights.

    pip install "dataaudit[keras]"
    python examples/keras_example.py              # ~2 minutes on 2 cores, CPU only
    python examples/keras_example.py --quick      # a smaller run, ~20 s

The set-up of a common forum question ("loss rises while accuracy rises"): a binary
``make_classification`` set, 20% of the training labels flipped, and the network
``Dense(16, relu) - Dense(16, relu) - Dense(1, sigmoid)`` trained with Adam (lr 0.01).
The only change between the two runs is ``sample_weight=report.sample_weight()``.
The test labels are clean.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

import dataaudit


def build_model():
    import keras

    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(learning_rate=0.01), metrics=["accuracy"])
    return model


def main(quick: bool = False, seed: int = 0) -> dict[str, float]:
    import keras

    n_train, epochs = (5_000, 10) if quick else (30_000, 20)
    X, y = make_classification(n_train + 5_000, n_features=64, n_informative=32, n_redundant=8,
                               flip_y=0, class_sep=1.5, random_state=seed)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    X_tr, y_tr, X_te, y_te = X[:n_train], y[:n_train], X[n_train:], y[n_train:]
    rng = np.random.default_rng(seed)
    flip = rng.random(n_train) < 0.2
    y_noisy = np.where(flip, 1 - y_tr, y_tr)

    # model="ensemble": the slower, stronger probe, worth its time when you train on the weights.
    report = dataaudit.scan(X_tr, y_noisy, model="ensemble", random_state=seed)
    w = report.sample_weight()
    print(f"flipped {flip.sum()}; flagged {report.samples['is_label_issue'].sum()}; "
          f"mean weight on flipped rows {w[flip].mean():.2f}, on the others {w[~flip].mean():.2f}")

    results = {}
    for name, labels, weight in (("noisy labels", y_noisy, None),
                                 ("noisy labels + sample_weight", y_noisy, w),
                                 ("true labels (for reference)", y_tr, None)):
        keras.utils.set_random_seed(seed)
        model = build_model()
        model.fit(X_tr, labels, sample_weight=weight, epochs=epochs, batch_size=200, verbose=0)
        results[name] = float(model.evaluate(X_te, y_te, verbose=0)[1])
    print("\nclean test accuracy of Dense(16)-Dense(16)-Dense(1) trained on:")
    for name, acc in results.items():
        print(f"  {name:30s} {acc:.3f}")
    return results


if __name__ == "__main__":
    main(quick="--quick" in sys.argv[1:])
