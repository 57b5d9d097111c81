"""Accepting feedback: authenticate, validate, join to the request's features, store.

A principal may rate only its own requests: the key id captured with the features must match the
caller's. Someone else's request id is answered exactly like an unknown one (404), so ids cannot be
probed.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from prometheus_client import Counter

from hybridgate.auth.principal import Authenticator
from hybridgate.errors import NotFound
from hybridgate.router.feedback import FeedbackRow, label, parse_feedback
from hybridgate.router.feedback_store import FeedbackStore
from hybridgate.router.recent import RecentRequests


@functools.cache
def feedback_counter() -> Counter:
    """Created on first use, on the default registry (multi-process safe like every Counter)."""
    return Counter("hybridgate_router_feedback", "Feedback rows stored, by training label", ("label",))


def label_name(value: float | None) -> str:
    if value is None:
        return "unused"
    return "weak_failed" if value >= 0.5 else "weak_ok"


class FeedbackService:
    def __init__(
        self,
        recent: RecentRequests,
        store: FeedbackStore,
        auth: Authenticator,
        tiers: Collection[str],
        frontier_tier: str | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.recent = recent
        self.store = store
        self.auth = auth
        self.tiers = frozenset(tiers)
        self.frontier_tier = frontier_tier
        self.clock = clock

    async def submit(self, body: Mapping[str, Any], authorization: str | None) -> dict[str, Any]:
        principal = await self.auth.authenticate(authorization)
        fb = parse_feedback(body, self.tiers)
        seen = self.recent.get(fb.request_id)
        if seen is None or seen.key_id != principal.key_id:
            raise NotFound(
                f"no recent request {fb.request_id!r} for this key (feedback is accepted for the last "
                f"{self.recent.capacity} requests this worker served)",
                param="request_id",
                code="unknown_request_id",
            )
        row = FeedbackRow(
            request_id=fb.request_id,
            received_at=self.clock(),
            request_ts=seen.ts,
            key_id=seen.key_id,
            tier=seen.tier,
            model=seen.model,
            auto=seen.auto,
            score=fb.score,
            preferred_tier=fb.preferred_tier,
            feature_space=seen.feature_space if seen.packed is not None else None,
            features=seen.vector,
        )
        await self.store.put(row)
        target = label(row, self.frontier_tier) if self.frontier_tier and row.features is not None else None
        feedback_counter().labels(label_name(target)).inc()
        return {
            "object": "feedback",
            "request_id": row.request_id,
            "stored": True,
            "served_tier": row.tier,
            "trainable": target is not None,  # joined to router features and carries a label
        }

    async def aclose(self) -> None:
        await self.store.aclose()
