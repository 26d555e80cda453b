"""The run as evidence: its probabilities rank every flagged row, and its share beside a probe is
learnt only from rows the network did not train on."""

from __future__ import annotations

import numpy as np

from dataaudit import run_evidence
from dataaudit.dynamics import TrainingRecord
from dataaudit.probabilities import ProbeResult, cross_entropy


def _record(labels, p_given, embedding, in_training, epochs=4):
    """A record whose network gave each row's label probability ``p_given`` at every epoch."""
    m = len(labels)
    logp = np.log(np.repeat(p_given[:, None], epochs, axis=1))
    other = np.repeat(((labels + 1) % 2)[:, None], epochs, axis=1)
    margin = logp - np.log(np.clip(1 - np.exp(logp), 1e-6, 1))
    return TrainingRecord(n_rows=m, fingerprint=0, rows=np.arange(m), labels=labels, in_training=in_training,
                          epochs=np.arange(epochs), logp_given=logp.astype(np.float16),
                          margin=margin.astype(np.float16), other=other.astype(np.int16), n_outputs=2,
                          embedding_mean=embedding.astype(np.float16))


def test_rows_every_neighbour_votes_against_are_ranked_by_the_networks_own_belief():
    rng = np.random.default_rng(0)
    m = 2_000
    truth = np.arange(m) % 2
    embedding = np.c_[truth * 4.0, 1 - truth * 4.0] + rng.normal(0, 0.3, (m, 2))
    labels = truth.copy()
    flipped = np.arange(0, 40, 2)                 # 20 flips, each deep inside the other class
    labels[flipped] = 1 - labels[flipped]
    belief = np.linspace(0.05, 0.4, len(flipped))  # how much the network believed each wrong label
    p_given = np.full(m, 0.9)
    p_given[flipped] = belief
    record = _record(labels, p_given, embedding, np.ones(m, bool))
    votes = run_evidence.neighbour_votes(embedding, labels, 2, 50)[flipped, labels[flipped]]
    assert (votes == votes.min()).sum() >= 5                        # the vote alone: ties at its floor
    quality = run_evidence.run_probabilities(record, 2)[flipped, labels[flipped]]
    assert len(np.unique(quality)) == len(flipped)
    for tied in np.unique(votes):                                  # within a tie: less belief, lower quality
        assert (np.diff(quality[votes == tied]) > 0).all()


def test_the_runs_share_is_learnt_from_held_out_rows_only():
    rng = np.random.default_rng(1)
    m = 1_200
    labels = rng.integers(0, 2, m)
    good = np.where(np.eye(2)[labels] > 0, 0.9, 0.1)
    vague = np.full((m, 2), 0.5)
    held = np.zeros(m, bool)
    held[:600] = True
    assert run_evidence.pool_weight(good, vague, labels, held) == 1.0
    assert run_evidence.pool_weight(vague, good, labels, held) == 0.0
    assert run_evidence.pool_weight(good, vague, labels, np.zeros(m, bool)) is None

    embedding = np.c_[labels * 4.0, 1 - labels * 4.0] + rng.normal(0, 0.3, (m, 2))
    probe = ProbeResult(vague, cross_entropy(vague, labels), {"model": "vague"})
    trained_on_all = run_evidence.evidence(_record(labels, np.full(m, 0.9), embedding, np.ones(m, bool)), labels, 2,
                                       probe=probe)
    assert trained_on_all.info["record_share"] == run_evidence.POOL_WEIGHT
    assert trained_on_all.info["record_share_from"] == "the default"
    with_validation = run_evidence.evidence(_record(labels, np.full(m, 0.9), embedding, ~held), labels, 2, probe=probe)
    assert with_validation.info["record_share"] > run_evidence.POOL_WEIGHT
    assert with_validation.info["record_share_from"] == "the held-out rows"
