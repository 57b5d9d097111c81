"""The learned complexity scorer: request -> need for the frontier model, in [0, 1].

Pure: it receives an already-loaded `RouterArtifact`. The score is (1 + E[q_strong - q_weak]) / 2,
a calibrated monotone proxy for P(the weak model fails where the strong one succeeds): ranking by
expected gain is what routing quality (APGR) rewards. Policies should pick thresholds with
`threshold_for_share`, not by reading the score as a raw probability.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hybridgate.detect.complexity_base import ComplexityScorer
from hybridgate.router.embed import StaticEmbedding
from hybridgate.router.text import request_text
from hybridgate.router.vectorize import Vectorizer

if TYPE_CHECKING:
    from hybridgate.router.artifact import RouterArtifact


class LearnedScorer:
    def __init__(self, artifact: RouterArtifact) -> None:
        self.vectorizer = Vectorizer(StaticEmbedding(artifact.vocab, artifact.table, artifact.table_scale))
        # Fold standardisation into the weights once: the hot path is one dot product.
        self._w = (artifact.weights / artifact.std).astype(np.float32)
        self._b = float(artifact.bias - artifact.mean @ (artifact.weights / artifact.std))
        self._quantiles = artifact.score_quantiles
        self.version = str(artifact.metadata.get("version", "unversioned"))
        self.name = f"learned:{self.version}"

    def score(self, messages: Sequence[Mapping[str, Any]], *, tools: bool = False) -> float:
        z = float(self.vectorizer.vector(request_text(messages, tools=tools)) @ self._w) + self._b
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def threshold_for_share(self, share: float) -> float:
        """The score threshold that sent `share` of the training prompts to the strong model."""
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"frontier share must be in [0, 1], got {share}")
        grid = np.linspace(0.0, 1.0, len(self._quantiles))
        return float(np.interp(1.0 - share, grid, self._quantiles))


def load_default_scorer() -> ComplexityScorer:
    """The scorer from the artifact shipped in the package; raises ArtifactError (a ConfigError)."""
    from hybridgate.router.artifact import load_default

    return LearnedScorer(load_default())
