"""Request -> feature vector: hand-crafted features followed by the static text embedding."""

from __future__ import annotations

import struct

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
        # The hand features as float32 in native byte order, packed straight into the row: the same C cast from
        # double numpy's assignment makes, without its discovery of the list's shape and type (half the cost).
        self._pack_hand = struct.Struct(f"={self.n_hand}f").pack_into

    def vector(self, t: RequestText) -> npt.NDArray[np.float32]:
        # Hand features, then the embedding of the last user turn (it carries the task; system prompts are
        # mostly boilerplate), each written straight into the row.
        out = np.empty(self.dim, dtype=np.float32)
        hand = hand_feature_list(t)
        try:
            self._pack_hand(out, 0, *hand)  # type: ignore[arg-type]  # an ndarray is a writable buffer
        except OverflowError:  # a value past float32's range (none is): numpy's assignment stores inf
            out[: self.n_hand] = hand
        self.embedding.embed_into(t.last_user, out[self.n_hand :])
        return out

    def matrix(self, texts: list[RequestText]) -> npt.NDArray[np.float32]:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i] = self.vector(t)
        return out
