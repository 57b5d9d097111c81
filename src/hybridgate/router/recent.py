"""Recent requests' router features, kept in memory so that feedback can be joined to them later.

At plan time (right after detection, before any await) `capture` takes the feature vector the
learned scorer just computed for this request; when the request finishes, `observe` (a pipeline
observer) adds the tier and model that served it. Only numbers are kept: 28 form features and a
64-d averaged token embedding, never text, as float16 (half the memory of float32; the rounding,
~0.05%, is far below what a linear router can resolve). The map is a bounded LRU: the oldest
requests drop out, and feedback for them is answered 404 like an unknown id.

Per worker process: with `serve --workers N` feedback must reach the worker that served the request.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hybridgate.auth.principal import Principal
from hybridgate.detect.complexity_base import ComplexityScorer
from hybridgate.detect.signals import Signals
from hybridgate.store.records import UsageRecord

DEFAULT_CAPACITY = 50_000
FloatArray = npt.NDArray[np.float32]


@dataclass(slots=True)
class Seen:
    key_id: str | None
    ts: float
    packed: bytes | None  # float16 features; None: the request was not scored by the learned router
    feature_space: str | None  # which vectoriser produced it; rows from another one cannot train this one
    complexity: float | None
    tier: str | None = None  # the tier that served it; None until the request finished (or if it failed)
    model: str | None = None
    auto: bool = False
    status: int | None = None

    @property
    def vector(self) -> FloatArray | None:
        return None if self.packed is None else np.frombuffer(self.packed, dtype=np.float16).astype(np.float32)


class RecentRequests:
    def __init__(
        self,
        scorer: ComplexityScorer | None,
        capacity: int = DEFAULT_CAPACITY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.scorer = scorer
        self.capacity = capacity
        self.clock = clock
        self._seen: OrderedDict[str, Seen] = OrderedDict()
        self._space = getattr(scorer, "feature_space", None)

    def __len__(self) -> int:
        return len(self._seen)

    def capture(self, request_id: str, principal: Principal, signals: Signals) -> None:
        """Hot path: a dict insert and, past capacity, one eviction."""
        v = getattr(self.scorer, "last_vector", None) if signals.complexity is not None else None
        packed = None if v is None else v.astype(np.float16).tobytes()
        seen = self._seen
        seen[request_id] = Seen(principal.key_id, self.clock(), packed, self._space, signals.complexity)
        if len(seen) > self.capacity:
            seen.popitem(last=False)

    def observe(self, rec: UsageRecord) -> None:
        s = self._seen.get(rec.request_id)
        if s is not None:
            served = rec.endpoint is not None  # a failed request was served by no tier
            s.tier, s.model = (rec.tier, rec.model) if served else (None, None)
            s.auto, s.status = rec.auto_routed, rec.status

    def get(self, request_id: str) -> Seen | None:
        return self._seen.get(request_id)
