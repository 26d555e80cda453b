"""Audit a training loop written without Keras: scikit-learn's MLPClassifier trained by
``partial_fit``, its epochs recorded with ``dataaudit.TrainingRecorder``.

Run: ``python examples/training_loop_example.py`` (about 10 s). It plants 10% wrong labels in
scikit-learn's 1,797 digits, trains for 40 epochs, logs the network's outputs and its hidden
layer after each epoch, and scans the run: the label verdicts come from the run itself (no
probe is trained). The same works for a PyTorch or JAX loop: hand ``log_epoch`` the outputs as
numpy.
"""

from __future__ import annotations

import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

import dataaudit


def hidden_layer(model: MLPClassifier, X: np.ndarray) -> np.ndarray:
    """The network's penultimate representation of X (its last hidden layer, ReLU)."""
    h = X
    for W, b in zip(model.coefs_[:-1], model.intercepts_[:-1]):
        h = np.maximum(h @ W + b, 0.0)
    return h


def main(out: str | None = None, epochs: int = 40, seed: int = 0) -> dataaudit.Report:
    digits = load_digits()
    X = StandardScaler().fit_transform(digits.data).astype(np.float32)
    rng = np.random.default_rng(seed)
    flipped = rng.random(len(X)) < 0.10
    y = np.where(flipped, (digits.target + rng.integers(1, 10, len(X))) % 10, digits.target)

    model = MLPClassifier((64,), learning_rate_init=1e-3, random_state=seed)
    recorder = dataaudit.TrainingRecorder(y, setup={"output_units": 10, "output_activation": "softmax",
                                                    "loss": "categorical_crossentropy", "learning_rate": 1e-3,
                                                    "optimizer": "adam"}, X=X)
    classes = np.arange(10)
    for epoch in range(epochs):
        for batch in np.array_split(rng.permutation(len(X)), len(X) // 200):
            model.partial_fit(X[batch], y[batch], classes=classes)
        probs = model.predict_proba(X)
        loss = float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, 1)).mean())
        recorder.log_epoch(probs, features=hidden_layer(model, X),
                           metrics={"loss": loss, "accuracy": float((probs.argmax(1) == y).mean())})
    if out:
        recorder.save(out)
    report = dataaudit.scan(X, y, dynamics=recorder, random_state=seed)
    flagged = report.samples["is_label_issue"].to_numpy()
    tp = int((flagged & flipped).sum())
    precision, recall = tp / max(flagged.sum(), 1), tp / flipped.sum()
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    print(f"planted {int(flipped.sum())} wrong labels; flagged {int(flagged.sum())}: precision {precision:.3f}, "
          f"recall {recall:.3f}, F1 {f1:.3f}")
    return report


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
