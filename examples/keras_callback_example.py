"""Your own Keras run as the evidence: record it, scan it, retrain with the weights.

    pip install "dataaudit[keras]"
    python examples/keras_callback_example.py            # digits as 28 x 28 images, ~2 minutes on 2 cores
    python examples/keras_callback_example.py --quick    # 8 x 8 images, ~30 s

A small CNN on handwritten digits whose training labels carry 30% planted noise (a small CNN
shrugs off less on digits). The run is
recorded by ``AuditCallback``; ``dataaudit.scan(X, y, dynamics=cb)`` turns the run into label
verdicts and sample weights without training any other model; the next run trains with
``sample_weight=report.sample_weight()`` and is recorded and scanned again (it is the user's
next run anyway): each round the weights come from a cleaner run. Test labels are clean.

Measured here (--quick, seeds 0 and 1): the run alone flagged 409 and 420 rows, 397 of 417 and
403 of 426 flipped ones; clean test accuracy 0.959 / 0.928 on the noisy labels, 0.959 / 0.959
after one weighted retrain, 0.964 / 0.964 after two, 0.977 / 0.968 on the true labels (442 test
rows: one row is 0.2%).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from scipy.ndimage import zoom
from sklearn.datasets import load_digits

import dataaudit


def images(size: int) -> tuple[np.ndarray, np.ndarray]:
    digits = load_digits()
    X = digits.images.astype(np.float32) / 16.0
    if size != 8:
        X = np.stack([zoom(image, size / 8, order=1) for image in X])
    return X[..., None], digits.target


def build_cnn(shape: tuple[int, ...]):
    import keras

    model = keras.Sequential([
        keras.Input(shape),
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def main(quick: bool = False, seed: int = 0, noise: float = 0.3, rounds: int = 2) -> dict[str, float]:
    import keras

    from dataaudit.keras import AuditCallback

    X, y = images(8 if quick else 28)
    rng = np.random.default_rng(seed)
    test = rng.random(len(y)) < 0.25
    X_tr, y_tr, X_te, y_te = X[~test], y[~test], X[test], y[test]
    flipped = rng.random(len(y_tr)) < noise
    y_noisy = np.where(flipped, (y_tr + rng.integers(1, 10, len(y_tr))) % 10, y_tr)
    epochs = 20 if quick else 30

    def train(labels, weights=None):
        keras.utils.set_random_seed(seed)
        model = build_cnn(X_tr.shape[1:])
        cb = AuditCallback(X_tr, labels)
        model.fit(X_tr, labels, sample_weight=weights, epochs=epochs, batch_size=32, verbose=0, callbacks=[cb])
        return float(model.evaluate(X_te, y_te, verbose=0)[1]), cb

    results = {}
    accuracy, cb = train(y_noisy)
    results["noisy labels"] = accuracy
    for round_ in range(1, rounds + 1):
        report = dataaudit.scan(X_tr, y_noisy, dynamics=cb)          # no probe: the run is the evidence
        flagged = report.samples["is_label_issue"].to_numpy()
        print(f"round {round_}: flagged {flagged.sum()} ({(flagged & flipped).sum()} of the {flipped.sum()} flipped)")
        accuracy, cb = train(y_noisy, report.sample_weight())
        results[f"noisy labels + sample_weight (round {round_})"] = accuracy
    results["true labels (for reference)"] = train(y_tr)[0]
    print("\nclean test accuracy of the CNN trained on:")
    for name, value in results.items():
        print(f"  {name:42s} {value:.3f}")
    return results


if __name__ == "__main__":
    main(quick="--quick" in sys.argv[1:])
