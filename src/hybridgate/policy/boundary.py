"""The egress boundary check, made on every attempt and again inside every backend call."""

from __future__ import annotations

from hybridgate.errors import NoAllowedEndpoint
from hybridgate.labels import Trust


class EgressViolation(NoAllowedEndpoint):
    """A call path tried to reach an endpoint outside the boundary. A bug, answered as 503, never sent."""

    code = "egress_blocked"


def check_egress(endpoint: str, trust: Trust, allowed: frozenset[Trust]) -> None:
    if trust not in allowed:
        raise EgressViolation(f"endpoint {endpoint} ({trust.value}) is outside this request's boundary", retry_after=5)
