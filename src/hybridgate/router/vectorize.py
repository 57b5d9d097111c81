"""Request -> feature vector: hand-crafted features followed by the static text embedding."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hybridgate.router.embed import StaticEmbedding
from hybridgate.router.features import FEATURE_NAMES, hand_features
from hybridgate.router.text import RequestText


class Vectorizer:
    def __init__(self, embedding: StaticEmbedding) -> None:
        self.embedding = embedding
        self.dim = len(FEATURE_NAMES) + embedding.dim

    def vector(self, t: RequestText) -> npt.NDArray[np.float32]:
        # The last user turn carries the task; system prompts are mostly boilerplate.
        return np.concatenate([hand_features(t), self.embedding.embed(t.last_user)])

    def matrix(self, texts: list[RequestText]) -> npt.NDArray[np.float32]:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i] = self.vector(t)
        return out
