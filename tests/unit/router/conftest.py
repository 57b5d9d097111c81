"""A tiny, hand-made router artifact: fast to build, every number known."""

from __future__ import annotations

import numpy as np
import pytest

from hybridgate.router.artifact import RouterArtifact
from hybridgate.router.features import FEATURE_NAMES

VOCAB = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "hard", "easy", "proof", "##s", "the", "un", "##aff", "##able")


def make_artifact(hard_weight: float = 2.0) -> RouterArtifact:
    table = np.zeros((len(VOCAB), 2), dtype=np.int8)
    table[VOCAB.index("hard")] = (127, 0)
    table[VOCAB.index("proof")] = (127, 0)
    table[VOCAB.index("easy")] = (-127, 0)
    table[VOCAB.index("the")] = (0, 127)
    n = len(FEATURE_NAMES) + 2
    weights = np.zeros(n)
    weights[-2] = hard_weight  # first embedding dimension: "hard"-ness
    return RouterArtifact(
        vocab=VOCAB,
        table=table,
        table_scale=np.array([1 / 127, 1 / 127], dtype=np.float32),
        feature_names=FEATURE_NAMES,
        mean=np.zeros(n),
        std=np.ones(n),
        weights=weights,
        bias=0.0,
        score_quantiles=np.linspace(0.1, 0.9, 101),
        metadata={"version": "test-1", "training_files": [{"file": "tiny.csv", "licence": "MIT"}]},
    )


@pytest.fixture
def tiny_artifact() -> RouterArtifact:
    return make_artifact()
