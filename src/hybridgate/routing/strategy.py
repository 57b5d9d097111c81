"""Load-balancing strategies: order one tier's usable endpoints. Pure; randomness is passed in.

- p2c_ewma (default): power of two choices on peak-EWMA latency x outstanding requests (Finagle's
  "peak EWMA"): two random candidates, the cheaper goes first; the rest follow by cost.
- least_outstanding: fewest in-flight requests per unit of weight.
- weighted_round_robin: position in a weighted cycle driven by the snapshot's tick.
Prefix affinity (rendezvous hashing of the system prompt) puts one replica first so vLLM's prefix
cache is reused, but yields when that replica is clearly busier than the least loaded one.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping

from hybridgate.routing.config import Strategy

AFFINITY_SLACK = 2  # in-flight requests the preferred replica may carry above the least loaded one


class LoadView:
    """What a strategy may read about one endpoint."""

    __slots__ = ("ewma_ms", "in_flight", "weight")

    def __init__(self, in_flight: int, ewma_ms: float, weight: float) -> None:
        self.in_flight = in_flight
        self.ewma_ms = ewma_ms
        self.weight = weight

    def cost(self) -> float:
        # An endpoint with no measurement yet looks cheap, so it gets traffic and a measurement.
        return (self.ewma_ms + 1.0) * (self.in_flight + 1) / self.weight


def _least_outstanding(names: list[str], load: Mapping[str, LoadView], tick: int) -> list[str]:
    n = max(1, len(names))
    return [
        x
        for _, x in sorted(
            enumerate(names), key=lambda p: (load[p[1]].in_flight / load[p[1]].weight, (p[0] - tick) % n)
        )
    ]


def _p2c(names: list[str], load: Mapping[str, LoadView], rng: random.Random) -> list[str]:
    by_cost = sorted(names, key=lambda x: load[x].cost())
    if len(names) < 2:
        return by_cost
    a, b = rng.sample(names, 2)
    first = a if load[a].cost() <= load[b].cost() else b
    return [first, *(x for x in by_cost if x != first)]


def _wrr(names: list[str], load: Mapping[str, LoadView], tick: int) -> list[str]:
    weights = [max(1, round(load[x].weight * 10)) for x in names]
    total = sum(weights)
    pos = tick % total
    for i, w in enumerate(weights):
        if pos < w:
            return names[i:] + names[:i]
        pos -= w
    return names


def order(
    names: list[str],
    strategy: Strategy,
    load: Mapping[str, LoadView],
    *,
    tick: int,
    rng: random.Random,
    affinity_key: str | None = None,
) -> list[str]:
    if not names:
        return []
    if strategy == "p2c_ewma":
        ordered = _p2c(names, load, rng)
    elif strategy == "least_outstanding":
        ordered = _least_outstanding(names, load, tick)
    elif strategy == "weighted_round_robin":
        ordered = _wrr(names, load, tick)
    else:
        raise KeyError(strategy)
    if affinity_key is None or len(names) < 2:
        return ordered
    preferred = max(names, key=lambda x: hashlib.blake2b(f"{affinity_key}|{x}".encode(), digest_size=8).digest())
    least = min(load[x].in_flight for x in names)
    if load[preferred].in_flight - least > AFFINITY_SLACK:
        return ordered  # the cache hit is not worth queueing behind a busy replica
    return [preferred, *(x for x in ordered if x != preferred)]
