from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hybridgate.detect.complexity import LearnedScorer, load_default_scorer
from hybridgate.detect.complexity_base import ComplexityScorer
from hybridgate.router.artifact import RouterArtifact
from hybridgate.router.features import FEATURE_NAMES
from hybridgate.router.model import TopicPrior
from hybridgate.router.retrain import linear_of
from tests.unit.router.conftest import make_artifact


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_learned_scorer_follows_its_weights(tiny_artifact: RouterArtifact) -> None:
    s = LearnedScorer(tiny_artifact)
    hard, easy = s.score(_user("hard proofs")), s.score(_user("easy"))
    assert 0.0 <= easy < 0.5 < hard <= 1.0
    flipped = LearnedScorer(make_artifact(hard_weight=-2.0))
    assert flipped.score(_user("hard proofs")) < 0.5


def test_empty_and_odd_messages_score_without_error(tiny_artifact: RouterArtifact) -> None:
    s = LearnedScorer(tiny_artifact)
    assert s.score([]) == pytest.approx(0.5)
    odd = [{"role": "user", "content": [{"type": "text", "text": "hard"}]}, "junk", {"role": "tool"}]
    assert 0.5 < s.score(odd, tools=True) <= 1.0  # type: ignore[list-item]


def test_threshold_for_share_reads_the_calibration(tiny_artifact: RouterArtifact) -> None:
    s = LearnedScorer(tiny_artifact)  # quantiles run linearly 0.1 .. 0.9
    assert s.threshold_for_share(0.5) == pytest.approx(0.5)
    assert s.threshold_for_share(0.2) == pytest.approx(0.74)
    assert s.threshold_for_share(1.0) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        s.threshold_for_share(1.5)


def test_default_scorer_loads_and_satisfies_the_protocol() -> None:
    scorer: ComplexityScorer = load_default_scorer()
    assert scorer.name.startswith("learned:complexity-v2")
    for text in ("hi", "Prove that the square root of 2 is irrational.", "x" * 50_000):
        assert 0.0 <= scorer.score(_user(text)) <= 1.0


def test_the_topic_prior_moves_the_score_like_the_training_model(tiny_artifact: RouterArtifact) -> None:
    # "hard" points along the first embedding axis, "the" along the second: two topics, one with gain.
    prior = TopicPrior(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0.2, -0.2]), 0.1, 1.0, len(FEATURE_NAMES))
    a = dataclasses.replace(tiny_artifact, prior=prior)
    with_prior, without = LearnedScorer(a), LearnedScorer(tiny_artifact)
    assert with_prior.score(_user("the the")) < without.score(_user("the the"))
    assert with_prior.score(_user("hard")) > without.score(_user("hard"))
    for text in ("hard proofs", "the easy", "unaffable"):
        v = with_prior.vector(_user(text))
        assert with_prior.score(_user(text)) == pytest.approx(float(linear_of(a).predict(v[None, :])[0]), abs=1e-6)
