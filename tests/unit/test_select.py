"""Table tests for select(): the boundary filter, health, fallback order, strategies, overflow."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from hybridgate.labels import DataClass, Trust
from hybridgate.policy.decide import Decision
from hybridgate.routing.select import EndpointState, Snapshot, select, waitable
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
        "self": TierInfo("self", ("v1", "v2"), "llama", ("managed", "frontier"), strategy="least_outstanding"),
        "managed": TierInfo("managed", ("m",), None, ("frontier",)),
        "frontier": TierInfo("frontier", ("x",), "gpt-4o"),
    },
)


def dec(tier: str | None = "self", allowed: set[Trust] | None = None, model: str | None = None) -> Decision:
    return Decision("route", "r", "why", DataClass.PUBLIC, frozenset(allowed or {S, D, E}), tier=tier, model=model)


def names(d: Decision, snap: Snapshot | None = None, topo: Topology = TOPO, **kw: str) -> list[str]:
    return [a.endpoint for a in select(d, topo, snap or Snapshot(), **kw)]


def with_strategy(strategy: str, affinity: bool = False) -> Topology:
    tiers = dict(TOPO.tiers)
    tiers["self"] = replace(tiers["self"], strategy=strategy, prefix_affinity=affinity)  # type: ignore[arg-type]
    return Topology(TOPO.endpoints, tiers)


def test_fallback_chain_in_order_each_endpoint_once() -> None:
    assert names(dec()) == ["v1", "v2", "m", "x"]
    attempts = select(dec(), TOPO, Snapshot())
    assert [a.overflow for a in attempts] == [False, False, True, True]
    assert [a.model for a in attempts] == ["llama", "llama", "llama-70b", "gpt-4o"]
    assert all(a.overflow_reason is None for a in attempts)


def test_boundary_filters_every_tier() -> None:
    assert names(dec(allowed={S})) == ["v1", "v2"]
    assert names(dec(allowed={S, D})) == ["v1", "v2", "m"]
    assert names(dec("frontier", allowed={S})) == []


def test_unhealthy_and_open_breakers_are_skipped_never_used_as_last_resort() -> None:
    snap = Snapshot({"v1": EndpointState(healthy=False), "v2": EndpointState(breaker="open")})
    assert names(dec(allowed={S}), snap) == []
    assert not waitable(dec(allowed={S}), TOPO, snap)
    assert names(dec(), snap) == ["m", "x"]


def test_least_loaded_first_and_full_endpoints_skipped() -> None:
    snap = Snapshot({"v1": EndpointState(in_flight=5), "v2": EndpointState(in_flight=1)})
    assert names(dec(allowed={S}), snap) == ["v2", "v1"]
    snap = Snapshot({"v1": EndpointState(in_flight=4, max_in_flight=4)})
    assert names(dec(allowed={S}), snap) == ["v2"]
    half_open_busy = Snapshot({"v2": EndpointState(in_flight=1, breaker="half_open")})
    assert names(dec(allowed={S}), half_open_busy) == ["v1"]


def test_ties_rotate_with_the_tick() -> None:
    firsts = {names(dec(allowed={S}), Snapshot(tick=t))[0] for t in range(4)}
    assert firsts == {"v1", "v2"}


def test_p2c_prefers_the_cheaper_of_two_and_spreads_ties() -> None:
    topo = with_strategy("p2c_ewma")
    slow = Snapshot({"v1": EndpointState(ewma_ms=900, in_flight=3), "v2": EndpointState(ewma_ms=50)}, seed=1)
    assert names(dec(allowed={S}), slow, topo) == ["v2", "v1"]
    firsts = Counter(names(dec(allowed={S}), Snapshot(seed=s), topo)[0] for s in range(200))
    assert set(firsts) == {"v1", "v2"}


def test_weighted_round_robin_follows_weights() -> None:
    eps = dict(TOPO.endpoints)
    eps["v1"] = replace(eps["v1"], weight=3.0)
    topo = Topology(eps, with_strategy("weighted_round_robin").tiers)
    firsts = Counter(names(dec(allowed={S}), Snapshot(tick=t), topo)[0] for t in range(40))
    assert firsts == {"v1": 30, "v2": 10}


def test_prefix_affinity_is_sticky_and_yields_to_load() -> None:
    topo = with_strategy("least_outstanding", affinity=True)
    picks = {names(dec(allowed={S}), Snapshot(tick=t), topo, affinity_key="sys-A")[0] for t in range(10)}
    assert len(picks) == 1
    (preferred,) = picks
    other = "v2" if preferred == "v1" else "v1"
    busy = Snapshot({preferred: EndpointState(in_flight=10)})
    assert names(dec(allowed={S}), busy, topo, affinity_key="sys-A")[0] == other


def test_overloaded_tier_overflows_for_public_and_waits_for_sensitive() -> None:
    hot = Snapshot({n: EndpointState(overloaded=True, load_note="42 waiting") for n in ("v1", "v2")})
    attempts = select(dec(), TOPO, hot)
    assert [a.endpoint for a in attempts] == ["m", "x"]
    assert all(a.overflow and a.overflow_reason and "42 waiting" in a.overflow_reason for a in attempts)
    assert names(dec(allowed={S}), hot) == []
    assert waitable(dec(allowed={S}), TOPO, hot)


def test_overflow_can_be_disabled_per_tier() -> None:
    tiers = dict(TOPO.tiers)
    tiers["self"] = replace(tiers["self"], overflow=False)
    hot = Snapshot({n: EndpointState(overloaded=True) for n in ("v1", "v2")})
    assert names(dec(), hot, Topology(TOPO.endpoints, tiers)) == []


def test_explicit_model_and_deny() -> None:
    assert sorted(names(dec(None, model="llama"))) == ["v1", "v2", "x"]
    assert set(names(dec(None, model="llama", allowed={S}))) == {"v1", "v2"}
    deny = Decision("deny", "r", "no", DataClass.PUBLIC, frozenset({S}))
    assert select(deny, TOPO, Snapshot()) == []
    assert not waitable(deny, TOPO, Snapshot())
