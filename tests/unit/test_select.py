"""Table tests for select(): the boundary filter, health, fallback order, load ranking."""

from __future__ import annotations

from hybridgate.labels import DataClass, Trust
from hybridgate.policy.decide import Decision
from hybridgate.routing.select import EndpointState, Snapshot, select
from hybridgate.routing.topology import EndpointInfo, TierInfo, Topology

S, D, E = Trust.SELF_HOSTED, Trust.DEDICATED, Trust.EXTERNAL
TOPO = Topology(
    endpoints={
        "v1": EndpointInfo("v1", S, ("llama",)),
        "v2": EndpointInfo("v2", S, ("llama",)),
        "m": EndpointInfo("m", D, ("llama-70b",)),
        "x": EndpointInfo("x", E, ("gpt-4o", "llama")),
    },
    tiers={
        "self": TierInfo("self", ("v1", "v2"), "llama", ("managed", "frontier")),
        "managed": TierInfo("managed", ("m",), None, ("frontier",)),
        "frontier": TierInfo("frontier", ("x",), "gpt-4o"),
    },
)


def dec(tier: str | None = "self", allowed: set[Trust] | None = None, model: str | None = None) -> Decision:
    return Decision("route", "r", "why", DataClass.PUBLIC, frozenset(allowed or {S, D, E}), tier=tier, model=model)


def names(d: Decision, snap: Snapshot | None = None) -> list[str]:
    return [a.endpoint for a in select(d, TOPO, snap or Snapshot())]


def test_fallback_chain_in_order_each_endpoint_once() -> None:
    assert names(dec()) == ["v1", "v2", "m", "x"]
    attempts = select(dec(), TOPO, Snapshot())
    assert [a.overflow for a in attempts] == [False, False, True, True]
    assert [a.model for a in attempts] == ["llama", "llama", "llama-70b", "gpt-4o"]


def test_boundary_filters_every_tier() -> None:
    assert names(dec(allowed={S})) == ["v1", "v2"]
    assert names(dec(allowed={S, D})) == ["v1", "v2", "m"]
    assert names(dec("frontier", allowed={S})) == []


def test_unhealthy_and_open_breakers_are_skipped_never_used_as_last_resort() -> None:
    snap = Snapshot({"v1": EndpointState(healthy=False), "v2": EndpointState(breaker="open")})
    assert names(dec(allowed={S}), snap) == []
    assert names(dec(), snap) == ["m", "x"]


def test_least_loaded_first_and_full_endpoints_skipped() -> None:
    snap = Snapshot({"v1": EndpointState(in_flight=5), "v2": EndpointState(in_flight=1)})
    assert names(dec(allowed={S}), snap) == ["v2", "v1"]
    snap = Snapshot({"v1": EndpointState(in_flight=4, max_in_flight=4)})
    assert names(dec(allowed={S}), snap) == ["v2"]


def test_ties_rotate_with_the_tick() -> None:
    firsts = {names(dec(allowed={S}), Snapshot(tick=t))[0] for t in range(4)}
    assert firsts == {"v1", "v2"}


def test_explicit_model_and_deny() -> None:
    assert names(dec(None, model="llama")) == ["v1", "v2", "x"]
    assert names(dec(None, model="llama", allowed={S})) == ["v1", "v2"]
    deny = Decision("deny", "r", "no", DataClass.PUBLIC, frozenset({S}))
    assert select(deny, TOPO, Snapshot()) == []
