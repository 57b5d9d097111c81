"""Request -> feature vector: hand-crafted features followed by the static text embedding."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hybridgate.router.embed import StaticEmbedding
from hybridgate.router.features import FEATURE_NAMES, hand_feature_list
from hybridgate.router.text import RequestText


class Vectorizer:
    def __init__(self, embedding: StaticEmbedding) -> None:
        self.embedding = embedding
        self.n_hand = len(FEATURE_NAMES)
        self.dim = self.n_hand + embedding.dim

    def vector(self, t: RequestText) -> npt.NDArray[np.float32]:
        # Hand features, then the embedding of the last user turn (it carries the task; system prompts are
        # mostly boilerplate), each written straight into the row.
        out = np.empty(self.dim, dtype=np.float32)
        out[: self.n_hand] = hand_feature_list(t)
        self.embedding.embed_into(t.last_user, out[self.n_hand :])
        return out

    def matrix(self, texts: list[RequestText]) -> npt.NDArray[np.float32]:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i] = self.vector(t)
        return out
