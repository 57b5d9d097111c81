"""The learned complexity scorer: request -> need for the frontier model, in [0, 1].

Pure: it receives an already-loaded `RouterArtifact`. The score is a sigmoid of a linear model
trained on (1 + q_strong - q_weak) / 2, plus (format 2) a topic prior over the training tasks'
embedding centroids (`router.model.TopicPrior`): it rises with the expected gain of the strong
model over the weak one (what routing quality, APGR, rewards), and the packaged artifact centres
it near 0.5 for the average training request (no fitted base rate; see `router.model.fit_anchored`).
It is a ranking, not a probability: policies should pick thresholds with `threshold_for_share`.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from hybridgate.detect.complexity_base import ComplexityScorer
from hybridgate.router.embed import StaticEmbedding
from hybridgate.router.text import request_text
from hybridgate.router.vectorize import Vectorizer

if TYPE_CHECKING:
    from hybridgate.router.artifact import RouterArtifact

FloatArray = npt.NDArray[np.float32]
log = logging.getLogger("hybridgate.router")


class LearnedScorer:
    def __init__(self, artifact: RouterArtifact) -> None:
        self.vectorizer = Vectorizer(StaticEmbedding(artifact.vocab, artifact.table, artifact.table_scale))
        # Fold standardisation into the weights once: the hot path is one dot product.
        self._w = (artifact.weights / artifact.std).astype(np.float32)
        self._b = float(artifact.bias - artifact.mean @ (artifact.weights / artifact.std))
        prior = artifact.prior
        # Topic prior: centroids pre-divided by the temperature, gains pre-multiplied by 4 * weight.
        self._prior_start = prior.start if prior is not None else 0
        self._prior_c = (prior.centroids.T / prior.tau).astype(np.float32) if prior is not None else None
        self._prior_g = (4.0 * prior.weight * prior.gains).astype(np.float32) if prior is not None else None
        self._quantiles = artifact.score_quantiles
        self.version = str(artifact.metadata.get("version", "unversioned"))
        self.name = f"learned:{self.version}"
        self.dim = self.vectorizer.dim
        self.feature_space = feature_space(artifact)
        self.last_vector: FloatArray | None = None

    def vector(self, messages: Sequence[Mapping[str, Any]], *, tools: bool = False) -> FloatArray:
        """The numeric features the score is computed from (no text survives in them)."""
        return self.vectorizer.vector(request_text(messages, tools=tools))

    def score_vector(self, v: FloatArray) -> float:
        # The same float32 operations as `v @ w` and `p = exp(sims - sims.max()); (p @ g) / p.sum()`, to the
        # bit: 1-d `@` and `.dot` are the same dot function, `.max()`/`.sum()` the same reductions as the
        # ufuncs' own, minus their Python-level wrappers (each ~1 us, as long as the arithmetic here).
        z = float(v.dot(self._w)) + self._b
        if self._prior_c is not None and self._prior_g is not None:
            p = v[self._prior_start :] @ self._prior_c
            p -= np.maximum.reduce(p)
            np.exp(p, out=p)
            z += float(p.dot(self._prior_g)) / float(np.add.reduce(p))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def score(self, messages: Sequence[Mapping[str, Any]], *, tools: bool = False) -> float:
        self.last_vector = None  # never left pointing at an earlier request's features
        v = self.vector(messages, tools=tools)
        self.last_vector = v  # read by router.recent right after detection, before any await
        return self.score_vector(v)

    def threshold_for_share(self, share: float) -> float:
        """The score threshold that sent `share` of the training prompts to the strong model."""
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"frontier share must be in [0, 1], got {share}")
        grid = np.linspace(0.0, 1.0, len(self._quantiles))
        return float(np.interp(1.0 - share, grid, self._quantiles))


def feature_space(artifact: RouterArtifact) -> str:
    """Identifies the vectoriser (hand features + token table): vectors from the same one are comparable."""
    h = hashlib.sha256()
    h.update("\x1f".join(artifact.feature_names).encode())
    h.update("\n".join(artifact.vocab).encode())
    h.update(np.ascontiguousarray(artifact.table).tobytes())
    h.update(np.ascontiguousarray(artifact.table_scale).tobytes())
    return h.hexdigest()[:16]


def load_default_scorer() -> ComplexityScorer:
    """The scorer from the artifact shipped in the package; raises ArtifactError (a ConfigError)."""
    from hybridgate.router.artifact import load_default

    return LearnedScorer(load_default())


def load_active_scorer(notes: list[str] | None = None) -> ComplexityScorer:
    """The artifact registered by `router train --from-store` if any, else the packaged one.

    A broken registered artifact falls back to the packaged one (and says so in `notes`): the
    organisation's retrained router is an improvement, not a dependency. A broken packaged artifact
    raises ArtifactError like `load_default_scorer`.
    """
    from hybridgate.router import registry
    from hybridgate.router.artifact import ArtifactError, load_default

    try:
        active = registry.load_active()
    except ArtifactError as exc:
        _say(notes, f"registered router artifact unusable ({exc.message}); using the packaged one", logging.WARNING)
        active = None
    if active is not None:
        scorer = LearnedScorer(active)
        _say(notes, f"router artifact {scorer.version} (registered from feedback)", logging.INFO)
        return scorer
    return LearnedScorer(load_default())


def _say(notes: list[str] | None, line: str, level: int) -> None:
    log.log(level, "%s", line)
    if notes is not None:
        notes.append(line)
