"""Recent requests' router features, kept in memory so that feedback can be joined to them later.

At plan time (right after detection, before any await) `capture` takes the feature vector the
learned scorer just computed for this request; when the request finishes, `observe` (a pipeline
observer) adds the tier and model that served it. Only numbers are kept: 28 form features and a
64-d averaged token embedding, never text, as float16 (half the memory of float32; the rounding,
~0.05%, is far below what a linear router can resolve). The store is a bounded ring: the oldest
requests drop out, and feedback for them is answered 404 like an unknown id.

Per worker process: with `serve --workers N` feedback must reach the worker that served the request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hybridgate.auth.principal import Principal
from hybridgate.detect.complexity_base import ComplexityScorer
from hybridgate.detect.signals import Signals
from hybridgate.store.records import UsageRecord

DEFAULT_CAPACITY = 20_000  # ~2 min of traffic at 170 req/s per worker; feedback for older ids is a 404
FloatArray = npt.NDArray[np.float32]


@dataclass(slots=True)
class Seen:
    """A snapshot of one tracked request (taken by `get`; later updates do not change it)."""

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
    """A ring of `capacity` slots, its arrays allocated (and touched) up front.

    Why not a dict of small objects: at ~0.5 KB per request a full 50,000-entry map grew a worker by
    ~25 MB over a soak; here the only per-request allocation kept is the request id (the dict key),
    so resident memory is flat once the ring has wrapped.
    """

    def __init__(
        self,
        scorer: ComplexityScorer | None,
        capacity: int = DEFAULT_CAPACITY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.scorer = scorer
        self.capacity = capacity
        self.clock = clock
        self._space = getattr(scorer, "feature_space", None)
        self._slot: dict[str, int] = {}
        self._ids: list[str | None] = [None] * capacity
        self._key: list[str | None] = [None] * capacity
        self._tier: list[str | None] = [None] * capacity
        self._model: list[str | None] = [None] * capacity
        self._ts = np.zeros(capacity, dtype=np.float64)
        self._cx = np.full(capacity, np.nan, dtype=np.float64)
        self._status = np.zeros(capacity, dtype=np.int32)  # 0: not finished
        self._auto = np.zeros(capacity, dtype=np.bool_)
        self._has_vec = np.zeros(capacity, dtype=np.bool_)
        self._vec: npt.NDArray[np.float16] | None = None
        self._next = 0

    def __len__(self) -> int:
        return len(self._slot)

    def _vectors(self, dim: int) -> npt.NDArray[np.float16] | None:
        if self._vec is None:
            self._vec = np.ones((self.capacity, dim), dtype=np.float16)  # ones, not zeros: touch every page now
        return self._vec if self._vec.shape[1] == dim else None

    def capture(self, request_id: str, principal: Principal, signals: Signals) -> None:
        """Hot path: one dict insert, one eviction, a few array stores."""
        v = getattr(self.scorer, "last_vector", None) if signals.complexity is not None else None
        slot = self._next
        self._next = (slot + 1) % self.capacity
        old = self._ids[slot]
        if old is not None and self._slot.get(old) == slot:
            del self._slot[old]
        self._ids[slot] = request_id
        self._slot[request_id] = slot
        self._key[slot] = principal.key_id
        self._tier[slot] = self._model[slot] = None
        self._ts[slot] = self.clock()
        self._cx[slot] = np.nan if signals.complexity is None else signals.complexity
        self._status[slot] = 0
        self._auto[slot] = False
        vectors = None if v is None else self._vectors(int(v.shape[-1]))
        self._has_vec[slot] = vectors is not None
        if vectors is not None and v is not None:
            vectors[slot] = v

    def observe(self, rec: UsageRecord) -> None:
        slot = self._slot.get(rec.request_id)
        if slot is not None:
            served = rec.endpoint is not None  # a failed request was served by no tier
            self._tier[slot], self._model[slot] = (rec.tier, rec.model) if served else (None, None)
            self._auto[slot], self._status[slot] = rec.auto_routed, rec.status

    def get(self, request_id: str) -> Seen | None:
        slot = self._slot.get(request_id)
        if slot is None:
            return None
        vec = self._vec
        packed = vec[slot].tobytes() if vec is not None and self._has_vec[slot] else None
        cx = float(self._cx[slot])
        status = int(self._status[slot])
        return Seen(
            self._key[slot],
            float(self._ts[slot]),
            packed,
            self._space,
            None if cx != cx else cx,  # NaN: not scored
            self._tier[slot],
            self._model[slot],
            bool(self._auto[slot]),
            status or None,
        )
