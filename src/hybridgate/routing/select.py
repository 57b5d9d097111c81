"""select(decision, topology, snapshot) -> ordered attempts. Pure: the snapshot is passed in.

Only endpoints whose trust label is inside the decision's boundary are ever candidates; unhealthy
endpoints are left out, never used as a last resort ("all unhealthy -> use all" is how egress happens).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hybridgate.labels import Trust
from hybridgate.policy.decide import Decision
from hybridgate.routing.topology import Topology


@dataclass(frozen=True, slots=True)
class EndpointState:
    healthy: bool = True
    in_flight: int = 0
    ewma_ms: float = 0.0
    breaker: str = "closed"  # closed | open | half_open
    max_in_flight: int = 1_000_000
    overloaded: bool = False  # the endpoint's own load signals predict an SLO miss


@dataclass(frozen=True, slots=True)
class Snapshot:
    states: Mapping[str, EndpointState] = field(default_factory=dict)
    tick: int = 0  # rotates ties so equal endpoints share load

    def state(self, name: str) -> EndpointState:
        return self.states.get(name, _HEALTHY)


_HEALTHY = EndpointState()


@dataclass(frozen=True, slots=True)
class Attempt:
    endpoint: str
    model: str
    trust: Trust
    tier: str | None = None
    overflow: bool = False  # served by a fallback tier


def _rank(names: list[str], topo: Topology, snap: Snapshot) -> list[str]:
    def key(item: tuple[int, str]) -> tuple[float, float, int]:
        pos, name = item
        st = snap.state(name)
        load = st.in_flight / topo.endpoints[name].weight
        return (load, st.ewma_ms, (pos - snap.tick) % max(1, len(names)))

    return [n for _, n in sorted(enumerate(names), key=key)]


def _usable(name: str, allowed: frozenset[Trust], topo: Topology, snap: Snapshot) -> bool:
    st = snap.state(name)
    return (
        topo.endpoints[name].trust in allowed
        and st.healthy
        and st.breaker != "open"
        and st.in_flight < st.max_in_flight
    )


def candidate_groups(decision: Decision, topo: Topology) -> list[tuple[str | None, tuple[str, ...]]]:
    """(tier, endpoints) in the order the decision allows them, before health and the boundary."""
    if decision.model is not None:
        return [(None, topo.serving(decision.model))]
    if decision.tier is None:
        return []
    order = [decision.tier]
    for t in order:  # breadth-first over fallback chains, each tier once
        order.extend(f for f in topo.tiers[t].fallback if f not in order)
    return [(t, topo.tiers[t].endpoints) for t in order]


def select(decision: Decision, topo: Topology, snap: Snapshot) -> list[Attempt]:
    if decision.action == "deny":
        return []
    out: list[Attempt] = []
    seen: set[str] = set()
    for i, (tier, names) in enumerate(candidate_groups(decision, topo)):
        usable = [n for n in names if n not in seen and _usable(n, decision.allowed_trust, topo, snap)]
        for name in _rank(usable, topo, snap):
            seen.add(name)
            model = decision.model if tier is None else topo.tier_model(tier, name)
            assert model is not None
            out.append(Attempt(name, model, topo.endpoints[name].trust, tier, overflow=i > 0))
    return out
