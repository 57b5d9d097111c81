"""select(decision, topology, snapshot) -> ordered attempts. Pure: the snapshot and randomness are passed in.

Only endpoints whose trust label is inside the decision's boundary are ever candidates. Unhealthy
endpoints are left out, never used as a last resort ("all unhealthy -> use all" is how egress happens).
Busy endpoints (at their concurrency limit, or whose load predicts an SLO miss) are left out too: the
request overflows to the next allowed tier, or waits for capacity (see `waitable`).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hybridgate.frozen import quick_init
from hybridgate.labels import Trust
from hybridgate.policy.decide import Decision
from hybridgate.routing.strategy import LoadView, order
from hybridgate.routing.topology import Topology


@quick_init  # built on every request
@dataclass(frozen=True, slots=True)
class EndpointState:
    healthy: bool = True
    in_flight: int = 0
    ewma_ms: float = 0.0
    breaker: str = "closed"  # closed | open | half_open
    max_in_flight: int = 1_000_000
    overloaded: bool = False  # the endpoint's own load signals predict an SLO miss
    load_note: str = ""  # why it is overloaded, for headers and explain

    @property
    def full(self) -> bool:
        # a half-open endpoint admits one trial request at a time
        return self.in_flight >= (1 if self.breaker == "half_open" else self.max_in_flight)


@quick_init  # built on every request
@dataclass(frozen=True, slots=True)
class Snapshot:
    states: Mapping[str, EndpointState] = field(default_factory=dict)
    tick: int = 0  # drives round robin and tie rotation
    seed: int = 0  # drives power-of-two choices

    def state(self, name: str) -> EndpointState:
        return self.states.get(name, _HEALTHY)


_HEALTHY = EndpointState()


@quick_init  # built on every request
@dataclass(frozen=True, slots=True)
class Attempt:
    endpoint: str
    model: str
    trust: Trust
    tier: str | None = None
    overflow: bool = False  # served by a fallback tier
    overflow_reason: str | None = None  # set when the primary tier was skipped for load


def _allowed(name: str, decision: Decision, topo: Topology) -> bool:
    return topo.endpoints[name].trust in decision.allowed_trust


def _up(st: EndpointState) -> bool:
    return st.healthy and st.breaker != "open"


def candidate_groups(decision: Decision, topo: Topology) -> Sequence[tuple[str | None, tuple[str, ...]]]:
    """(tier, endpoints) in the order the decision allows them, before health and the boundary."""
    if decision.model is not None:
        return [(None, topo.serving(decision.model))]
    if decision.tier is None:
        return []
    return topo.groups(decision.tier)  # breadth-first over fallbacks


def _first_attempt(topo: Topology, tier: str, name: str) -> Attempt:
    """`Attempt(name, model, trust, tier)` of a first-choice endpoint, built once per topology."""
    a: Attempt | None = topo._attempts.get((tier, name))
    if a is None:
        a = topo._attempts[(tier, name)] = Attempt(name, topo.tier_model(tier, name), topo.endpoints[name].trust, tier)
    return a


def select(decision: Decision, topo: Topology, snap: Snapshot, *, affinity_key: str | None = None) -> list[Attempt]:
    if decision.action == "deny":
        return []
    rng: random.Random | None = None  # seeded on first use: most tiers have one endpoint and draw nothing
    out: list[Attempt] = []
    seen: set[str] = set()
    skipped_for_load = ""
    endpoints = topo.endpoints
    for i, (tier, names) in enumerate(candidate_groups(decision, topo)):
        up: list[str] = []
        free: list[str] = []
        for n in names:
            if n in seen or not _allowed(n, decision, topo):
                continue
            st = snap.state(n)
            if _up(st):
                up.append(n)
                if not st.full and not st.overloaded:
                    free.append(n)
        if i == 0 and up and not free:
            skipped_for_load = "; ".join(f"{n}: {snap.state(n).load_note or 'at its concurrency limit'}" for n in up)
            if tier is not None and not topo.tiers[tier].overflow:
                return []
        info = topo.tiers[tier] if tier is not None else None
        if len(free) < 2:  # every strategy, with or without affinity, leaves a single endpoint where it is
            ranked = free
        else:
            load = {n: LoadView(snap.state(n).in_flight, snap.state(n).ewma_ms, topo.endpoints[n].weight) for n in free}
            if rng is None:  # only p2c over two or more draws; same seed, so the same draws
                rng = random.Random(snap.seed)
            ranked = order(
                free,
                info.strategy if info else "p2c_ewma",
                load,
                tick=snap.tick,
                rng=rng,
                affinity_key=affinity_key if info and info.prefix_affinity else None,
            )
        for name in ranked:
            seen.add(name)
            if i == 0 and tier is not None:  # the usual attempt: the same (frozen) one for every request
                out.append(_first_attempt(topo, tier, name))
                continue
            model = decision.model if tier is None else topo.tier_model(tier, name)
            assert model is not None
            reason = skipped_for_load if i > 0 and skipped_for_load else None
            out.append(Attempt(name, model, endpoints[name].trust, tier, i > 0, reason))  # overflow, overflow_reason
    return out


def waitable(decision: Decision, topo: Topology, snap: Snapshot) -> bool:
    """True when some endpoint inside the boundary is up but busy: waiting for capacity may help."""
    if decision.action == "deny":
        return False
    for _, names in candidate_groups(decision, topo):
        for n in names:
            st = snap.state(n)
            if _allowed(n, decision, topo) and _up(st) and (st.full or st.overloaded):
                return True
    return False
