"""Retry policy pieces: a retry budget so retries cannot amplify an outage, and jittered back-off."""

from __future__ import annotations

import random

from hybridgate.routing.config import RetryConfig


class RetryBudget:
    """Token bucket: every request deposits `ratio` tokens, every retry spends one.

    With ratio 0.2, retries stay at or below ~20% of requests once the initial allowance is spent,
    so a fleet-wide outage does not turn into 3x load on whatever is still standing.
    """

    def __init__(self, ratio: float = 0.2, initial: float = 10.0, cap: float = 100.0) -> None:
        self.ratio = ratio
        self.tokens = initial
        self.cap = cap
        self.spent = 0
        self.denied = 0

    def on_request(self) -> None:
        self.tokens = min(self.cap, self.tokens + self.ratio)

    def try_spend(self) -> bool:
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            self.spent += 1
            return True
        self.denied += 1
        return False


def backoff_s(cfg: RetryConfig, retry_no: int, retry_after: float | None, rng: random.Random) -> float | None:
    """Seconds to wait before retry number `retry_no` (1-based) on an endpoint already tried.

    None means: don't wait for this endpoint at all (its Retry-After is longer than we will wait).
    """
    if retry_after is not None and retry_after > cfg.max_retry_after_s:
        return None
    base = min(cfg.backoff_max_s, cfg.backoff_base_s * 2 ** (retry_no - 1))
    jittered: float = base * (0.5 + rng.random() / 2)
    return max(jittered, retry_after or 0.0)
