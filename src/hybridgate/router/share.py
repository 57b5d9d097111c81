"""The realised frontier share: how much auto-routed traffic the frontier tier actually got.

The complexity threshold is calibrated on the training distribution to send `frontier_share` of it
to the frontier; real traffic drifts. This observer counts, per worker, auto-routed requests that
were served, how many went to the frontier tier, and the same over a recent window. "Eligible"
requests are those whose boundary allowed the frontier tier at all (sensitive ones cannot go):
among them the share is what the calibration controls.

Prometheus has the same numbers across workers: `hybridgate_router_auto_requests_total{tier}`
(observe/metrics.py) against `hybridgate_router_frontier_share_target`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from hybridgate.store.records import UsageRecord

WINDOW = 1000


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class ShareCounter:
    frontier_tier: str | None
    target: float | None
    frontier_trust: Collection[str] = ()  # trust labels of the frontier tier's endpoints
    window: int = WINDOW
    auto: int = 0
    frontier: int = 0
    eligible: int = 0
    eligible_frontier: int = 0
    _recent: deque[bool] = field(default_factory=deque)
    _recent_frontier: int = 0

    def observe(self, rec: UsageRecord) -> None:
        if not rec.auto_routed or rec.endpoint is None:
            return
        hit = rec.tier is not None and rec.tier == self.frontier_tier
        self.auto += 1
        self.frontier += hit
        if any(t in self.frontier_trust for t in rec.allowed_trust):
            self.eligible += 1
            self.eligible_frontier += hit
            self._remember(hit)

    def _remember(self, hit: bool) -> None:
        self._recent.append(hit)
        self._recent_frontier += hit
        if len(self._recent) > self.window:
            self._recent_frontier -= self._recent.popleft()

    def snapshot(self) -> dict[str, Any]:
        return {
            "frontier_tier": self.frontier_tier,
            "target_share": self.target,
            "auto_requests": self.auto,
            "frontier_requests": self.frontier,
            "realised_share": _share(self.frontier, self.auto),
            "eligible_requests": self.eligible,
            "eligible_share": _share(self.eligible_frontier, self.eligible),
            "recent_window": len(self._recent),
            "recent_share": _share(self._recent_frontier, len(self._recent)),
        }
