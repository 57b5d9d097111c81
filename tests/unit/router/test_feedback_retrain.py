"""Retraining from feedback: usable rows, the hold-out split, ranking metrics and the not-worse gate."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from hybridgate.detect.complexity import LearnedScorer, feature_space
from hybridgate.router import metrics
from hybridgate.router.artifact import RouterArtifact, dumps, loads
from hybridgate.router.retrain import Quality, RetrainConfig, RetrainError, auc, held_back, not_worse, retrain, usable
from tests.unit.router.synthetic_feedback import make_rows

HARD = 28  # the tiny artifact's first embedding dimension: the only feature it weighs


@pytest.mark.parametrize(
    ("scores", "y", "expected"),
    [
        ([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0], 1.0),
        ([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0], 0.0),
        ([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0], 0.5),
        ([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0], 0.875),  # one tied pair counts one half: (3 + 0.5) / 4
    ],
)
def test_auc_hand_cases(scores: list[float], y: list[int], expected: float) -> None:
    assert auc(scores, y) == pytest.approx(expected)


def test_auc_needs_both_classes() -> None:
    assert math.isnan(auc([0.1, 0.2], [1, 1]))


def test_binary_apgr_is_an_affine_function_of_auc() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(200) < 0.3).astype(float)
    s = rng.random(200) + 0.5 * y
    p = y.mean()
    assert metrics.apgr(s, y, np.zeros(200)) == pytest.approx(p / 2 + (1 - p) * auc(s, y), abs=1e-9)


@pytest.mark.parametrize(
    ("cand", "cur", "ok"),
    [
        (Quality(0.7, 0.8), Quality(0.6, 0.7), True),
        (Quality(0.6, 0.7), Quality(0.6, 0.7), True),  # equal is not worse
        (Quality(0.59, 0.7), Quality(0.6, 0.7), False),
        (Quality(math.nan, math.nan), Quality(0.6, 0.7), False),  # nothing to judge it on
        (Quality(0.6, 0.7), Quality(math.nan, math.nan), True),
    ],
)
def test_not_worse_gate(cand: Quality, cur: Quality, ok: bool) -> None:
    assert not_worse(cand, cur) is ok


def test_hold_out_is_stable_and_near_its_share() -> None:
    ids = [f"hg-{i}" for i in range(4000)]
    picked = [held_back(i, 0.25, 0) for i in ids]
    assert 0.22 < sum(picked) / len(ids) < 0.28
    assert picked == [held_back(i, 0.25, 0) for i in ids]
    assert picked != [held_back(i, 0.25, 1) for i in ids]


def test_usable_skips_and_counts(tiny_artifact: RouterArtifact) -> None:
    space = feature_space(tiny_artifact)
    good = make_rows(3, 30, space, feature=0)
    rows = [
        *good,
        replace(good[0], request_id="x1", features=None),
        replace(good[0], request_id="x2", feature_space="other"),
        replace(good[0], request_id="x3", tier="frontier"),  # a score on a frontier answer: no label
    ]
    keep, y, skipped = usable(rows, "frontier", space)
    assert [r.request_id for r in keep] == [r.request_id for r in good]
    assert len(y) == 3
    assert skipped == {"no features": 1, "other feature space": 1, "no label": 1}


def test_candidate_that_learns_the_rule_beats_the_current_artifact(tiny_artifact: RouterArtifact) -> None:
    rows = make_rows(400, 30, feature_space(tiny_artifact), feature=0)
    out = retrain(rows, tiny_artifact, "frontier", n_boot=200)
    assert out.n_train + out.n_holdout == 400
    assert out.candidate.auc > 0.9 and out.candidate.apgr > out.current.apgr
    assert out.not_worse and out.gain.low > 0
    meta = out.artifact.metadata
    assert meta["source"] == "feedback" and "organisation" in str(meta["training_data"])
    assert meta["n_train"] == out.n_train and meta["base_artifact"] == "test-1"
    # the artifact round-trips and scores with the same features the gateway stored
    scorer = LearnedScorer(loads(dumps(out.artifact)))
    assert scorer.feature_space == feature_space(tiny_artifact)
    hi, lo = np.zeros(30, np.float32), np.zeros(30, np.float32)
    hi[0], lo[0] = 2.0, -2.0
    assert scorer.score_vector(hi) > scorer.score_vector(lo)


def test_candidate_trained_on_the_opposite_rule_is_worse(tiny_artifact: RouterArtifact) -> None:
    rows = make_rows(400, 30, feature_space(tiny_artifact), feature=HARD, flip_train=True)
    out = retrain(rows, tiny_artifact, "frontier", n_boot=200)
    assert out.current.auc == pytest.approx(1.0)
    assert out.candidate.apgr < out.current.apgr
    assert not out.not_worse


def test_retrain_is_deterministic(tiny_artifact: RouterArtifact) -> None:
    rows = make_rows(300, 30, feature_space(tiny_artifact), feature=0)
    a = retrain(rows, tiny_artifact, "frontier", n_boot=50)
    b = retrain(list(reversed(rows)), tiny_artifact, "frontier", n_boot=50)
    assert dumps(a.artifact) == dumps(b.artifact)
    c = retrain(rows, tiny_artifact, "frontier", RetrainConfig(seed=1), n_boot=50)
    assert c.artifact.metadata["version"] != a.artifact.metadata["version"]


def test_too_little_feedback_is_a_clear_error(tiny_artifact: RouterArtifact) -> None:
    rows = make_rows(20, 30, feature_space(tiny_artifact), feature=0)
    with pytest.raises(RetrainError, match="usable feedback rows"):
        retrain(rows, tiny_artifact, "frontier")
